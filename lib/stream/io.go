package stream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"golang.org/x/term"
)

// eosMarker is the Arrow IPC end-of-stream marker: continuation token and
// a zero length. A writer emits it on Close, so a stream that ends without
// it was cut short (the producer died or was killed).
var eosMarker = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// tailReader remembers the last 8 bytes that passed through it.
type tailReader struct {
	r    io.Reader
	tail [8]byte
	n    int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= 8 {
		copy(t.tail[:], p[n-8:n])
	} else if n > 0 {
		copy(t.tail[:], t.tail[n:])
		copy(t.tail[8-n:], p[:n])
	}
	t.n += int64(n)
	return n, err
}

// Reader reads an Arrow IPC stream and reports a stream that ends without
// the end-of-stream marker as truncated rather than as a short, complete
// looking stream. Streams written one after another (`cat shard*.arrow`)
// are read as one: each that follows must have the first's columns, and
// bytes after an end-of-stream marker that are not such a stream are an
// error naming their offset, never ignored. Schema is the first stream's
// (its metadata and provenance).
type Reader struct {
	*ipc.Reader
	name    string
	br      *bufio.Reader
	guard   *messageGuard // checks each message's framing before Arrow reads it
	tail    *tailReader
	rows    int64
	schema  *arrow.Schema
	streams int   // streams read so far
	err     error // a following stream refused
}

// NewReader opens the Arrow IPC stream in r; name (a file name or "stdin")
// appears in errors.
func NewReader(r io.Reader, name string) (*Reader, error) {
	widenPipe(r)
	br := bufio.NewReaderSize(r, 64<<10) // large bodies bypass the buffer
	head, err := readSchemaMessage(br, name)
	if err != nil {
		return nil, err
	}
	guard := &messageGuard{r: br}
	t := &tailReader{r: io.MultiReader(bytes.NewReader(head), guard)}
	rd, err := ipc.NewReader(t, ipc.WithAllocator(boundedAllocator), ipc.WithEnsureNativeEndian(true))
	if err != nil {
		if t.n == 0 {
			return nil, fmt.Errorf("%s: empty input, expected an Arrow IPC stream (did the previous command in the pipeline fail?)", name)
		}
		return nil, fmt.Errorf("%s: not an Arrow IPC stream: %v", name, err)
	}
	return &Reader{Reader: rd, name: name, br: br, guard: guard, tail: t, schema: rd.Schema(), streams: 1}, nil
}

// Schema is the first stream's schema.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// next opens the stream that follows a clean end of stream, if any bytes
// follow; it reports whether one was opened.
func (r *Reader) next() bool {
	if _, err := r.br.Peek(1); err != nil {
		return false // the end of the input
	}
	off := r.tail.n
	head, err := readSchemaMessage(r.br, r.name)
	if err != nil {
		r.err = fmt.Errorf("%s: %d rows, then at byte %d bytes that are not another Arrow IPC stream (%v): a stream was cut and something else appended?", r.name, r.rows, off, err)
		return false
	}
	r.tail.r = io.MultiReader(bytes.NewReader(head), r.guard)
	r.tail.n = off
	rd, err := ipc.NewReader(r.tail, ipc.WithAllocator(boundedAllocator), ipc.WithEnsureNativeEndian(true))
	if err != nil {
		r.err = fmt.Errorf("%s: the stream starting at byte %d (after %d rows): %v", r.name, off, r.rows, err)
		return false
	}
	if !sameFields(rd.Schema(), r.schema) {
		r.err = fmt.Errorf("%s: the stream starting at byte %d has columns %s, the first one %s: only streams of the same columns can be read as one",
			r.name, off, columnNames(rd.Schema()), columnNames(r.schema))
		rd.Release()
		return false
	}
	if k, a, b, ok := sameMeaning(rd.Schema().Metadata(), r.schema.Metadata()); !ok {
		r.err = fmt.Errorf("%s: the stream starting at byte %d has %s %q, the first one %q: streams read as one must mean the same (label space, classes, key, ...); only their provenance and counts may differ",
			r.name, off, k, a, b)
		rd.Release()
		return false
	}
	r.Reader.Release()
	r.Reader = rd
	r.streams++
	return true
}

// perShard are the metadata keys that differ between the shards of one
// run (their commands and row counts); every other key says what the
// rows mean (label space, class groups, key, image shape) and must agree.
var perShard = map[string]bool{MetaProvenance: true, MetaRows: true, MetaSkipped: true}

