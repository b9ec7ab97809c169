package attack

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/arch"
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

// DefaultTargets is the number of target classes of AutoAttack's APGD-T.
const DefaultTargets = 9

// Options configure Run.
type Options struct {
	Model       string
	Attack      string    // fgsm, pgd, taig, apgd-ce, apgd-t, square or autoattack
	Eps         []float64 // one output copy of the stream per eps (and per steps for PGD)
	Steps       []int     // PGD steps, or TAIG or APGD iterations (one value)
	Alpha       float64   // step size; 0: eps/4 for PGD, 1/255 for TAIG
	RandomStart bool      // PGD
	Points      int       // TAIG integration points
	Targets     int       // APGD-T target classes (0: DefaultTargets, fewer if the model has fewer classes)
	Queries     int       // Square iterations
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
// each input record per configuration, with columns attack, eps and steps
// (and broken_by for the attacks that stop at a misclassification).
func Run(r *stream.Reader, out stream.OutputOptions, o Options) error {
	if _, mapped := r.Schema().Metadata().GetValue(stream.MetaClassGroups); mapped {
		return fmt.Errorf("%s: is class-mapped (lk-data --class-map): its labels stand for groups of classes, and an attack needs one true class per image", r.Name())
	}
	ev, err := openEvaluators(o)
	if err != nil {
		return err
	}
	defer ev.close()
	gr := ev.main
	m, g, classes := gr.Model, gr.Session, int64(gr.Classes)
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	if cols.Shape != m.Shape {
		return &model.ImageSizeError{Input: r.Name(), Got: cols.Shape, Model: m.Config.Name, Want: m.Shape}
	}
	if o.Attack == "apgd-t" || o.Attack == "fab-t" || o.Attack == "autoattack" {
		if o.Targets == 0 {
			o.Targets = min(DefaultTargets, int(classes)-1)
			if o.Targets < DefaultTargets && out.Log != nil {
				fmt.Fprintf(out.Log, "lk-attack: APGD-T and FAB-T with %d target classes (AutoAttack's %d need %d classes; model %s has %d)\n",
					o.Targets, DefaultTargets, DefaultTargets+1, m.Config.Name, classes)
			}
		}
		if int64(o.Targets)+1 > classes {
			return fmt.Errorf("model %s has %d classes: %d target classes (APGD-T, FAB-T) need at least %d (lower --targets)", m.Config.Name, classes, o.Targets, o.Targets+1)
		}
	}

	if len(o.Eps) == 0 {
		o.Eps = []float64{DefaultEps(m.Shape)}
		if out.Log != nil {
			fmt.Fprintf(out.Log, "lk-attack: eps %.0f/255 (AutoAttack's budget for %dx%d images)\n", o.Eps[0]*255, m.Shape.H, m.Shape.W)
		}
	}
	var configs []config
	for _, e := range o.Eps {
		switch o.Attack {
		case "pgd":
			for _, s := range o.Steps {
				configs = append(configs, config{e, s})
			}
		case "fgsm":
			configs = append(configs, config{e, 1})
		case "square":
			configs = append(configs, config{e, o.Queries})
		default:
			configs = append(configs, config{e, o.Steps[0]})
		}
	}
	sha, err := model.FileSHA256(o.Model)
	if err != nil {
		return err
	}
	fields := []arrow.Field{{Name: stream.ColAttack, Type: arrow.BinaryTypes.String},
		{Name: stream.ColEps, Type: arrow.PrimitiveTypes.Float64},
		{Name: stream.ColSteps, Type: arrow.PrimitiveTypes.Int64}}
	params := map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}
	staged := stream.Stages(o.Attack) != nil // writes broken_by
	if staged {
		fields = append(fields, arrow.Field{Name: stream.ColBrokenBy, Type: arrow.BinaryTypes.String})
		params["stages"] = strings.Join(stream.Stages(o.Attack), ",")
	}
	t, err := stream.NewTransformer(r, out, o.Step.With(o.Model, sha, params), len(configs), fields...)
	if err != nil {
		return err
	}
	t.Count = progress.New(o.Progress, "lk-attack "+o.Attack+" "+m.Config.Name, "images", t.Total)
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
		by := make([][]string, len(configs))
		for k := range adv {
			adv[k] = make([]float32, n*sz)
			by[k] = make([]string, n)
		}
		for at := 0; at < n; at += batch {
			end := min(at+batch, n)
			var err error
			if staged {
				err = ev.stagesChunk(o, configs, px[at*sz:end*sz], labels[at:end], idv[at:end], adv, by, at)
			} else {
				err = attackChunk(g, o, configs, px[at*sz:end*sz], labels[at:end], idv[at:end], adv, at*sz)
			}
			if err != nil {
				return model.AtRow(err, m.Config.Name, func(i int) string { return idv[at+i] })
			}
		}
		for k, c := range configs {
			cols := []arrow.Array{stream.ConstString(o.Attack, n), stream.ConstFloat64(c.eps, n), stream.ConstInt64(int64(c.steps), n)}
			if staged {
				cols = append(cols, stringArray(by[k]))
			}
			err := t.Write(rec, adv[k], cols...)
			if err != nil {
				return fmt.Errorf("writing attacked images: %v", err)
			}
		}
		return nil
	}
	return t.Each(each)
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

