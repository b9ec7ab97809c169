package table

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/stream"
)

// Cells is a table stream read as text cells: columns by name, rows in
// stream order, for plotting and joining. Long-form metric tables
// (columns metric and value, as lk-metrics writes) are pivoted to one
// column per metric, by the rule the text formats use.
type Cells struct {
	Name  string // where it came from, for errors
	Names []string
	cols  map[string][]string
	rows  int
}

// Rows is the number of rows.
func (t *Cells) Rows() int { return t.rows }

// ReadCells reads every record of r.
func ReadCells(r *stream.Reader) (*Cells, error) {
	s := r.Schema()
	t := &Cells{Name: r.Name(), cols: map[string][]string{}}
	for _, f := range s.Fields() {
		switch f.Type.ID() {
		case arrow.STRING, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
			arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL:
			t.Names = append(t.Names, f.Name)
		}
	}
	for r.Next() {
		rec := r.Record()
		for _, name := range t.Names {
			c := rec.Column(s.FieldIndices(name)[0])
			for i := 0; i < c.Len(); i++ {
				v := ""
				if c.IsValid(i) {
					v = c.ValueStr(i)
				}
				t.cols[name] = append(t.cols[name], v)
			}
		}
		t.rows += int(rec.NumRows())
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if t.Has(stream.ColMetric) && t.Has(stream.ColValue) {
		return t.pivot(), nil
	}
	return t, nil
}

// pivot turns (group..., metric, value, n) rows into one row per group
// with a column per metric; n is left out.
func (t *Cells) pivot() *Cells {
	var by []string
	for _, n := range t.Names {
		if n != stream.ColMetric && n != stream.ColValue && n != stream.ColCount {
			by = append(by, n)
		}
	}
	metric, value := t.cols[stream.ColMetric], t.cols[stream.ColValue]
	header, lines := pivot(by, t.rows, false, func(i int) ([]string, string, string, int64) {
		g := make([]string, len(by))
		for j, k := range by {
			g[j] = t.cols[k][i]
		}
		return g, metric[i], value[i], 0
	})
	out := &Cells{Name: t.Name, Names: header, cols: map[string][]string{}, rows: len(lines)}
	for j, n := range header {
		col := make([]string, len(lines))
		for i, l := range lines {
			col[i] = l[j]
		}
		out.cols[n] = col
	}
	return out
}

// Has reports whether the table has the column.
func (t *Cells) Has(name string) bool {
	_, ok := t.cols[name]
	return ok
}

// need is the error for a missing column: it names the columns there are.
func (t *Cells) need(name, what string) error {
	if t.Has(name) {
		return nil
	}
	return &ColumnError{Table: t.Name, Column: name, Role: what, Row: -1, Have: t.Names}
}

// ColumnError is a column that a role of the spec names (Role: x, y, z,
// series, label, where, join, minus; "x categories", "minus key")
// and that the table lacks (Row -1), or whose cell at Row is not a number.
type ColumnError struct {
	Table, Column, Role string
	Row                 int
	Value               string
	Have                []string
}

func (e *ColumnError) Error() string { return e.Describe("the " + e.Role + " column") }

// Describe is the error with the role called what (a main names its flag).
func (e *ColumnError) Describe(what string) string {
	if e.Row < 0 {
		return fmt.Sprintf("%s: no column %q for %s (columns: %s)", e.Table, e.Column, what, strings.Join(e.Have, ", "))
	}
	if v, err := strconv.ParseFloat(e.Value, 64); err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return fmt.Sprintf("%s: row %d, column %q (%s): %s is not a finite number: a figure would leave it out and join its neighbours, or break its axes (leave the row out with --where, or compute it)", e.Table, e.Row, e.Column, what, e.Value)
	}
	return fmt.Sprintf("%s: row %d, column %q (%s): %q is not a number", e.Table, e.Row, e.Column, what, e.Value)
}

// Strings returns a column's cells.
func (t *Cells) Strings(name, what string) ([]string, error) {
	if err := t.need(name, what); err != nil {
		return nil, err
	}
	return t.cols[name], nil
}

// Floats returns a column as numbers, NaN for empty cells (a metric a
// pivoted row lacks); a cell that is not a finite number (NaN and the
// infinities included) is an error naming its row.
func (t *Cells) Floats(name, what string) ([]float64, error) {
	s, err := t.Strings(name, what)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(s))
	for i, v := range s {
		if v == "" {
			out[i] = math.NaN()
			continue
		}
		if out[i], err = strconv.ParseFloat(v, 64); err != nil || math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
			return nil, &ColumnError{Table: t.Name, Column: name, Role: what, Row: i, Value: v, Have: t.Names}
		}
	}
	return out, nil
}

