// Package infer runs an ONNX classifier over an image stream and appends
// its logits. Rows are regrouped into model batches independent of the
// input's record batches, normalised with the model's mean and std, run
// through one ONNX Runtime session, and written back in input order with
// every input column passed through.
package infer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Options configure a run. Zero values take the sidecar's, then the graph's.
type Options struct {
	Model    string // path to the .onnx file
	Name     string // value of the model column; default: sidecar name or file base name
	Mean     []float32
	Std      []float32
	Size     stream.Shape // input size, overriding the sidecar's input_size
	Batch    int
	Runtime  ort.Options // threads, provider and device
	Step     stream.Step // provenance: the tool and its command line (cli.Step)
	Progress io.Writer   // nil: silent
	// Output, when its Path is set, is the output file instead of the
	// writer; with Resume, an existing file from an interrupted run keeps
	// its complete record batches and only the rows whose keys it lacks
	// are run and appended.
	Output stream.OutputOptions
}

// Model is an opened model, ready to run batches.
type Model struct {
	Config  model.Config
	Shape   stream.Shape
	Classes int
	Batch   arch.Batch // the batch the graph runs at
	Notes   []string   // said once on stderr: how the model is read
	batch   int        // Batch.N
	dir     string     // the adapted copy's folder, if any
	norm    *model.Normalizer
	sess    *ort.Session
	scratch []float32 // the normalised batch
	sha     string
	path    string
}

// Open loads the model and its sidecar and checks the graph's input and
// output against the config.
func Open(o Options) (*Model, error) {
	cfg, _, err := model.Load(o.Model)
	if err != nil {
		return nil, err
	}
	if o.Name != "" {
		cfg.Name = o.Name
	}
	if cfg.Mean, cfg.Std, err = cfg.Normalisation(o.Model, o.Mean, o.Std); err != nil {
		return nil, err
	}
	if o.Size.Size() > 0 {
		cfg.InputSize = []int{o.Size.C, o.Size.H, o.Size.W}
	}
	om, err := onnx.Load(o.Model)
	if err != nil {
		return nil, err
	}
	ins, _ := om.IO()
	in, err := pick(ins, cfg.Input, o.Model)
	if err != nil {
		return nil, err
	}
	if in.DType != "float" && in.DType != "float16" {
		return nil, fmt.Errorf("model %s: input %s: images are fed as float32 (or cast to float16), not %s", o.Model, in, in.DType)
	}
	if len(in.Dims) != 4 {
		return nil, fmt.Errorf("model %s: input %s has %d dimensions; images are fed as NCHW (4 dimensions)", o.Model, in, len(in.Dims))
	}
	run, h, err := arch.Adapt(om, cfg, in.Name)
	if err != nil {
		return nil, err
	}
	var out onnx.IO
	_, routs := run.IO()
	for _, x := range routs {
		if x.Name == h.Logits {
			out = x
		}
	}
	cfg.Input, cfg.Output = in.Name, h.Output
	m := &Model{Config: cfg, path: o.Model, Notes: h.Notes}
	if m.Shape, err = arch.InputShape(o.Model, in, cfg.Shape()); err != nil {
		return nil, err
	}
	if out.DType != "float" || len(out.Dims) != 2 {
		return nil, fmt.Errorf("model %s: output %s: want float32 logits of shape [batch, classes]", o.Model, out)
	}
	m.Classes = int(out.Dims[1])
	if m.Classes <= 0 {
		m.Classes = cfg.NumClasses
	}
	if m.Classes <= 0 {
		return nil, fmt.Errorf("model %s: output %s has a symbolic class dimension; give num_classes in the sidecar", o.Model, out)
	}
	if cfg.NumClasses > 0 && cfg.NumClasses != m.Classes {
		return nil, fmt.Errorf("model %s: output %s has %d classes but the sidecar says num_classes %d", o.Model, out, m.Classes, cfg.NumClasses)
	}
	if len(cfg.Classes) > 0 && len(cfg.Classes) != m.Classes {
		return nil, fmt.Errorf("model %s: output %s has %d classes but the sidecar's classes name %d", o.Model, out, m.Classes, len(cfg.Classes))
	}
	if m.Batch, err = arch.FindBatch(run, in.Name, out.Name, []int64{int64(m.Shape.C), int64(m.Shape.H), int64(m.Shape.W)}, o.Runtime.Threads); err != nil {
		return nil, err
	}
	m.batch = m.Batch.N
	m.Notes = append(m.Notes, m.Batch.Note(o.Model))
	if m.norm, err = cfg.Normalizer(o.Model, o.Mean, o.Std, m.Shape); err != nil {
		return nil, err
	}
	if m.sha, err = model.FileSHA256(o.Model); err != nil {
		return nil, err
	}
	path := o.Model
	if run != om { // the adapted copy (Adapt), in a folder Close removes
		if m.dir, err = os.MkdirTemp("", "lk-infer-"); err != nil {
			return nil, err
		}
		path = filepath.Join(m.dir, "model.onnx")
		if err := run.Save(path); err != nil {
			os.RemoveAll(m.dir)
			return nil, err
		}
	}
	if m.sess, err = ort.NewSession(path, in.Name, []string{out.Name}, o.Runtime); err != nil {
		os.RemoveAll(m.dir)
		if path != o.Model {
			err = arch.CopyError(o.Model, path, "running", err)
		}
		return nil, err
	}
	return m, nil
}

