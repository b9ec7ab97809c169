package corrupt

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Options configure Run.
type Options struct {
	Corruptions []string
	Severities  []int
	Seed        uint64
	Table       string      // auto (by image size), imagenet or cifar
	FrostDir    string      // the reference's frost images, if the user has them
	Workers     int         // 0: all cores
	Step        stream.Step // provenance: the tool and its command line (cli.Step)
	Progress    io.Writer
}

// Run corrupts every image of r under every (corruption, severity) and
// writes each input record once per pair, in that order, with the image
// replaced and columns corruption and severity appended.
func Run(r *stream.Reader, out stream.OutputOptions, o Options) error {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	sh := cols.Shape
	if sh.C != 3 {
		return &NotRGBError{Input: r.Name(), Shape: sh}
	}
	var table Table
	switch o.Table {
	case "", "auto":
		table = TableFor(sh.H, sh.W)
	case "imagenet":
		table = ImageNet
	case "cifar":
		table = CIFAR
	default:
		return fmt.Errorf("parameter table %q: want auto, imagenet or cifar", o.Table)
	}
	for _, c := range o.Corruptions {
		if _, ok := corruptions[c]; !ok {
			return fmt.Errorf("corruption %q: want one of %v", c, Names())
		}
	}
	type pair struct {
		name string
		sev  int
	}
	var pairs []pair
	for _, c := range o.Corruptions {
		for _, s := range o.Severities {
			pairs = append(pairs, pair{c, s})
		}
	}
	tname := map[Table]string{ImageNet: "imagenet", CIFAR: "cifar"}[table]
	extra := map[string]string{"seed": strconv.FormatUint(o.Seed, 10), "table": tname}
	if slices.Contains(o.Corruptions, "frost") {
		// frost numbers are comparable with ImageNet-C's only with its photographs
		extra["frost"] = "procedural"
		if o.FrostDir != "" {
			extra["frost"] = "photographs"
		}
	}
	t, err := stream.NewTransformer(r, out, o.Step.With("", "", extra), len(pairs),
		arrow.Field{Name: stream.ColCorruption, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: stream.ColSeverity, Type: arrow.PrimitiveTypes.Int64})
	if err != nil {
		return err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	t.Count = progress.New(o.Progress, "lk-corrupt", "images", t.Total)
	sz := sh.Size()
	cfg := Config{Table: table, Seed: o.Seed, FrostDir: o.FrostDir}
	each := func(rec arrow.Record, px []float32, n int) error {
		ids := rec.Column(cols.ID).(*array.String)
		imgs := make([]*Img, n) // each row converted once, read by every pair
		defer func() {
			for _, m := range imgs {
				if m != nil {
					release(m)
				}
			}
		}()
		for i := range imgs {
			m, err := toImg(px[i*sz:(i+1)*sz], sh)
			if err != nil {
				return fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err)
			}
			imgs[i] = m
		}
		// the pairs a group at a time, enough (pair, row) jobs to keep every
		// worker busy, each group written before the next: a batch's output
		// (95 conditions of 32 rows at 224 px: 1.8 GB) is never all in
		// memory, and the group's buffers serve every group (Write has
		// encoded a record when it returns)
		group := max(1, min(len(pairs), (4*workers+n-1)/n))
		outs := make([][]float32, group)
		for k := range outs {
			outs[k] = make([]float32, n*sz)
		}
		for g0 := 0; g0 < len(pairs); g0 += group {
			gp := pairs[g0:min(g0+group, len(pairs))]
			// every (pair, row) is a job; results land at fixed offsets
			err := parallel(len(gp)*n, workers, func(j int) error {
				k, i := j/n, j%n
				res, err := Apply(gp[k].name, imgs[i], gp[k].sev, cfg, ids.Value(i))
				if err != nil {
					return fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err)
				}
				fromImg(outs[k][i*sz:(i+1)*sz], res, sh)
				if unsafe.SliceData(res.Pix) != unsafe.SliceData(imgs[i].Pix) { // never the input, which other pairs read
					release(res)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for k, p := range gp {
				if err := t.Write(rec, outs[k], stream.ConstString(p.name, n), stream.ConstInt64(int64(p.sev), n)); err != nil {
					return fmt.Errorf("writing corrupted images: %v", err)
				}
			}
		}
		return nil
	}
	return t.Each(each)
}

// parallel runs do(0), ..., do(n-1) on workers goroutines and returns
// the error of the lowest-numbered job that failed. Every job runs, so
// failures never stall the feed.
func parallel(n, workers int, do func(j int) error) error {
	errs := make([]error, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for g := 0; g < min(workers, n); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				errs[j] = do(j)
			}
		}()
	}
	for j := 0; j < n; j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// toImg converts a CHW float32 image to the HWC float64 layout. A NaN or
// infinite value is an error: no corruption has a meaning for it (and
// shot noise's count would have none).
func toImg(px []float32, sh stream.Shape) (*Img, error) {
	m := fullImg(sh.H, sh.W)
	plane := sh.H * sh.W
	for c := 0; c < 3; c++ {
		for p := 0; p < plane; p++ {
			v := float64(px[c*plane+p])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				release(m)
				return nil, fmt.Errorf("pixel (channel %d, y %d, x %d) is %v: images must have finite values (in [0, 1])", c, p/sh.W, p%sh.W, v)
			}
			m.Pix[p*3+c] = v
		}
	}
	return m, nil
}

func fromImg(dst []float32, m *Img, sh stream.Shape) {
	plane := sh.H * sh.W
	for c := 0; c < 3; c++ {
		for p := 0; p < plane; p++ {
			dst[c*plane+p] = float32(m.Pix[p*3+c])
		}
	}
}

// NotRGBError is an image stream without three channels: the corruptions
// and perturbations are defined on RGB images.
type NotRGBError struct {
	Input string
	Shape stream.Shape
}

func (e *NotRGBError) Error() string {
	return fmt.Sprintf("%s: images are %s; the corruptions and perturbations are defined on RGB images", e.Input, e.Shape)
}
