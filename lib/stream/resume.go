package stream

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
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

// Resume opens the stream file at path for appending rows of schema. A
// file that does not exist (or is empty) is created. Of an existing one,
// written by an earlier run that was killed or finished, the complete
// record batches are kept, anything after them (a record cut short, the
// end-of-stream marker) is cut off, and the ids of the kept rows are
// returned, so that the caller skips them. The file must have been
// written with the same schema, metadata included (the same model and
// flags); otherwise resuming would mix two runs, and it is refused.
func Resume(path string, schema *arrow.Schema) (*Writer, *os.File, map[string]bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	if st.Size() == 0 {
		w, err := NewWriter(f, schema)
		if err != nil {
			f.Close()
			return nil, nil, nil, err
		}
		return w, f, map[string]bool{}, nil
	}
	fail := func(format string, a ...any) (*Writer, *os.File, map[string]bool, error) {
		f.Close()
		return nil, nil, nil, fmt.Errorf("--resume %s: "+format, append([]any{path}, a...)...)
	}
	// find the end of the last complete record batch
	cr := &countingReader{r: f}
	mr := ipc.NewMessageReader(cr)
	msg, err := mr.Message()
	if err != nil || msg.Type() != ipc.MessageSchema {
		return fail("does not start with an Arrow stream schema (not an lk stream?)")
	}
	good := cr.n
	for {
		msg, err := mr.Message()
		if err != nil {
			break // end-of-stream marker, or a message cut short
		}
		if msg.Type() != ipc.MessageRecordBatch {
			return fail("holds a %v message; lk streams have only record batches", msg.Type())
		}
		good = cr.n
	}
	mr.Release()
	// read the kept records: their schema must be this run's, their ids done
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail("%v", err)
	}
	r, err := ipc.NewReader(io.LimitReader(f, good))
	if err != nil {
		return fail("%v", err)
	}
	old := r.Schema()
	if !old.Equal(schema) || old.Metadata().String() != schema.Metadata().String() {
		r.Release()
		return fail("was written by another run (different model, flags or input columns); give a new --out file")
	}
	idx := old.FieldIndices(ColID)
	if len(idx) != 1 {
		r.Release()
		return fail("has no id column to resume by")
	}
	done := map[string]bool{}
	for r.Next() {
		ids, ok := r.Record().Column(idx[0]).(*array.String)
		if !ok {
			r.Release()
			return fail("its id column is not utf8")
		}
		for i := 0; i < ids.Len(); i++ {
			done[ids.Value(i)] = true
		}
	}
	r.Release()
	if err := f.Truncate(good); err != nil {
		return fail("%v", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail("%v", err)
	}
	// the new writer's schema message is already in the file
	var probe bytes.Buffer
	pw, err := NewWriter(&probe, schema)
	if err != nil {
		return fail("%v", err)
	}
	if err := pw.Close(); err != nil {
		return fail("%v", err)
	}
	w, err := NewWriter(&skipWriter{w: f, skip: probe.Len() - len(eosMarker)}, schema)
	if err != nil {
		return fail("%v", err)
	}
	return w, f, done, nil
}
