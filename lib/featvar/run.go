package featvar

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Layers lists what is measured, in depth order: the stem's output (the
// first block's input, unless that is the image), every block's output,
// and before each stage's first block its input when a transition made it.
func Layers(m *arch.Model) []Layer {
	var ls []Layer
	prev := m.Input
	for i, b := range m.Blocks {
		if b.Input != prev {
			kind, name := "transition", fmt.Sprintf("transition %d", b.Stage-1)
			if i == 0 {
				kind, name = "stem", "stem"
			}
			ls = append(ls, Layer{Name: name, Kind: kind, Value: b.Input, Shape: b.InShape})
		}
		ls = append(ls, Layer{Name: b.Name(), Kind: "block", Value: b.Output, Shape: b.Shape})
		prev = b.Output
	}
	return ls
}

// Options configure Run.
type Options struct {
	Group    int         // batch-mean group size; 0: Park & Kim
	Batch    int         // images per model run
	Runtime  ort.Options // threads, provider and device
	Mean     []float32   // normalisation, as lk-infer's
	Std      []float32
	Progress io.Writer
	// Checkpoint, when set, is a file where the statistics are saved as
	// the run goes; with Resume, a run continues from the one there.
	Checkpoint string
	Resume     bool
	// Run says what the run computes (the flags that change the table),
	// so that a checkpoint of another run is not continued.
	Run string
}

// checkpointEvery is how often a checkpoint is saved when the state is
// large (batch-mean keeps a C x P map per layer); a small one is saved
// after every batch.
const checkpointEvery = 5 * time.Second