// pick is the image input: the one the sidecar names, else the only one.
func pick(xs []onnx.IO, name, path string) (onnx.IO, error) {
	var names []string
	for _, x := range xs {
		if x.Name == name || (name == "" && len(xs) == 1) {
			return x, nil
		}
		names = append(names, x.Name)
	}
	if name == "" {
		return onnx.IO{}, fmt.Errorf("model %s has %d inputs (%s); name the image input with \"input\" in the sidecar", path, len(xs), strings.Join(names, ", "))
	}
	return onnx.IO{}, fmt.Errorf("model %s has no input %q (it has %s)", path, name, strings.Join(names, ", "))
}

// Close frees the session and removes the adapted copy, if any.
func (m *Model) Close() error {
	err := m.sess.Close()
	if m.dir != "" {
		os.RemoveAll(m.dir)
	}
	return err
}

// SHA256 is the model file's hash.
func (m *Model) SHA256() string { return m.sha }

// Logits runs n images of pixels (n*Shape.Size() values in [0,1]) and
// writes n*Classes logits into dst. Not safe for concurrent use.
func (m *Model) Logits(dst, pixels []float32, n int) error {
	sz := m.Shape.Size()
	if m.batch > 0 && n > m.batch { // runs of the graph's fixed batch
		for lo := 0; lo < n; lo += m.batch {
			k := min(m.batch, n-lo)
			if err := m.Logits(dst[lo*m.Classes:], pixels[lo*sz:(lo+k)*sz], k); err != nil {
				return err
			}
		}
		return nil
	}
	rows := max(n, m.batch)
	if len(m.scratch) < rows*sz {
		m.scratch = make([]float32, rows*sz)
	}
	m.norm.Apply(m.scratch[:n*sz], pixels[:n*sz])
	return m.run(dst, m.scratch, n)
}

// run evaluates n normalised images held in in, which has room for the
// graph's fixed batch when it has one: a short batch is zero-padded and
// its extra outputs dropped.
func (m *Model) run(dst, in []float32, n int) error {
	sz := m.Shape.Size()
	rows := n
	if m.batch > 0 {
		if n > m.batch {
			return fmt.Errorf("batch of %d rows for a model with fixed batch %d", n, m.batch)
		}
		rows = m.batch
		clear(in[n*sz : rows*sz])
	}
	out := dst[:n*m.Classes]
	if rows > n {
		out = make([]float32, rows*m.Classes)
	}
	err := m.sess.Run(in[:rows*sz], []int64{int64(rows), int64(m.Shape.C), int64(m.Shape.H), int64(m.Shape.W)},
		[][]float32{out}, [][]int64{{int64(rows), int64(m.Classes)}})
	if rows > n {
		copy(dst, out[:n*m.Classes])
	}
	return err
}

// piece is a run of rows of one input record.
type piece struct {
	rec      arrow.Record
	off, len int
}

type batch struct {
	pixels []float32 // normalised
	logits []float32
	pieces []piece
	n      int
	err    error
}

