package stream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// skipWriter drops the first skip bytes written to it: the schema message
// a new IPC writer emits, which a resumed file already has.
type skipWriter struct {
	w    io.Writer
	skip int
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		k := min(s.skip, len(p))
		s.skip -= k
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Output is where a tool writes its stream: a writer (stdout), or a file
// that a later run with resume continues. A resumed Output knows the keys
// of the rows the earlier run wrote; it drops rows with those keys, and
// Covered tells a tool which input rows it need not compute at all.
type Output struct {
	*Writer
	f       *os.File
	keyer   *Keyer
	prefix  *Keyer // the output key's columns that the input has
	done    map[RowKey]struct{}
	covered map[RowKey]int32 // done rows per input key
	resumed int
	closed  bool
}

// OutputOptions say where an Output goes.
type OutputOptions struct {
	Path   string    // a file; "" for W
	Resume bool      // continue the file at Path
	W      io.Writer // when Path is ""
	// InputKey is how many of the output key's columns come from the
	// input (the rest are the tool's conditions): rows are counted per
	// input key, so that a resumed tool skips an input row whose every
	// condition is done.
	InputKey int
	// Log, when set, hears what a tool did to its output beside the
	// stream: the columns it dropped, the rows a resume kept.
	Log io.Writer
	// Inputs and Stdin are what the tool reads: Path may be none of them
	// (CheckNotInput).
	Inputs []string
	Stdin  io.Reader
}

// Create opens the output for schema. With Resume, an existing file
// written by an earlier run of the same command (same schema and
// metadata, provenance included; how the file was named does not count)
// keeps its complete record batches, anything after them is cut off, and
// the keys of the kept rows are loaded; a missing or empty file is
// started anew.
func Create(schema *arrow.Schema, o OutputOptions) (*Output, error) {
	keyer, err := NewKeyer(schema)
	if err != nil {
		return nil, err
	}
	out := &Output{keyer: keyer, prefix: keyer.Prefix(min(o.InputKey, len(keyer.Names)))}
	if o.Path == "" {
		if out.Writer, err = NewWriter(o.W, schema); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err := CheckNotInput(o.Path, o.Inputs, o.Stdin); err != nil {
		return nil, err
	}
	if out.f, err = openInPlace(o.Path, o.Resume); err != nil {
		return nil, err
	}
	fail := func(err error) (*Output, error) {
		out.f.Close()
		return nil, fmt.Errorf("resuming %s: %w", o.Path, err)
	}
	var skip int
	if o.Resume {
		if skip, err = out.load(schema); err != nil {
			return fail(err)
		}
	}
	var w io.Writer = out.f
	if skip > 0 {
		w = &skipWriter{w: out.f, skip: skip}
	}
	if out.Writer, err = NewWriter(w, schema); err != nil {
		return fail(err)
	}
	return out, nil
}

// load reads the kept rows of an earlier run's file, cuts what follows
// them, and returns how many bytes of the new writer's output (its schema
// message) the file already has.
func (o *Output) load(schema *arrow.Schema) (skip int, err error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() == 0 {
		return 0, nil
	}
	defer func() {
		// the Arrow reader trusts lengths in the file; bytes that are
		// not a stream must not crash the tool
		if p := recover(); p != nil {
			err = fmt.Errorf("is not an lk stream (%v)", p)
		}
	}()
	good, err := completeBatches(o.f, st.Size())
	if err != nil {
		return 0, err
	}
	if _, err := o.f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(io.LimitReader(o.f, good), 1<<20)
	head, err := readSchemaMessage(br, o.f.Name())
	if err != nil {
		return 0, err
	}
	r, err := ipc.NewReader(io.MultiReader(bytes.NewReader(head), &messageGuard{r: br}), ipc.WithAllocator(boundedAllocator))
	if err != nil {
		return 0, fmt.Errorf("is not an Arrow stream: %v", err)
	}
	defer r.Release()
	if !SameRun(r.Schema(), schema) {
		return 0, errors.New("was written by another run (different model, flags or input columns); write to a new file")
	}
	o.done = map[RowKey]struct{}{}
	o.covered = map[RowKey]int32{}
	for r.Next() {
		rec := r.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			o.done[o.keyer.Hash(rec, i)] = struct{}{}
			o.covered[o.prefix.Hash(rec, i)]++
			o.resumed++
		}
	}
	if err := r.Err(); err != nil {
		return 0, err
	}
	if err := o.f.Truncate(good); err != nil {
		return 0, err
	}
	if _, err := o.f.Seek(good, io.SeekStart); err != nil {
		return 0, err
	}
	var probe bytes.Buffer
	pw := ipc.NewWriter(&probe, ipc.WithSchema(schema))
	if err := pw.Close(); err != nil {
		return 0, err
	}
	return probe.Len() - len(eosMarker), nil
}

// completeBatches returns the length of the file's schema message and
// complete record batches: what a run killed mid-write left intact.
func completeBatches(f *os.File, size int64) (int64, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	if err := checkStart(br, f.Name()); err != nil {
		return 0, errors.New("does not start with an Arrow stream schema (not an lk stream?)")
	}
	cr := &countingReader{r: br}
	mr := ipc.NewMessageReader(&messageGuard{r: cr}, ipc.WithAllocator(boundedAllocator))
	defer mr.Release()
	msg, err := mr.Message()
	if err != nil || msg.Type() != ipc.MessageSchema {
		return 0, errors.New("does not start with an Arrow stream schema (not an lk stream?)")
	}
	good := cr.n
	for {
		if !plausibleNext(br, size-cr.n) {
			break // a length that runs past the end: a message cut short
		}
		msg, err := mr.Message()
		if err != nil {
			break // end-of-stream marker, or a message cut short
		}
		if msg.Type() != ipc.MessageRecordBatch {
			return 0, fmt.Errorf("holds a %v message; lk streams have only record batches", msg.Type())
		}
		good = cr.n
	}
	return good, nil
}

// plausibleNext reports whether the next message's metadata length fits
// in the left bytes of the file, so that a cut or corrupt tail is not
// allocated or parsed.
func plausibleNext(br *bufio.Reader, left int64) bool {
	head, err := br.Peek(8)
	if err != nil {
		return false
	}
	n := int64(binary.LittleEndian.Uint32(head[:4]))
	if n == 0xffffffff { // continuation marker, then the length
		n = int64(binary.LittleEndian.Uint32(head[4:]))
		left -= 4
	}
	return n > 0 && n+4 <= left
}

// SameRun reports whether a file with schema old was written by the run
// that would write schema new: same columns and metadata, provenance
// included, but for the positional arguments of the writing tool's own
// step (the last): they name its input streams, which may be named
// differently, and what those hold is in the steps before. Every earlier
// step keeps its positional arguments: lk-data's are the images.
func SameRun(old, new *arrow.Schema) bool {
	if !arrow.NewSchema(old.Fields(), nil).Equal(arrow.NewSchema(new.Fields(), nil)) {
		return false
	}
	return RunMeta(old.Metadata()) == RunMeta(new.Metadata())
}

// RunMeta is metadata as SameRun compares it: the last provenance
// step's positional arguments left out.
func RunMeta(md arrow.Metadata) string {
	steps, err := Provenance(md)
	if err != nil || len(steps) == 0 {
		return md.String()
	}
	last := &steps[len(steps)-1]
	var flags []string
	for _, a := range last.Args {
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
		}
	}
	last.Args = flags
	md, _ = setProvenance(md, steps)
	return md.String()
}