// Run measures every layer of m over the images of r.
func Run(r *stream.Reader, m *arch.Model, layers []Layer, o Options) ([]*Stat, error) {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	if cols.Shape != m.Shape {
		return nil, &model.ImageSizeError{Input: r.Name(), Got: cols.Shape, Model: m.Config.Name, Want: m.Shape}
	}
	norm, err := m.Config.Normalizer(m.Path, o.Mean, o.Std, m.Shape)
	if err != nil {
		return nil, err
	}
	values := make([]string, len(layers))
	stats := make([]*Stat, len(layers))
	for i, l := range layers {
		values[i] = l.Value
		stats[i] = &Stat{Layer: l, Group: o.Group}
	}
	keyer, err := stream.NewKeyer(r.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	run := runID(r.Schema(), o.Run)
	var ck *checkpoint
	if o.Checkpoint != "" && o.Resume {
		if ck, err = loadCheckpoint(o.Checkpoint, run); err != nil {
			return nil, err
		}
	}
	var skip int64
	if ck != nil {
		if len(ck.Stats) != len(stats) {
			return nil, fmt.Errorf("checkpoint %s has %d layers, the model %d", o.Checkpoint, len(ck.Stats), len(stats))
		}
		for i, st := range ck.Stats {
			stats[i].restore(st)
		}
		skip = ck.Rows
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "lk-featvar: resuming from %s: %d images already measured\n", o.Checkpoint, skip)
		}
	}
	stateSize := 0
	path, cleanup, err := arch.WithOutputs(m.Run, values)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	sess, err := ort.NewSession(path, m.Input, values, o.Runtime)
	if err != nil {
		return nil, arch.CopyError(m.Path, path, "running with the block outputs", err)
	}
	defer sess.Close()

	var total int64
	if v, ok := r.Schema().Metadata().GetValue(stream.MetaRows); ok {
		fmt.Sscan(v, &total)
	}
	meter := progress.New(o.Progress, "lk-featvar "+m.Config.Name, "images", total)
	sz := m.Shape.Size()
	batch, rows := o.Batch, 0 // rows: the graph's fixed batch, 0 when dynamic
	if m.Batch.N > 0 {
		batch, rows = m.Batch.N, m.Batch.N
	}
	buf := make([]float32, batch*sz)
	// The outputs go into buffers made once: fresh ones for every batch
	// (ONNX Runtime's own) cost more in page faults than the statistics.
	per := make([]int, len(layers))
	for i, l := range layers {
		per[i] = 1
		for _, d := range l.Shape[1:] {
			per[i] *= int(d)
		}
		if o.Group > 0 {
			stateSize += per[i]
		}
	}
	// Two sets of output buffers, made once (fresh ones per batch cost
	// more in page faults than the statistics): the statistics of one
	// batch are taken while ONNX Runtime runs the next.
	type result struct {
		n     int
		outs  [][]float32
		ids   []string
		rows  int64    // images consumed after this batch
		chain keyChain // their keys' hash
	}
	free := make(chan [][]float32, 2)
	for k := 0; k < 2; k++ {
		outs := make([][]float32, len(layers))
		for i := range layers {
			outs[i] = make([]float32, batch*per[i])
		}
		free <- outs
	}
	ran := make(chan result, 1)
	statsErr := make(chan error, 1)
	go func() {
		var err error
		var saved time.Time
		for res := range ran {
			for i, l := range layers {
				data := res.outs[i][:res.n*per[i]]
				checkFinite := func() error {
					err := model.CheckFinite(data, per[i], "output of "+l.Name)
					if err != nil {
						ids := res.ids
						err = model.AtRow(err, m.Config.Name, func(k int) string { return ids[k] })
					}
					return err
				}
				// A feature map's variance sees every value, and a NaN or
				// an infinity among them makes it non-finite (finite
				// float32 values cannot overflow the float64 sums): the
				// values are then scanned to name the image. Other
				// layouts are scanned first.
				fused := len(l.Shape) == 4 && stats[i].Group == 0
				if err == nil && !fused {
					err = checkFinite()
				}
				if err == nil {
					err = stats[i].Add(append([]int64{int64(res.n)}, l.Shape[1:]...), data)
					if errors.Is(err, errNonFinite) {
						if err = checkFinite(); err == nil {
							err = fmt.Errorf("layer %s: a non-finite variance from finite values", l.Name)
						}
					}
				}
			}
			free <- res.outs
			if err == nil && o.Checkpoint != "" && (stateSize < 1<<16 || time.Since(saved) >= checkpointEvery) {
				c := checkpoint{Run: run, Rows: res.rows, Keys: res.chain.String()}
				for _, st := range stats {
					c.Stats = append(c.Stats, st.state())
				}
				err = c.save(o.Checkpoint)
				saved = time.Now()
			}
		}
		statsErr <- err
	}()
	n := 0
	var consumed int64 // rows of the input read, skipped ones included
	var chain keyChain
	var ids []string
	flush := func() error {
		if n == 0 {
			return nil
		}
		outs := <-free
		run := n
		if rows > 0 { // pad to the fixed batch; the extra rows are not read
			run = rows
			clear(buf[n*sz : run*sz])
		}
		shapes := make([][]int64, len(layers))
		views := make([][]float32, len(layers))
		for i, l := range layers {
			shapes[i] = append([]int64{int64(run)}, l.Shape[1:]...)
			views[i] = outs[i][:run*per[i]]
		}
		if err := sess.Run(buf[:run*sz], []int64{int64(run), int64(m.Shape.C), int64(m.Shape.H), int64(m.Shape.W)}, views, shapes); err != nil {
			return err
		}
		ran <- result{n, outs, ids, consumed, chain}
		meter.Add(n)
		n, ids = 0, nil
		return nil
	}
	finish := func(err error) error {
		close(ran)
		if serr := <-statsErr; err == nil {
			err = serr
		}
		return err
	}
	for r.Next() {
		rec := r.Record()
		px, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return nil, finish(fmt.Errorf("%s: column image: %v", r.Name(), err))
		}
		idCol := rec.Column(cols.ID).(*array.String)
		for k := 0; k < int(rec.NumRows()); k++ {
			if o.Checkpoint != "" { // the keys' hash only serves checkpoints
				chain = chain.add(keyer.Hash(rec, k))
			}
			if consumed++; consumed <= skip {
				if consumed == skip && chain.String() != ck.Keys {
					return nil, finish(fmt.Errorf("%s: its first %d rows are not the ones the checkpoint %s measured; resume with the interrupted run's input, or write to a new file", r.Name(), skip, o.Checkpoint))
				}
				continue
			}
			ids = append(ids, idCol.Value(k))
			norm.Apply(buf[n*sz:(n+1)*sz], px[k*sz:(k+1)*sz])
			if n++; n == batch {
				if err := flush(); err != nil {
					return nil, finish(err)
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, finish(err)
	}
	if consumed < skip {
		return nil, finish(fmt.Errorf("%s: %d rows, but the checkpoint %s measured %d; resume with the interrupted run's input", r.Name(), consumed, o.Checkpoint, skip))
	}
	if err := finish(flush()); err != nil {
		return nil, err
	}
	meter.Done()
	if stats[0].n == 0 {
		return nil, fmt.Errorf("%s: no images", r.Name())
	}
	return stats, nil
}
