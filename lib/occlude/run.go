package occlude

import (
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Saliency gives the per-patch saliency of the rows of a record.
type Saliency interface {
	// Patches returns n rows of g.N() values for the record's images px.
	Patches(rec arrow.Record, px []float32, n int, g Grid) ([][]float64, error)
}

// Options configure Run.
type Options struct {
	Modes    []string
	Ratios   []float64 // random drop
	Lambdas  []float64 // salient and non-salient drop
	Patch    int
	Seed     uint64
	PerImage bool // random patches per image, not per batch
	Batch    int  // rows sharing one random draw (the reference's batch)
	Saliency Saliency
	Step     stream.Step // provenance: the tool and its command line (cli.Step)
	Progress io.Writer   // hears the progress line (nil: none)
}

type cond struct {
	mode  string
	ratio float64
}

// Run writes every record of r once per (mode, ratio), in the order of
// Modes and of their ratios, with patches dropped and the columns
// drop_mode and drop_ratio appended. Random draws shared by a batch are
// keyed by the row's position in the stream divided by Batch, so they do
// not depend on how the stream is cut into records.
func Run(r *stream.Reader, out stream.OutputOptions, o Options) error {
	var conds []cond
	salient := false
	for _, m := range o.Modes {
		vals := o.Lambdas
		switch m {
		case Random:
			vals = o.Ratios
		case Salient, NonSalient:
			salient = true
		default:
			return fmt.Errorf("drop mode %q: want %v", m, Modes)
		}
		for _, v := range vals {
			conds = append(conds, cond{m, v})
		}
	}
	if salient && o.Saliency == nil {
		return fmt.Errorf("salient and non-salient drop need a saliency: a model's attention, a model's gradient or a column")
	}
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	sh := cols.Shape
	g, err := NewGrid(sh, o.Patch)
	if err != nil {
		return err
	}
	t, err := stream.NewTransformer(r, out, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10), "grid": fmt.Sprintf("%dx%d of %d px", g.GH, g.GW, g.Patch)}),
		len(conds),
		arrow.Field{Name: stream.ColDropMode, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: stream.ColDropRatio, Type: arrow.PrimitiveTypes.Float64})
	if err != nil {
		return err
	}
	t.Count = progress.New(o.Progress, "lk-occlude", "images", t.Total)
	batch := max(o.Batch, 1)
	sz := sh.Size()
	return t.Each(func(rec arrow.Record, px []float32, n int) error {
		ids := rec.Column(cols.ID).(*array.String)
		var sal [][]float64
		if salient {
			var err error
			if sal, err = o.Saliency.Patches(rec, px, n, g); err != nil {
				return fmt.Errorf("%s: %v", r.Name(), err)
			}
		}
		for _, c := range conds {
			out := make([]float32, n*sz)
			var shared []bool // the current batch's random patches
			sharedBatch := -1
			for i := 0; i < n; i++ {
				var marked []bool
				drop := true
				switch c.mode {
				case Random:
					k := Count(c.ratio, g.N())
					if o.PerImage {
						marked = RandomPatches(g.N(), k, Source(o.Seed, "image "+ids.Value(i), c.ratio))
					} else {
						if b := (int(t.Row) + i) / batch; b != sharedBatch {
							shared, sharedBatch = RandomPatches(g.N(), k, Source(o.Seed, "batch "+strconv.Itoa(b), c.ratio)), b
						}
						marked = shared
					}
				default:
					var err error
					if marked, err = MostSalient(sal[i], c.ratio); err != nil {
						return fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err)
					}
					drop = c.mode == Salient
				}
				Apply(out[i*sz:(i+1)*sz], px[i*sz:(i+1)*sz], sh, g, marked, drop)
			}
			if err := t.Write(rec, out, stream.ConstString(c.mode, n), stream.ConstFloat64(c.ratio, n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Column reads the saliency from a stream column: a fixed-size list of
// float32 with one value per patch, row-major over the grid.
type Column struct{ Name string }

func (c Column) Patches(rec arrow.Record, _ []float32, n int, g Grid) ([][]float64, error) {
	idx := rec.Schema().FieldIndices(c.Name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("no saliency column %q", c.Name)
	}
	vals, width, err := stream.Float32Rows(rec.Column(idx[0]))
	if err != nil {
		return nil, fmt.Errorf("saliency column %q: %v", c.Name, err)
	}
	if width != g.N() {
		return nil, fmt.Errorf("saliency column %q has %d values per row; the %dx%d patch grid needs %d", c.Name, width, g.GH, g.GW, g.N())
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, width)
		for j, v := range vals[i*width : (i+1)*width] {
			out[i][j] = float64(v)
		}
	}
	return out, nil
}