// Where keeps the rows whose column equals the value, for each
// "column=value" condition.
func (t *Cells) Where(conds []string) (*Cells, error) {
	keep := make([]bool, t.rows)
	for i := range keep {
		keep[i] = true
	}
	for _, c := range conds {
		k, v, ok := strings.Cut(c, "=")
		if !ok {
			return nil, fmt.Errorf("condition %q: want column=value", c)
		}
		col, err := t.Strings(k, "where")
		if err != nil {
			return nil, err
		}
		for i, x := range col {
			keep[i] = keep[i] && x == v
		}
	}
	out := &Cells{Name: t.Name, Names: t.Names, cols: map[string][]string{}}
	for i, k := range keep {
		if !k {
			continue
		}
		for _, n := range t.Names {
			out.cols[n] = append(out.cols[n], t.cols[n][i])
		}
		out.rows++
	}
	if out.rows == 0 {
		return nil, fmt.Errorf("%s: no rows match %s", t.Name, strings.Join(conds, ","))
	}
	return out, nil
}

// Append adds the rows of u (same columns) to t: several files plotted
// together.
func (t *Cells) Append(u *Cells) error {
	if strings.Join(t.Names, ",") != strings.Join(u.Names, ",") {
		return fmt.Errorf("%s has columns %s but %s has %s; plot tables of one kind together", u.Name, strings.Join(u.Names, ","), t.Name, strings.Join(t.Names, ","))
	}
	for _, n := range t.Names {
		t.cols[n] = append(t.cols[n], u.cols[n]...)
	}
	t.rows += u.rows
	return nil
}

// Join adds u's columns to t, matching rows on the key column (lk-summary's
// parameters beside lk-metrics' accuracy, both by model). Rows of t with no
// match get empty cells; a key twice in u is an error.
func (t *Cells) Join(u *Cells, key string) error {
	tk, err := t.Strings(key, "join")
	if err != nil {
		return err
	}
	uk, err := u.Strings(key, "join")
	if err != nil {
		return err
	}
	at := map[string]int{}
	for i, k := range uk {
		if _, dup := at[k]; dup {
			return fmt.Errorf("%s: %s %q is on more than one row; a join needs one row per key", u.Name, key, k)
		}
		at[k] = i
	}
	for _, n := range u.Names {
		if n == key {
			continue
		}
		if t.Has(n) {
			return fmt.Errorf("%s and %s both have a column %q; a join needs them apart", t.Name, u.Name, n)
		}
		col := make([]string, t.rows)
		for i, k := range tk {
			if j, ok := at[k]; ok {
				col[i] = u.cols[n][j]
			}
		}
		t.Names = append(t.Names, n)
		t.cols[n] = col
	}
	return nil
}

// Minus subtracts from column y, row by row, the y of base's row with the
// same values in the key columns (the clean accuracy of each model, to plot
// a drop; with model and seed, each seed's own). A key missing from base,
// or on more than one of its rows (which one to subtract?), is an error
// naming it.
func (t *Cells) Minus(base *Cells, y string, key []string) error {
	ys, err := t.Floats(y, "y")
	if err != nil {
		return err
	}
	bys, err := base.Floats(y, "minus")
	if err != nil {
		return err
	}
	keys, err := t.keys(key)
	if err != nil {
		return err
	}
	bkeys, err := base.keys(key)
	if err != nil {
		return err
	}
	name := strings.Join(key, ",")
	ref := map[string]float64{}
	for i, k := range bkeys {
		if _, dup := ref[k]; dup {
			return fmt.Errorf("%s: %s %q is on more than one row; say which columns tell them apart (lk-plot --minus-by)", base.Name, name, shown(k))
		}
		ref[k] = bys[i]
	}
	for i, k := range keys {
		b, ok := ref[k]
		if !ok {
			return fmt.Errorf("%s: no row with %s %q to subtract", base.Name, name, shown(k))
		}
		if !math.IsNaN(ys[i]) {
			t.cols[y][i] = strconv.FormatFloat(ys[i]-b, 'g', -1, 64)
		}
	}
	return nil
}

// keySep joins the values of a row's key columns: a byte no cell of a
// table holds, so that values with commas in them cannot collide.
const keySep = "\x1f"

// keys returns each row's values of the named columns, joined by keySep.
func (t *Cells) keys(names []string) ([]string, error) {
	out := make([]string, t.rows)
	for j, n := range names {
		col, err := t.Strings(n, "minus key")
		if err != nil {
			return nil, err
		}
		for i, v := range col {
			if j > 0 {
				out[i] += keySep
			}
			out[i] += v
		}
	}
	return out, nil
}

// shown is a key as an error shows it: values joined by commas.
func shown(k string) string { return strings.ReplaceAll(k, keySep, ",") }
