package attack

import (
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// DefaultBatch is the most images one gradient run takes unless Options
// say otherwise. It bounds the memory of a run (FGSM on vit_b_16 takes
// 8.4 GB for 32 images at 224 px); results do not depend on it, since each
// image's random draws are its own.
const DefaultBatch = 32

// Options configure Run.
type Options struct {
	Model       string
	Attack      string    // fgsm, pgd or taig
	Eps         []float64 // one output copy of the stream per eps (and per steps for PGD)
	Steps       []int     // PGD steps, or TAIG iterations (one value)
	Alpha       float64   // step size; 0: eps/4 for PGD, 1/255 for TAIG
	RandomStart bool      // PGD
	Points      int       // TAIG integration points
	Seed        uint64
	Mean, Std   []float32
	Size        stream.Shape
	Batch       int         // images per gradient run (0: DefaultBatch); bounds the memory a run takes
	Runtime     ort.Options // threads, provider and device
	Step        stream.Step // provenance: the tool and its command line (cli.Step)
	Progress    io.Writer
}

type config struct {
	eps   float64
	steps int
}

// Run attacks every image of r and writes the attacked images, one copy of
// each input record per configuration, with columns attack, eps and steps.
func Run(r *stream.Reader, out stream.OutputOptions, o Options) error {
	obj := grad.CrossEntropy
	if o.Attack == "taig" {
		obj = grad.TrueLogit
	}
	gr, err := grad.Open(o.Model, o.Size, o.Mean, o.Std, obj, o.Runtime)
	if err != nil {
		return err
	}
	defer gr.Close()
	m, g, classes := gr.Model, gr.Session, int64(gr.Classes)
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	if cols.Shape != m.Shape {
		return &model.ImageSizeError{Input: r.Name(), Got: cols.Shape, Model: m.Config.Name, Want: m.Shape}
	}

	var configs []config
	for _, e := range o.Eps {
		if o.Attack == "pgd" {
			for _, s := range o.Steps {
				configs = append(configs, config{e, s})
			}
		} else {
			steps := 1
			if o.Attack == "taig" {
				steps = o.Steps[0]
			}
			configs = append(configs, config{e, steps})
		}
	}
	sha, err := model.FileSHA256(o.Model)
	if err != nil {
		return err
	}
	t, err := stream.NewTransformer(r, out, o.Step.With(o.Model, sha,
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}), len(configs),
		arrow.Field{Name: stream.ColAttack, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: stream.ColEps, Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: stream.ColSteps, Type: arrow.PrimitiveTypes.Int64})
	if err != nil {
		return err
	}
	meter := progress.New(o.Progress, "lk-attack "+o.Attack+" "+m.Config.Name, "images", t.Total)
	sz := m.Shape.Size()
	batch := o.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	each := func(rec arrow.Record, px []float32, n int) error {
		ids := rec.Column(cols.ID).(*array.String)
		labs := rec.Column(cols.Label).(*array.Int32)
		labels := make([]int64, n)
		idv := make([]string, n)
		for i := 0; i < n; i++ {
			idv[i] = ids.Value(i)
			labels[i] = int64(labs.Value(i))
			if labels[i] < 0 || labels[i] >= classes {
				return fmt.Errorf("%s: row id %q: label %d; an attack needs a true class of the model's %d", r.Name(), idv[i], labels[i], classes)
			}
		}
		adv := make([][]float32, len(configs))
		for k := range adv {
			adv[k] = make([]float32, n*sz)
		}
		for at := 0; at < n; at += batch {
			end := min(at+batch, n)
			if err := attackChunk(g, o, configs, px[at*sz:end*sz], labels[at:end], idv[at:end], adv, at*sz); err != nil {
				return model.AtRow(err, m.Config.Name, func(i int) string { return idv[at+i] })
			}
		}
		for k, c := range configs {
			err := t.Write(rec, adv[k], stream.ConstString(o.Attack, n), stream.ConstFloat64(c.eps, n), stream.ConstInt64(int64(c.steps), n))
			if err != nil {
				return fmt.Errorf("writing attacked images: %v", err)
			}
			meter.Add(n)
		}
		return nil
	}
	return t.EachThen(each, func() error { meter.Done(); return nil })
}

// attackChunk attacks a chunk of images under every configuration, writing
// into adv[k] at offset off.
func attackChunk(g Grad, o Options, configs []config, px []float32, labels []int64, ids []string, adv [][]float32, off int) error {
	n := len(ids)
	switch o.Attack {
	case "fgsm":
		for k, c := range configs {
			x, err := FGSM(g, px, labels, n, float32(c.eps))
			if err != nil {
				return err
			}
			copy(adv[k][off:], x)
		}
	case "pgd":
		for _, e := range o.Eps {
			alpha := o.Alpha
			if alpha == 0 {
				alpha = e / 4
			}
			snaps, err := PGD(g, px, labels, ids, PGDConfig{Eps: float32(e), Alpha: float32(alpha), Steps: o.Steps,
				RandomStart: o.RandomStart, Seed: o.Seed})
			if err != nil {
				return err
			}
			for j, s := range o.Steps {
				for k, c := range configs {
					if c.eps == e && c.steps == s {
						copy(adv[k][off:], snaps[j])
					}
				}
			}
		}
	case "taig":
		for k, c := range configs {
			alpha := o.Alpha
			if alpha == 0 {
				alpha = 1.0 / 255
			}
			x, err := TAIG(g, px, labels, ids, TAIGConfig{Eps: float32(c.eps), Alpha: float32(alpha), Iters: c.steps, Points: o.Points, Seed: o.Seed})
			if err != nil {
				return err
			}
			copy(adv[k][off:], x)
		}
	default:
		return fmt.Errorf("unknown attack %q", o.Attack)
	}
	return nil
}