// evaluators are the sessions an attack needs: main for its gradient (and
// the model's description), dlr and logits for the stages that use them.
type evaluators struct {
	main, dlr, fab, logits *grad.Gradient
}

func openEvaluators(o Options) (*evaluators, error) {
	objs := map[string]grad.Objective{"taig": grad.TrueLogit, "apgd-t": grad.DLRTargeted, "fab-t": grad.Margin, "square": grad.Logits}
	obj, ok := objs[o.Attack]
	if !ok {
		obj = grad.CrossEntropy
	}
	ev := &evaluators{}
	var err error
	open := func(obj grad.Objective) *grad.Gradient {
		if err != nil {
			return nil
		}
		var g *grad.Gradient
		g, err = grad.Open(o.Model, o.Size, o.Mean, o.Std, obj, o.Runtime)
		return g
	}
	ev.main = open(obj)
	if ev.main != nil {
		arch.Say(o.Progress, "lk-attack", ev.main.Model.Notes...)
	}
	switch o.Attack {
	case "apgd-t":
		ev.dlr = ev.main
	case "fab-t":
		ev.fab, ev.logits = ev.main, open(grad.Logits)
	case "square":
		ev.logits = ev.main
	case "autoattack":
		ev.dlr, ev.fab, ev.logits = open(grad.DLRTargeted), open(grad.Margin), open(grad.Logits)
	}
	if ev.logits == nil {
		ev.logits = ev.main // the gradient session's logits serve the clean check
	}
	if err != nil {
		ev.close()
		return nil, err
	}
	return ev, nil
}

func (ev *evaluators) close() {
	seen := map[*grad.Gradient]bool{nil: true}
	for _, g := range []*grad.Gradient{ev.main, ev.dlr, ev.fab, ev.logits} {
		if !seen[g] {
			seen[g] = true
			g.Close()
		}
	}
}

// DefaultEps is AutoAttack's l-infinity budget for images of that size:
// 8/255 for small images (CIFAR's 32 px, RobustBench's convention up to
// 64 px), 4/255 for ImageNet-sized ones.
func DefaultEps(s stream.Shape) float64 {
	if max(s.H, s.W) <= 64 {
		return 8.0 / 255
	}
	return 4.0 / 255
}

// stagesChunk runs the stages of o.Attack on a chunk of images under every
// configuration, writing the images into adv[k] and who broke each into
// by[k], both at image offset at.
func (ev *evaluators) stagesChunk(o Options, configs []config, px []float32, labels []int64, ids []string, adv [][]float32, by [][]string, at int) error {
	n := len(ids)
	sz := len(px) / n
	cl := ev.logits.Classes
	logits := make([]float32, n*cl)
	if err := ev.logits.Eval(logits, make([]float32, n), make([]float32, len(px)), px, labels, labels, n); err != nil {
		return err
	}
	for k, c := range configs {
		copy(adv[k][at*sz:], px)
		var todo []int
		for i := 0; i < n; i++ {
			by[k][at+i] = stream.NotBroken
			if correct(logits[i*cl:(i+1)*cl], labels[i]) {
				todo = append(todo, i)
			} else {
				by[k][at+i] = stream.Clean
			}
		}
		for _, stage := range stream.Stages(o.Attack) {
			if len(todo) == 0 || c.eps == 0 { // no budget: every iterate is the image itself
				break
			}
			x, lab, idv := gather(px, todo, sz), gatherI(labels, todo), make([]string, len(todo))
			for j, i := range todo {
				idv[j] = ids[i]
			}
			var res Result
			var err error
			eps := float32(c.eps)
			switch stage {
			case "apgd-ce":
				res, err = APGD(ev.main.Session, x, lab, idv, APGDConfig{Eps: eps, Iters: o.Steps[0], Classes: cl, Seed: o.Seed})
			case "apgd-t":
				res, err = APGD(ev.dlr.Session, x, lab, idv, APGDConfig{Eps: eps, Iters: o.Steps[0], Classes: cl, Seed: o.Seed, Targets: o.Targets})
			case "fab-t":
				res, err = FAB(ev.fab.Session, ev.logits.Session, x, lab, DefaultFAB(eps, o.Steps[0], cl, o.Targets))
			case "square":
				sh := ev.logits.Model.Shape
				res, err = Square(ev.logits.Session, x, lab, idv, SquareConfig{Eps: eps, Queries: o.Queries, PInit: 0.8,
					Classes: cl, H: sh.H, W: sh.W, Seed: o.Seed})
			}
			if err != nil {
				return err
			}
			var left []int
			for j, i := range todo {
				if res.Broken[j] {
					by[k][at+i] = stage
					copy(adv[k][(at+i)*sz:(at+i+1)*sz], res.Adv[j*sz:(j+1)*sz])
				} else {
					left = append(left, i)
				}
			}
			todo = left
		}
	}
	return nil
}

func stringArray(v []string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}