// Run reads images from r, writes predictions to w.
func Run(r *stream.Reader, w io.Writer, o Options) error {
	m, err := Open(o)
	if err != nil {
		return err
	}
	defer m.Close()
	arch.Say(o.Progress, "lk-infer", m.Notes...)
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	if cols.Shape != m.Shape {
		return &model.ImageSizeError{Input: r.Name(), Got: cols.Shape, Model: m.Config.Name, Want: m.Shape}
	}
	md := r.Schema().Metadata()
	md = stream.WithMeta(md, stream.MetaKind, stream.KindPredictions)
	if m.Config.LabelSpace != "" {
		md = stream.WithMeta(md, stream.MetaModelLabelSpace, m.Config.LabelSpace)
	}
	md = stream.WithoutMeta(md, stream.MetaModelClasses)
	if len(m.Config.Classes) > 0 {
		names, _ := json.Marshal(m.Config.Classes)
		md = stream.WithMeta(md, stream.MetaModelClasses, string(names))
	}
	md, err = stream.AddStep(md, o.Step.With(o.Model, m.sha,
		map[string]string{"onnxruntime": ort.Version(), "provider": orDefault(o.Runtime.Provider, "cpu")}))
	if err != nil {
		return err
	}
	fields := []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}}
	for _, k := range m.Config.ColumnNames() {
		fields = append(fields, arrow.Field{Name: k, Type: arrow.BinaryTypes.String})
	}
	fields = append(fields, stream.LogitsField(m.Classes))
	var derived []string
	for _, f := range fields {
		derived = append(derived, f.Name)
	}
	md = stream.MarkDerived(md, derived...)
	schema, err := stream.Append(r.Schema(), md, fields...)
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	// the model and its sidecar columns (a lesioned copy's drop_n and
	// sample) tell apart the predictions of one image by several models
	md = stream.ExtendKey(schema, schema.Metadata(), append([]string{stream.ColModel}, m.Config.ColumnNames()...)...)
	schema = arrow.NewSchema(schema.Fields(), &md)
	inKey, err := stream.NewKeyer(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	oo := o.Output
	if oo.W == nil {
		oo.W = w
	}
	oo.InputKey = len(inKey.Names)
	wr, err := stream.Create(schema, oo)
	if err != nil {
		return err
	}
	defer wr.Abort()
	if wr.Resumed() > 0 && o.Progress != nil {
		fmt.Fprintf(o.Progress, "lk-infer: resuming %s: %d rows already there are skipped\n", oo.Path, wr.Resumed())
	}
	bs := o.Batch
	if bs <= 0 {
		bs = 64
	}
	if m.batch > 0 {
		bs = m.batch
	}
	var total int64
	if v, ok := md.GetValue(stream.MetaRows); ok {
		fmt.Sscan(v, &total)
	}
	meter := progress.New(o.Progress, "lk-infer "+m.Config.Name, "images", total)

	// Three stages overlap: assembling batches from the stream, running the
	// model, and writing results. Two batches circulate between them.
	free := make(chan *batch, 2)
	for i := 0; i < 2; i++ {
		free <- &batch{pixels: make([]float32, bs*m.Shape.Size()), logits: make([]float32, bs*m.Classes)}
	}
	full := make(chan *batch, 1)
	done := make(chan *batch, 1)
	stop := make(chan struct{})
	go func() { // assemble
		defer close(full)
		var pend []piece
		pendRows := 0
		emit := func(n int) bool {
			var b *batch
			select {
			case b = <-free:
			case <-stop:
				return false
			}
			b.n, b.pieces, b.err = n, b.pieces[:0], nil
			sz := m.Shape.Size()
			at := 0
			for at < n {
				p := &pend[0]
				take := min(p.len, n-at)
				px, _, err := stream.Float32Rows(p.rec.Column(cols.Image))
				if err != nil {
					b.err = fmt.Errorf("%s: column image: %v", r.Name(), err)
					full <- b
					return false
				}
				// normalise while copying: one pass over the pixels
				m.norm.Apply(b.pixels[at*sz:(at+take)*sz], px[p.off*sz:(p.off+take)*sz])
				p.rec.Retain()
				b.pieces = append(b.pieces, piece{p.rec, p.off, take})
				at += take
				p.off += take
				p.len -= take
				if p.len == 0 {
					p.rec.Release()
					pend = pend[1:]
				}
			}
			pendRows -= n
			full <- b
			return true
		}
		for r.Next() {
			rec := r.Record()
			if rec.NumRows() == 0 {
				continue
			}
			for _, sub := range keep(rec, inKey, wr) {
				pend = append(pend, piece{sub, 0, int(sub.NumRows())})
				pendRows += int(sub.NumRows())
			}
			for pendRows >= bs {
				if !emit(bs) {
					return
				}
			}
		}
		if err := r.Err(); err != nil {
			full <- &batch{err: err}
			return
		}
		if pendRows > 0 {
			emit(pendRows)
		}
	}()
	go func() { // run
		defer close(done)
		for b := range full {
			if b.err == nil {
				if err := m.run(b.logits, b.pixels, b.n); err != nil {
					b.err = err
				} else {
					b.err = checkFinite(b, cols.ID, m.Classes, m.Config.Name)
				}
			}
			done <- b
		}
	}()
	var firstErr error
	rw := &recordWriter{wr: wr, schema: schema, m: m}
	for b := range done { // write
		if firstErr == nil {
			firstErr = b.err
		}
		if firstErr == nil {
			firstErr = rw.add(b)
			meter.Add(b.n)
		}
		for _, p := range b.pieces {
			p.rec.Release()
		}
		if firstErr != nil {
			select {
			case <-stop:
			default:
				close(stop)
			}
			continue
		}
		if b.pixels != nil {
			free <- b
		}
	}
	if firstErr != nil {
		return firstErr
	}
	meter.Done()
	return wr.Close()
}

