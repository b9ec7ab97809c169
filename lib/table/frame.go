package table

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/stream"
)

// Frame is a typed table whose columns are strings, integers or floats:
// per-layer and per-channel results (lk-attn-dist, lk-featvar) that a
// plot reads as numbers, not as group labels.
type Frame struct {
	cols []Column
	rows [][]any
}

// Column is a column of a Frame: Type is String, Int or Float.
type Column struct {
	Name string
	Type arrow.DataType
}

// Column types.
var (
	String = arrow.BinaryTypes.String
	Int    = arrow.PrimitiveTypes.Int64
	Float  = arrow.PrimitiveTypes.Float64
)

// NewFrame starts an empty table with the given columns.
func NewFrame(cols ...Column) *Frame { return &Frame{cols: cols} }

// Add appends a row: one string, int or float64 per column, in order.
func (f *Frame) Add(vals ...any) {
	if len(vals) != len(f.cols) {
		panic(fmt.Sprintf("table: row of %d values for %d columns", len(vals), len(f.cols)))
	}
	f.rows = append(f.rows, vals)
}

// Len is the number of rows.
func (f *Frame) Len() int { return len(f.rows) }

// maxRecordRows bounds the rows per Arrow record, so that a reader never
// holds a huge record at once.
const maxRecordRows = 1 << 14

// Write writes the table as an Arrow table stream with metadata md, or as
// text, markdown or CSV.
func (f *Frame) Write(w io.Writer, format string, md arrow.Metadata) error {
	return write(w, format, func() error { return f.writeArrow(w, md) }, func() ([]string, [][]string) {
		header := make([]string, len(f.cols))
		for i, c := range f.cols {
			header[i] = c.Name
		}
		lines := make([][]string, len(f.rows))
		for i, r := range f.rows {
			for _, v := range r {
				lines[i] = append(lines[i], cell(v))
			}
		}
		return header, lines
	})
}

func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	return fmt.Sprint(v)
}

func (f *Frame) writeArrow(w io.Writer, md arrow.Metadata) error {
	schema := f.schema(md)
	wr, err := stream.NewWriter(w, schema)
	if err != nil {
		return err
	}
	if err := f.writeRecords(wr, schema, len(f.rows) == 0); err != nil {
		return err
	}
	return wr.Close()
}

func (f *Frame) schema(md arrow.Metadata) *arrow.Schema {
	fields := make([]arrow.Field, len(f.cols))
	for i, c := range f.cols {
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type}
	}
	md = stream.TableMeta(md)
	return arrow.NewSchema(fields, &md)
}

// writeRecords writes the rows as records of at most maxRecordRows (one
// empty record for no rows when empty is set).
func (f *Frame) writeRecords(wr *stream.Writer, schema *arrow.Schema, empty bool) error {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for start := 0; start < len(f.rows) || start == 0 && empty; start += maxRecordRows {
		for _, r := range f.rows[start:min(start+maxRecordRows, len(f.rows))] {
			for j, v := range r {
				switch fb := b.Field(j).(type) {
				case *array.StringBuilder:
					fb.Append(v.(string))
				case *array.Int64Builder:
					fb.Append(int64(v.(int)))
				case *array.Float64Builder:
					fb.Append(v.(float64))
				}
			}
		}
		rec := b.NewRecord()
		err := wr.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
		if len(f.rows) == 0 {
			break
		}
	}
	return nil
}

// Stream writes a typed table as its rows arrive, for per-row results of
// streams of any length: Arrow records and CSV lines go out at every
// Flush; aligned text and markdown, which are laid out over the whole
// table, at Close.
type Stream struct {
	*Frame
	w       io.Writer
	format  string
	md      arrow.Metadata
	aw      *stream.Writer
	schema  *arrow.Schema
	started bool // a CSV header or an Arrow record is out
}

// NewStream starts a table of the given columns going out to w.
func NewStream(w io.Writer, format string, md arrow.Metadata, cols ...Column) *Stream {
	return &Stream{Frame: NewFrame(cols...), w: w, format: format, md: md}
}

// Flush writes the rows added since the last Flush, where the format
// allows it.
func (s *Stream) Flush() error {
	switch s.format {
	case "arrow":
		if s.aw == nil {
			var err error
			s.schema = s.Frame.schema(s.md)
			if s.aw, err = stream.NewWriter(s.w, s.schema); err != nil {
				return err
			}
		}
		if len(s.rows) == 0 {
			return nil
		}
		err := s.writeRecords(s.aw, s.schema, false)
		s.rows, s.started = s.rows[:0], true
		return err
	case "csv":
		cw := csv.NewWriter(s.w)
		if !s.started {
			var header []string
			for _, c := range s.cols {
				header = append(header, c.Name)
			}
			cw.Write(header)
			s.started = true
		}
		for _, r := range s.rows {
			var line []string
			for _, v := range r {
				line = append(line, cell(v))
			}
			cw.Write(line)
		}
		cw.Flush()
		s.rows = s.rows[:0]
		return cw.Error()
	}
	return nil
}

// Close writes what is left and ends the table.
func (s *Stream) Close() error {
	switch s.format {
	case "arrow", "csv":
		if err := s.Flush(); err != nil {
			return err
		}
		if s.aw == nil {
			return nil
		}
		if !s.started { // no rows: one empty record, as Frame.Write writes
			if err := s.writeRecords(s.aw, s.schema, true); err != nil {
				return err
			}
		}
		return s.aw.Close()
	}
	return s.Frame.Write(s.w, s.format, s.md)
}