// sameMeaning compares two streams' metadata but for perShard keys,
// returning the first key that differs and its two values.
func sameMeaning(a, b arrow.Metadata) (key, va, vb string, ok bool) {
	keys := map[string]bool{}
	for _, k := range append(a.Keys(), b.Keys()...) {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		if !perShard[k] {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		x, _ := a.GetValue(k)
		y, _ := b.GetValue(k)
		if x != y {
			return k, x, y, false
		}
	}
	return "", "", "", true
}

// sameFields reports whether two schemas have the same columns (names and
// types, in order), whatever their metadata.
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

// maxSchemaBytes bounds the first message: an lk schema with its metadata
// is a few KiB, and the bound keeps a file that is not a stream from
// making the reader allocate gigabytes for a "length" that is really text.
const maxSchemaBytes = 64 << 20

// checkStart looks at the first message's length prefix before the Arrow
// reader trusts it.
func checkStart(br *bufio.Reader, name string) error {
	head, err := br.Peek(8)
	if len(head) == 0 {
		return fmt.Errorf("%s: empty input, expected an Arrow IPC stream (did the previous command in the pipeline fail?)", name)
	}
	if err != nil && len(head) < 8 {
		return fmt.Errorf("%s: not an Arrow IPC stream (%d bytes)", name, len(head))
	}
	n := binary.LittleEndian.Uint32(head[:4])
	if n == 0xffffffff { // continuation marker, then the length
		n = binary.LittleEndian.Uint32(head[4:])
	}
	if n == 0 || n > maxSchemaBytes {
		return fmt.Errorf("%s: not an Arrow IPC stream (it starts with %q)", name, printable(head))
	}
	return nil
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 32 || c > 126 {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// Next advances to the next record batch. After it returns false, Err tells
// whether the stream ended cleanly.
func (r *Reader) Next() bool {
	for {
		if r.Reader.Next() {
			if err := validRecord(r.Reader.Record()); err != nil {
				r.err = fmt.Errorf("%s: the record batch after row %d: %v", r.name, r.rows, err)
				return false
			}
			r.rows += r.Reader.Record().NumRows()
			return true
		}
		// a clean end of stream may be followed by another stream
		if r.err != nil || r.Reader.Err() != nil || !bytes.Equal(r.tail.tail[:], eosMarker) || !r.next() {
			return false
		}
	}
}

// Err returns the error that stopped Next, including truncation.
func (r *Reader) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.Reader.Err(); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: stream truncated after %d rows (%v)", r.name, r.rows, err)
		}
		return fmt.Errorf("%s: after %d rows: %v", r.name, r.rows, err)
	}
	if !bytes.Equal(r.tail.tail[:], eosMarker) {
		return fmt.Errorf("%s: stream truncated after %d rows: no end-of-stream marker (the producer stopped early)", r.name, r.rows)
	}
	return nil
}

// Name is the name given to NewReader.
func (r *Reader) Name() string { return r.name }

// Writer writes one Arrow IPC stream through a buffer.
type Writer struct {
	buf *bufio.Writer
	w   *ipc.Writer
}

// NewWriter starts an Arrow IPC stream with schema on w. It refuses a
// terminal: binary output there is never what the user wanted.
func NewWriter(w io.Writer, schema *arrow.Schema) (*Writer, error) {
	if err := RefuseTerminal(w); err != nil {
		return nil, err
	}
	widenPipe(w)
	buf := bufio.NewWriterSize(w, 64<<10) // large buffers bypass it
	return &Writer{buf: buf, w: ipc.NewWriter(buf, ipc.WithSchema(schema), ipc.WithAllocator(boundedAllocator))}, nil
}

// Write writes one record batch.
func (w *Writer) Write(rec arrow.Record) error { return w.w.Write(rec) }

// Close writes the end-of-stream marker and flushes. A stream is complete
// only after Close returns nil.
func (w *Writer) Close() error {
	if err := w.w.Close(); err != nil {
		return err
	}
	return w.buf.Flush()
}

// RefuseTerminal returns an error when w is a terminal.
func RefuseTerminal(w io.Writer) error {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return errors.New("refusing to write a binary Arrow stream to a terminal; pipe it into another lk tool or redirect it to a file (e.g. > out.arrow)")
	}
	return nil
}

// IsTerminal reports whether v (a reader or writer) is a terminal.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Float32List wraps vals (rows*width values, row-major) as a
// FixedSizeList<float32>[width] array without copying.
func Float32List(vals []float32, width int) arrow.Array {
	rows := len(vals) / width
	buf := memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(vals))
	child := array.NewData(arrow.PrimitiveTypes.Float32, len(vals), []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer child.Release()
	data := array.NewData(arrow.FixedSizeListOf(int32(width), arrow.PrimitiveTypes.Float32), rows,
		[]*memory.Buffer{nil}, []arrow.ArrayData{child}, 0, 0)
	defer data.Release()
	return array.NewFixedSizeListData(data)
}