func checkFinite(b *batch, idCol, k int, name string) error {
	at := 0
	for _, p := range b.pieces {
		ids := p.rec.Column(idCol).(*array.String)
		for i := 0; i < p.len; i++ {
			row := b.logits[(at+i)*k : (at+i+1)*k]
			for _, v := range row {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("model %s gave non-finite logits (%v) for row id %q", name, v, ids.Value(p.off+i))
				}
			}
		}
		at += p.len
	}
	return nil
}

// recordWriter reassembles output records along the input's record
// boundaries, so that the output bytes do not depend on --batch.
type recordWriter struct {
	wr     *stream.Output
	schema *arrow.Schema
	m      *Model
	cur    arrow.Record // the input record being filled
	logits []float32
	filled int
}

func (rw *recordWriter) add(b *batch) error {
	k := rw.m.Classes
	at := 0
	for _, p := range b.pieces {
		if rw.cur == nil {
			rw.cur = p.rec
			rw.cur.Retain()
			rw.logits = make([]float32, int(p.rec.NumRows())*k)
			rw.filled = 0
		}
		copy(rw.logits[p.off*k:(p.off+p.len)*k], b.logits[at*k:(at+p.len)*k])
		rw.filled += p.len
		at += p.len
		if rw.filled == int(rw.cur.NumRows()) {
			if err := rw.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rw *recordWriter) flush() error {
	n := int(rw.cur.NumRows())
	lcol := stream.Float32List(rw.logits, rw.m.Classes)
	cols := []arrow.Array{stream.ConstString(rw.m.Config.Name, n)}
	for _, k := range rw.m.Config.ColumnNames() {
		cols = append(cols, stream.ConstString(rw.m.Config.Columns[k], n))
	}
	out := stream.WithColumns(rw.schema, rw.cur, append(cols, lcol)...)
	err := rw.wr.Write(out)
	for _, c := range cols {
		c.Release()
	}
	for _, x := range []interface{ Release() }{out, lcol, rw.cur} {
		x.Release()
	}
	rw.cur = nil
	if err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return fmt.Errorf("writing predictions: the reading end of the pipe closed")
		}
		return fmt.Errorf("writing predictions: %v", err)
	}
	return nil
}

// keep returns the runs of rec's rows that a resumed output does not
// have yet, as records the caller owns (rec itself, retained, when there
// is nothing to skip).
func keep(rec arrow.Record, in *stream.Keyer, out *stream.Output) []arrow.Record {
	if out.Resumed() == 0 {
		rec.Retain()
		return []arrow.Record{rec}
	}
	return stream.Runs(rec, func(i int) bool { return !out.Covered(in, rec, i, 1) })
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