// Resumed is the number of rows the earlier run had written.
func (o *Output) Resumed() int { return o.resumed }

// Covered reports whether the earlier run wrote all copies rows of the
// input row i of rec (whose key columns, in rec's schema, in is over).
func (o *Output) Covered(in *Keyer, rec arrow.Record, i, copies int) bool {
	if len(o.covered) == 0 || copies <= 0 {
		return false
	}
	return int(o.covered[in.Hash(rec, i)]) >= copies
}

// Write writes the rows of rec that the earlier run did not.
func (o *Output) Write(rec arrow.Record) error {
	if len(o.done) == 0 {
		return o.Writer.Write(rec)
	}
	n := int(rec.NumRows())
	fresh := make([]bool, n)
	all := true
	for i := range fresh {
		_, done := o.done[o.keyer.Hash(rec, i)]
		fresh[i] = !done
		all = all && !done
	}
	if all {
		return o.Writer.Write(rec)
	}
	for _, run := range Runs(rec, func(i int) bool { return fresh[i] }) {
		err := o.Writer.Write(run)
		run.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// Close ends the stream and closes the file; the output is complete only
// when it returns nil.
func (o *Output) Close() error {
	o.closed = true
	err := o.Writer.Close()
	if o.f != nil {
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Abort closes the file without ending the stream: what a failed run
// leaves is a truncated stream that readers refuse and --resume continues.
// After Close it does nothing, so that tools can defer it.
func (o *Output) Abort() {
	if o.f != nil && !o.closed {
		o.closed = true
		o.Writer.buf.Flush()
		o.f.Close()
	}
}