// Float32Rows returns the values of a FixedSizeList<float32> column as one
// slice of rows*width values, without copying.
func Float32Rows(col arrow.Array) ([]float32, int, error) {
	l, ok := col.(*array.FixedSizeList)
	if !ok {
		return nil, 0, fmt.Errorf("column is %s, want fixed_size_list<float32>", col.DataType())
	}
	width := int(l.DataType().(*arrow.FixedSizeListType).Len())
	vals, ok := l.ListValues().(*array.Float32)
	if !ok {
		return nil, 0, fmt.Errorf("column holds %s values, want float32", l.ListValues().DataType())
	}
	if l.NullN() > 0 {
		return nil, 0, fmt.Errorf("column has %d null rows", l.NullN())
	}
	all := vals.Float32Values()
	start := l.Data().Offset() * width
	end := start + l.Len()*width
	if end > len(all) {
		return nil, 0, fmt.Errorf("column is shorter than its %d rows of %d values", l.Len(), width)
	}
	return all[start:end], width, nil
}

// WithColumns returns a record with rec's columns followed by cols, under
// schema (which must list them in that order).
func WithColumns(schema *arrow.Schema, rec arrow.Record, cols ...arrow.Array) arrow.Record {
	all := append(append([]arrow.Array{}, rec.Columns()...), cols...)
	return array.NewRecord(schema, all, rec.NumRows())
}

// WithImage returns rec with its image column replaced by px (rows of
// width values) and cols appended, under schema (rec's fields, then one
// per appended column): what a tool that transforms images writes.
func WithImage(schema *arrow.Schema, rec arrow.Record, imageCol int, px []float32, width int, cols ...arrow.Array) arrow.Record {
	img := Float32List(px, width)
	defer img.Release()
	all := make([]arrow.Array, 0, schema.NumFields())
	for i := 0; i < int(rec.NumCols()); i++ {
		if i == imageCol {
			all = append(all, img)
		} else {
			all = append(all, rec.Column(i))
		}
	}
	return array.NewRecord(schema, append(all, cols...), rec.NumRows())
}

// ConstString, ConstInt64 and ConstFloat64 are columns of n copies of v:
// the condition columns (model, corruption, severity, eps) of a record.
func ConstString(v string, n int) arrow.Array {
	return constArray(array.NewStringBuilder(memory.DefaultAllocator), v, n)
}

func ConstInt64(v int64, n int) arrow.Array {
	return constArray(array.NewInt64Builder(memory.DefaultAllocator), v, n)
}

func ConstFloat64(v float64, n int) arrow.Array {
	return constArray(array.NewFloat64Builder(memory.DefaultAllocator), v, n)
}

func constArray[T any, B interface {
	Append(T)
	NewArray() arrow.Array
	Release()
}](b B, v T, n int) arrow.Array {
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Append(v)
	}
	return b.NewArray()
}

// Runs returns the maximal runs of rec's rows that keep selects, as slices
// of rec that the caller releases: a row filter that copies no column.
func Runs(rec arrow.Record, keep func(row int) bool) []arrow.Record {
	var out []arrow.Record
	start, n := -1, int(rec.NumRows())
	for i := 0; i <= n; i++ {
		in := i < n && keep(i)
		if in && start < 0 {
			start = i
		}
		if !in && start >= 0 {
			out = append(out, rec.NewSlice(int64(start), int64(i)))
			start = -1
		}
	}
	return out
}

// Transformer is the frame of the tools that write each input record once
// per condition, images replaced and condition columns appended (lk-render,
// lk-fft-noise, lk-occlude, lk-corrupt, lk-attack): the image columns
// checked, the columns computed from the old pixels dropped, the row count
// and provenance carried, the records read and their pixels handed over,
// and with a resumed output the records already written skipped.
type Transformer struct {
	Cols   ImageColumns
	Schema *arrow.Schema
	Total  int64 // rows the output will have, when the input says (0: unknown)
	// Row is the number of input rows before the record being handed
	// over, skipped ones included: for tools whose randomness follows
	// the row number.
	Row int64
	// Count, when set, hears the rows each Write adds and Done at the
	// end: every image tool's progress line counts output rows the same
	// way (lib/progress's Meter).
	Count  Counter
	r      *Reader
	out    *Output
	keep   []int // the input columns kept
	in     *arrow.Schema
	inKey  *Keyer // the input's key over the records as read, for skipping resumed rows
	copies int
}

