// Package table writes long-form results (group values, metric, value, n)
// as an Arrow table stream, or pivoted for people: one row per group and
// one column per metric, as aligned text, markdown or CSV.
package table

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/stream"
)

// Row is one result: the group's values (in the order of By), a metric
// name and its value.
type Row struct {
	Group  []string
	Metric string
	Value  float64
	N      int64
}

// Formats lists the accepted formats.
const Formats = "arrow, text, markdown, csv"

// Format is the format a table goes out in: format when given (checked),
// else text on a terminal and an Arrow stream otherwise.
func Format(format string, stdout io.Writer) (string, error) {
	switch format {
	case "arrow", "text", "markdown", "csv":
		return format, nil
	case "":
		if stream.IsTerminal(stdout) {
			return "text", nil
		}
		return "arrow", nil
	}
	return "", fmt.Errorf("%q: want one of %s", format, Formats)
}

// Write writes rows grouped by the columns by in the given format.
func Write(w io.Writer, format string, by []string, rows []Row, md arrow.Metadata) error {
	return write(w, format, func() error { return writeArrow(w, by, rows, md) },
		func() ([]string, [][]string) {
			return pivot(by, len(rows), true, func(i int) ([]string, string, string, int64) {
				r := rows[i]
				return r.Group, r.Metric, FormatValue(r.Metric, r.Value), r.N
			})
		})
}

// FormatValue is how people read a value: two decimals (percentages,
// nats), but p-values (metrics ending in .p or .p_holm) to three
// significant digits, since 0.0004 is not 0.00.
func FormatValue(metric string, v float64) string {
	if strings.HasSuffix(metric, ".p") || strings.HasSuffix(metric, ".p_holm") {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// write is the one switch over formats: an Arrow table stream, or the
// header and lines as text, markdown or CSV.
func write(w io.Writer, format string, arrowFn func() error, cells func() ([]string, [][]string)) error {
	switch format {
	case "arrow":
		return arrowFn()
	case "text", "markdown", "csv":
		header, lines := cells()
		return writeCells(w, format, header, lines)
	}
	return fmt.Errorf("format %q: want one of %s", format, Formats)
}

func writeArrow(w io.Writer, by []string, rows []Row, md arrow.Metadata) error {
	schema := stream.TableSchema(by, md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for j := range by {
			b.Field(j).(*array.StringBuilder).Append(r.Group[j])
		}
		b.Field(len(by)).(*array.StringBuilder).Append(r.Metric)
		b.Field(len(by) + 1).(*array.Float64Builder).Append(r.Value)
		b.Field(len(by) + 2).(*array.Int64Builder).Append(r.N)
	}
	rec := b.NewRecord()
	defer rec.Release()
	wr, err := stream.NewWriter(w, schema)
	if err != nil {
		return err
	}
	if err := wr.Write(rec); err != nil {
		return err
	}
	return wr.Close()
}

// pivot lays long rows out wide, the one rule for every table a person
// reads: a line per group in first-seen order, a column per metric in
// first-seen order, "" where a group lacks a metric, and with withN an n
// column after the group columns holding the group's largest n. row(i)
// gives long row i.
func pivot(by []string, rows int, withN bool, row func(i int) (group []string, metric, value string, n int64)) (header []string, lines [][]string) {
	var metrics []string
	col := map[string]int{}
	type line struct {
		key  []string
		n    int64
		vals map[string]string
	}
	var order []*line
	byKey := map[string]*line{}
	for i := 0; i < rows; i++ {
		g, m, v, n := row(i)
		if _, ok := col[m]; !ok {
			col[m] = len(metrics)
			metrics = append(metrics, m)
		}
		k := strings.Join(g, "\x00")
		l, ok := byKey[k]
		if !ok {
			l = &line{key: g, vals: map[string]string{}}
			byKey[k] = l
			order = append(order, l)
		}
		l.vals[m] = v
		l.n = max(l.n, n)
	}
	header = append([]string{}, by...)
	if withN {
		header = append(header, stream.ColCount)
	}
	header = append(header, metrics...)
	for _, l := range order {
		cells := append([]string{}, l.key...)
		if withN {
			cells = append(cells, strconv.FormatInt(l.n, 10))
		}
		for _, m := range metrics {
			cells = append(cells, l.vals[m])
		}
		lines = append(lines, cells)
	}
	return header, lines
}

// mdCell escapes a value for a Markdown table cell: a | would end the
// cell and a line break the row.
var mdCell = strings.NewReplacer(`\`, `\\`, "|", `\|`, "\r\n", "<br>", "\n", "<br>", "\r", "<br>")

// textCell keeps a value on its line and in its column of aligned text.
var textCell = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

func escaped(cells []string, r *strings.Replacer) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = r.Replace(c)
	}
	return out
}

// writeCells writes a header and lines as CSV, markdown or aligned text.
func writeCells(w io.Writer, format string, header []string, lines [][]string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(lines)
		return cw.Error()
	case "markdown":
		fmt.Fprintf(w, "| %s |\n", strings.Join(escaped(header, mdCell), " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
		for _, l := range lines {
			if _, err := fmt.Fprintf(w, "| %s |\n", strings.Join(escaped(l, mdCell), " | ")); err != nil {
				return err
			}
		}
		return nil
	}
	header = escaped(header, textCell)
	for i, l := range lines {
		lines[i] = escaped(l, textCell)
	}
	// Right-aligned columns two spaces apart; the padding tabwriter puts
	// before the first column is dropped.
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, l := range lines {
		fmt.Fprintln(tw, strings.Join(l, "\t")+"\t")
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if _, err := io.WriteString(w, strings.TrimPrefix(line, "  ")); err != nil {
			return err
		}
	}
	return nil
}
