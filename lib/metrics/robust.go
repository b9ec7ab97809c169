package metrics

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// Robust accumulates robust accuracy, AutoAttack's way, from predictions
// on lk-attack's images: per group the clean accuracy, the accuracy left
// after each attack of the sequence (column broken_by says which attack
// broke each image) and the robust accuracy of the predictions. The
// predictions must agree with broken_by: an image no attack broke is
// classified correctly, a broken one is not; otherwise they come from
// another model than the attacked one (a transfer, which --measure
// accuracy scores) and the sequence's numbers would be wrong.
type Robust struct {
	By     []string
	groups map[string]*robustGroup
	units  *Units // non-nil: keep each row for Resample
	kept   []robustRow
}

type robustGroup struct {
	key        []string
	n, correct float64
	broken     map[string]float64
	stages     []string
}

// robustRow is one scored row, kept for resampling.
type robustRow struct {
	g    *robustGroup
	unit int32
	ok   bool
	by   string
}

// KeepRows keeps each row (its unit in u) for Resample.
func (a *Robust) KeepRows(u *Units) { a.units = u }

func (g *robustGroup) add(ok bool, by string, w float64) {
	g.n += w
	if ok {
		g.correct += w
	}
	g.broken[by] += w
}

// resampled is the accumulator had each unit u been scored w[u] times.
func (a *Robust) resampled(w []float64) *Robust {
	b := &Robust{By: a.By, groups: map[string]*robustGroup{}}
	fresh := map[*robustGroup]*robustGroup{}
	for k, g := range a.groups {
		ng := &robustGroup{key: g.key, stages: g.stages, broken: map[string]float64{}}
		b.groups[k], fresh[g] = ng, ng
	}
	for _, r := range a.kept {
		if w[r.unit] != 0 {
			fresh[r.g].add(r.ok, r.by, w[r.unit])
		}
	}
	return b
}

// NewRobust groups by the named columns.
func NewRobust(by []string) *Robust { return &Robust{By: by, groups: map[string]*robustGroup{}} }

// Add accumulates one record batch of a prediction stream.
func (a *Robust) Add(rec arrow.Record, name string) error {
	schema := rec.Schema()
	lcol, k, err := stream.Logits(schema)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	col := func(c string, t arrow.Type) (arrow.Array, error) {
		ix := schema.FieldIndices(c)
		if len(ix) != 1 {
			return nil, &GroupColumnError{Stream: name, Column: c, Have: fieldNames(schema)}
		}
		if schema.Field(ix[0]).Type.ID() != t {
			return nil, fmt.Errorf("%s: column %s is %s, want %s", name, c, schema.Field(ix[0]).Type, t)
		}
		return rec.Column(ix[0]), nil
	}
	lc, err := col(stream.ColLabel, arrow.INT32)
	if err != nil {
		return err
	}
	bc, err := col(stream.ColBrokenBy, arrow.STRING)
	if err != nil {
		return err
	}
	ac, err := col(stream.ColAttack, arrow.STRING)
	if err != nil {
		return err
	}
	labels, brokenBy, attacks := lc.(*array.Int32), bc.(*array.String), ac.(*array.String)
	ids, err := unitIDs(rec, name, a.units != nil)
	if err != nil {
		return err
	}
	rowName := rowNamer(rec)
	bycols, err := byColumns(rec, a.By, name)
	if err != nil {
		return err
	}
	vals, _, err := stream.Float32Rows(rec.Column(lcol))
	if err != nil {
		return fmt.Errorf("%s: column logits: %v", name, err)
	}
	key := make([]string, len(a.By))
	for i := 0; i < int(rec.NumRows()); i++ {
		groupKey(key, bycols, i)
		label := int(labels.Value(i))
		if labels.IsNull(i) || label < 0 || label >= k {
			return fmt.Errorf("%s: %s: label %d; robust accuracy needs a true class of the model's %d", name, rowName(i), label, k)
		}
		stages := stream.Stages(attacks.Value(i))
		if stages == nil {
			return fmt.Errorf("%s: %s: attack %q records no broken_by; --measure robust scores apgd-ce, apgd-t, square and autoattack", name, rowName(i), attacks.Value(i))
		}
		by := brokenBy.Value(i)
		if by != stream.NotBroken && by != stream.Clean && !slices.Contains(stages, by) {
			return fmt.Errorf("%s: %s: broken_by %q is none of %s, clean or %s", name, rowName(i), by, strings.Join(stages, ", "), stream.NotBroken)
		}
		ok := Rank(vals[i*k:(i+1)*k], label) == 0
		if ok != (by == stream.NotBroken) {
			state := "misclassified"
			if ok {
				state = "classified correctly"
			}
			return fmt.Errorf("%s: %s: lk-attack recorded broken_by %s, but the predictions have the image %s: are they from another model than the attacked one? (--measure accuracy scores a transfer)", name, rowName(i), by, state)
		}
		g := a.group(key)
		for _, s := range stages {
			if !slices.Contains(g.stages, s) {
				g.stages = append(g.stages, s)
			}
		}
		g.add(ok, by, 1)
		if a.units != nil {
			a.kept = append(a.kept, robustRow{g: g, unit: a.units.of(ids.Value(i)), ok: ok, by: by})
		}
	}
	return nil
}

func (a *Robust) group(key []string) *robustGroup {
	k := strings.Join(key, "\x00")
	g, ok := a.groups[k]
	if !ok {
		g = &robustGroup{key: append([]string{}, key...), broken: map[string]float64{}}
		a.groups[k] = g
	}
	return g
}

// Metric names of Robust's rows (percent): clean accuracy, accuracy left
// after each attack (RobustAfter + its name) and robust accuracy.
const (
	CleanAcc    = "clean"
	RobustAfter = "robust_after_"
	RobustAcc   = "robust"
)

// Rows returns, per group sorted by its values, the clean accuracy, the
// accuracy left after each attack in sequence order, and the robust
// accuracy.
func (a *Robust) Rows() ([]Row, error) {
	gs := make([]*robustGroup, 0, len(a.groups))
	for _, g := range a.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(gs[i].key, gs[j].key) })
	var rows []Row
	for _, g := range gs {
		n, N := g.n, int64(g.n)
		if n == 0 {
			continue // a resample without this group's images
		}
		left := g.n - g.broken[stream.Clean]
		rows = append(rows, Row{Group: g.key, Metric: CleanAcc, Value: 100 * left / n, N: N})
		for _, s := range g.stages {
			left -= g.broken[s]
			rows = append(rows, Row{Group: g.key, Metric: RobustAfter + s, Value: 100 * left / n, N: N})
		}
		rows = append(rows, Row{Group: g.key, Metric: RobustAcc, Value: 100 * g.correct / n, N: N})
	}
	return rows, nil
}