// NewTransformer checks r as an image stream and opens the output: r's
// schema less its derived columns (Invalidate, said once on out.Log), with
// extra appended and step added, its row count times copies (copies <= 0:
// unknown, dropped).
func NewTransformer(r *Reader, out OutputOptions, step Step, copies int, extra ...arrow.Field) (*Transformer, error) {
	in, keep, dropped := Invalidate(r.Schema())
	if len(dropped) > 0 && out.Log != nil {
		fmt.Fprintf(out.Log, "%s: %s: dropping column %s: computed from the pixels this tool changes\n",
			step.Tool, r.Name(), strings.Join(dropped, ", "))
	}
	if len(dropped) == 0 {
		keep = nil
	}
	cols, err := Images(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	// the key of the kept columns, located in the records as they are
	// read (before the derived columns are dropped)
	inKey, err := keyer(r.Schema(), Key(in))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	md := in.Metadata()
	var total int64
	if v, ok := md.GetValue(MetaRows); ok {
		if n, err := strconv.Atoi(v); err == nil && copies > 0 {
			total = int64(n * copies)
			md = WithMeta(md, MetaRows, strconv.FormatInt(total, 10))
		} else {
			md = WithoutMeta(md, MetaRows)
		}
	}
	if md, err = AddStep(md, step); err != nil {
		return nil, err
	}
	schema, err := Append(in, md, extra...)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	out.InputKey = len(inKey.Names)
	o, err := Create(schema, out)
	if err != nil {
		return nil, err
	}
	if o.Resumed() > 0 && out.Log != nil {
		fmt.Fprintf(out.Log, "%s: resuming %s: %d rows already there are kept\n", step.Tool, out.Path, o.Resumed())
	}
	return &Transformer{Cols: cols, Schema: schema, Total: total, r: r, out: o, keep: keep, in: in, inKey: inKey, copies: copies}, nil
}

// Each calls fn with every non-empty record, its pixels and its number of
// rows, then closes the output once the input ended cleanly.
func (t *Transformer) Each(fn func(rec arrow.Record, px []float32, n int) error) error {
	return t.EachThen(fn, nil)
}

// EachThen is Each with a last step, run after the input ended cleanly and
// before the output closes: for tools that write only once they have seen
// every record. A failed run leaves its output without the end-of-stream
// marker, so that it reads as truncated.
func (t *Transformer) EachThen(fn func(rec arrow.Record, px []float32, n int) error, then func() error) error {
	defer t.out.Abort()
	for t.r.Next() {
		rec := t.r.Record()
		n := int(rec.NumRows())
		if n == 0 {
			continue
		}
		if t.done(rec, n) {
			t.Row += int64(n)
			continue
		}
		if t.keep != nil {
			rec = Project(t.in, rec, t.keep)
		} else {
			rec.Retain()
		}
		px, _, err := Float32Rows(rec.Column(t.Cols.Image))
		if err != nil {
			rec.Release()
			return fmt.Errorf("%s: column image: %v", t.r.Name(), err)
		}
		err = fn(rec, px, n)
		rec.Release()
		if err != nil {
			return err
		}
		t.Row += int64(n)
	}
	if err := t.r.Err(); err != nil {
		return err
	}
	if then != nil {
		if err := then(); err != nil {
			return err
		}
	}
	if t.Count != nil {
		t.Count.Done()
	}
	return t.out.Close()
}

// Counter counts rows as they are written (a progress meter).
type Counter interface {
	Add(n int)
	Done()
}

// done reports whether a resumed output has every row of rec under every
// condition.
func (t *Transformer) done(rec arrow.Record, n int) bool {
	if t.out.Resumed() == 0 {
		return false
	}
	for i := 0; i < n; i++ {
		if !t.out.Covered(t.inKey, rec, i, t.copies) {
			return false
		}
	}
	return true
}

// Write writes rec with its images replaced by px and the condition
// columns cols appended (and released).
func (t *Transformer) Write(rec arrow.Record, px []float32, cols ...arrow.Array) error {
	out := WithImage(t.Schema, rec, t.Cols.Image, px, t.Cols.Shape.Size(), cols...)
	err := t.out.Write(out)
	if err == nil && t.Count != nil {
		t.Count.Add(int(out.NumRows()))
	}
	out.Release()
	for _, c := range cols {
		c.Release()
	}
	return err
}
