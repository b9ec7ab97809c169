package corrupt

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Stream columns lk-corrupt appends.
const (
	ColCorruption = "corruption"
	ColSeverity   = "severity"
)

// Options configure Run.
type Options struct {
	Corruptions []string
	Severities  []int
	Seed        uint64
	Table       string // auto (by image size), imagenet or cifar
	FrostDir    string // the reference's frost images, if the user has them
	Workers     int    // 0: all cores
	Args        []string
	Progress    io.Writer
}

// Run corrupts every image of r under every (corruption, severity) and
// writes each input record once per pair, in that order, with the image
// replaced and columns corruption and severity appended.
func Run(r *stream.Reader, w io.Writer, o Options) error {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	sh := cols.Shape
	if sh.C != 3 {
		return fmt.Errorf("%s: images are %s; the corruptions are defined on RGB images (lk-data --gray3 copies grey to three channels)", r.Name(), sh)
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
		return fmt.Errorf("--table %q: want auto, imagenet or cifar", o.Table)
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
	md := r.Schema().Metadata()
	var total int64
	if v, ok := md.GetValue(stream.MetaRows); ok {
		if n, err := strconv.Atoi(v); err == nil {
			total = int64(n * len(pairs))
			md = stream.WithMeta(md, stream.MetaRows, strconv.FormatInt(total, 10))
		}
	}
	tname := map[Table]string{ImageNet: "imagenet", CIFAR: "cifar"}[table]
	md, err = stream.AddStep(md, stream.Step{Tool: "lk-corrupt", Args: o.Args,
		Extra: map[string]string{"seed": strconv.FormatUint(o.Seed, 10), "table": tname}})
	if err != nil {
		return err
	}
	schema, err := stream.Append(r.Schema(), md,
		arrow.Field{Name: ColCorruption, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: ColSeverity, Type: arrow.PrimitiveTypes.Int64})
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	wr, err := stream.NewWriter(w, schema)
	if err != nil {
		return err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	meter := progress.New(o.Progress, "lk-corrupt", "images", total)
	sz := sh.Size()
	for r.Next() {
		rec := r.Record()
		n := int(rec.NumRows())
		if n == 0 {
			continue
		}
		px, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return fmt.Errorf("%s: column image: %v", r.Name(), err)
		}
		ids := rec.Column(cols.ID).(*array.String)
		imgs := make([]*Img, n) // each row converted once, read by every pair
		for i := range imgs {
			imgs[i] = toImg(px[i*sz:(i+1)*sz], sh)
		}
		outs := make([][]float32, len(pairs))
		for k := range outs {
			outs[k] = make([]float32, n*sz)
		}
		// every (pair, row) is a job; results land at fixed offsets
		cfg := Config{Table: table, Seed: o.Seed, FrostDir: o.FrostDir}
		jobs := make(chan [2]int)
		var once sync.Once
		var firstErr error
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					k, i := j[0], j[1]
					res, err := Apply(pairs[k].name, imgs[i], pairs[k].sev, cfg, ids.Value(i))
					if err != nil {
						once.Do(func() { firstErr = fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err) })
						continue
					}
					fromImg(outs[k][i*sz:(i+1)*sz], res, sh)
				}
			}()
		}
		for k := range pairs {
			for i := 0; i < n; i++ {
				jobs <- [2]int{k, i}
			}
		}
		close(jobs)
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		for k, p := range pairs {
			err := wr.WriteImages(schema, rec, cols.Image, outs[k], sz, stream.ConstString(p.name, n), stream.ConstInt64(int64(p.sev), n))
			if err != nil {
				return fmt.Errorf("writing corrupted images: %v", err)
			}
			meter.Add(n)
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	meter.Done()
	return wr.Close()
}

// toImg converts a CHW float32 image to the HWC float64 layout.
func toImg(px []float32, sh stream.Shape) *Img {
	m := newImg(sh.H, sh.W)
	plane := sh.H * sh.W
	for c := 0; c < 3; c++ {
		for p := 0; p < plane; p++ {
			m.Pix[p*3+c] = float64(px[c*plane+p])
		}
	}
	return m
}

func fromImg(dst []float32, m *Img, sh stream.Shape) {
	plane := sh.H * sh.W
	for c := 0; c < 3; c++ {
		for p := 0; p < plane; p++ {
			dst[c*plane+p] = float32(m.Pix[p*3+c])
		}
	}
}
