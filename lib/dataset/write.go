package dataset

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/corrupt"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/video"
)

// WriteOptions configure Write.
type WriteOptions struct {
	Spec      preprocess.Spec
	MaxPixels int
	SkipBad   bool
	Workers   int // decoding goroutines; 0: all cores
	BatchRows int
	Meta      arrow.Metadata // extra schema metadata (provenance)
	Progress  io.Writer
	Log       io.Writer // skipped files are named here
	// Tags are constant utf8 columns on every row (e.g. variant=mixed_same
	// for ImageNet-9), in the order given, so that streams of different
	// sets stay apart when scored together.
	Tags [][2]string
}

// decoded is one item's pixels: one image, or a video's frames end to end.
type decoded struct {
	it     Item
	pix    []float32
	frames int
	shape  stream.Shape
	err    error
}

// Write decodes and preprocesses items on all cores and writes them as an
// image stream to w, in the order of items (a video's frames in their
// order). It returns the number of skipped images or videos.
func Write(s *Source, items []Item, w io.Writer, o WriteOptions) (skipped int, err error) {
	if len(items) == 0 {
		return 0, fmt.Errorf("%s: no images selected", s.Root)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rows := o.BatchRows
	if rows <= 0 {
		rows = stream.DefaultBatchRows
	}
	// Workers decode into per-item result channels queued in input order,
	// so output order never depends on which worker finishes first.
	type job struct {
		it  Item
		out chan decoded
	}
	jobs := make(chan job, workers*4)
	order := make(chan chan decoded, workers*4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(order)
		defer close(jobs)
		for _, it := range items {
			ch := make(chan decoded, 1)
			select {
			case jobs <- job{it, ch}:
			case <-stop:
				return
			}
			select {
			case order <- ch:
			case <-stop:
				return
			}
		}
	}()
	for i := 0; i < workers; i++ {
		go func() {
			for j := range jobs {
				d := decoded{it: j.it}
				d.pix, d.frames, d.shape, d.err = load(s, j.it, o)
				j.out <- d
			}
		}()
	}

	var (
		wr       *stream.Writer
		schema   *arrow.Schema
		shape    stream.Shape
		ids      []string
		labels   []int32
		pix      []float32
		corrs    []string // ImageNet-C trees: corruption and severity per row
		sevs     []int64
		variants []string // ImageNet-9 trees
		seqs     []string // ImageNet-P trees: perturbation, seq, frame, difficulty per row
		perts    []string
		frames   []int64
		diffs    []int64
	)
	meter := progress.New(o.Progress, "lk-data", "images", int64(len(items)))
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		idb := array.NewStringBuilder(memory.DefaultAllocator)
		idb.AppendValues(ids, nil)
		idc := idb.NewArray()
		lb := array.NewInt32Builder(memory.DefaultAllocator)
		lb.AppendValues(labels, nil)
		lc := lb.NewArray()
		ic := stream.Float32List(pix, shape.Size())
		cols := []arrow.Array{idc, lc, ic}
		if s.Corrupted {
			cb := array.NewStringBuilder(memory.DefaultAllocator)
			cb.AppendValues(corrs, nil)
			sb := array.NewInt64Builder(memory.DefaultAllocator)
			sb.AppendValues(sevs, nil)
			cols = append(cols, cb.NewArray(), sb.NewArray())
			cb.Release()
			sb.Release()
		}
		if s.Variants {
			vb := array.NewStringBuilder(memory.DefaultAllocator)
			vb.AppendValues(variants, nil)
			cols = append(cols, vb.NewArray())
			vb.Release()
		}
		if s.Sequences {
			pb := array.NewStringBuilder(memory.DefaultAllocator)
			pb.AppendValues(perts, nil)
			qb := array.NewStringBuilder(memory.DefaultAllocator)
			qb.AppendValues(seqs, nil)
			fb := array.NewInt64Builder(memory.DefaultAllocator)
			fb.AppendValues(frames, nil)
			db := array.NewInt64Builder(memory.DefaultAllocator)
			db.AppendValues(diffs, nil)
			cols = append(cols, pb.NewArray(), qb.NewArray(), fb.NewArray(), db.NewArray())
			pb.Release()
			qb.Release()
			fb.Release()
			db.Release()
		}
		for _, t := range o.Tags {
			cols = append(cols, stream.ConstString(t[1], len(ids)))
		}
		rec := array.NewRecord(schema, cols, int64(len(ids)))
		err := wr.Write(rec)
		rec.Release()
		for _, x := range cols {
			x.Release()
		}
		idb.Release()
		lb.Release()
		meter.Add(len(ids))
		ids, labels, pix = ids[:0], labels[:0], make([]float32, 0, rows*shape.Size())
		corrs, sevs, variants = corrs[:0], sevs[:0], variants[:0]
		perts, seqs, frames, diffs = perts[:0], seqs[:0], frames[:0], diffs[:0]
		return err
	}
	for ch := range order {
		d := <-ch
		if d.err != nil {
			if !o.SkipBad {
				return skipped, fmt.Errorf("%s: %v (use --skip-bad to skip unreadable images)", s.Name(d.it), d.err)
			}
			skipped++
			if o.Log != nil {
				fmt.Fprintf(o.Log, "lk-data: skipping %s: %v\n", s.Name(d.it), d.err)
			}
			continue
		}
		if wr == nil {
			shape = d.shape
			md := o.Meta
			if !s.Sequences { // a video's frames are counted when decoded
				md = stream.WithMeta(md, stream.MetaRows, strconv.Itoa(len(items)))
			}
			if s.LabelSpace != "" {
				md = stream.WithMeta(md, stream.MetaLabelSpace, s.LabelSpace)
			}
			if len(s.Classes) > 0 && len(s.Classes) <= 1000 {
				md = stream.WithMeta(md, stream.MetaClasses, strings.Join(s.Classes, ","))
			}
			if o.SkipBad {
				md = stream.WithMeta(md, stream.MetaSkipped, "on: unreadable images are skipped and counted on stderr, so this stream may have fewer rows than "+stream.MetaRows)
			}
			var extra []arrow.Field
			if s.Corrupted {
				extra = append(extra, arrow.Field{Name: "corruption", Type: arrow.BinaryTypes.String},
					arrow.Field{Name: "severity", Type: arrow.PrimitiveTypes.Int64})
			}
			if s.Variants {
				extra = append(extra, arrow.Field{Name: "variant", Type: arrow.BinaryTypes.String})
			}
			if s.Sequences {
				extra = append(extra, arrow.Field{Name: corrupt.ColPerturbation, Type: arrow.BinaryTypes.String},
					arrow.Field{Name: corrupt.ColSeq, Type: arrow.BinaryTypes.String},
					arrow.Field{Name: corrupt.ColFrame, Type: arrow.PrimitiveTypes.Int64},
					arrow.Field{Name: corrupt.ColDifficulty, Type: arrow.PrimitiveTypes.Int64})
			}
			for _, t := range o.Tags {
				extra = append(extra, arrow.Field{Name: t[0], Type: arrow.BinaryTypes.String})
			}
			schema = stream.ImageSchema(shape, md, extra...)
			if wr, err = stream.NewWriter(w, schema); err != nil {
				return skipped, err
			}
			pix = make([]float32, 0, rows*shape.Size())
		}
		if d.shape != shape {
			return skipped, fmt.Errorf("%s is %s after preprocessing but the stream is %s; give --resize and --crop so that every image gets one size",
				s.Name(d.it), d.shape, shape)
		}
		for f := 0; f < d.frames; f++ {
			id := d.it.ID
			if s.Sequences {
				id += "/" + strconv.Itoa(f)
				perts, seqs = append(perts, d.it.Perturbation), append(seqs, d.it.ID)
				frames, diffs = append(frames, int64(f)), append(diffs, int64(d.it.Difficulty))
			}
			ids = append(ids, id)
			labels = append(labels, d.it.Label)
			corrs, sevs = append(corrs, d.it.Corruption), append(sevs, int64(d.it.Severity))
			variants = append(variants, d.it.Variant)
			pix = append(pix, d.pix[f*shape.Size():(f+1)*shape.Size()]...)
			if len(ids) == rows {
				if err := flush(); err != nil {
					return skipped, err
				}
			}
		}
	}
	if wr == nil {
		return skipped, fmt.Errorf("%s: all %d selected images were unreadable", s.Root, len(items))
	}
	if err := flush(); err != nil {
		return skipped, err
	}
	meter.Done()
	return skipped, wr.Close()
}

// load decodes and preprocesses an item: one image, or every frame of a
// video, each frame preprocessed as an image.
func load(s *Source, it Item, o WriteOptions) (pix []float32, frames int, sh stream.Shape, err error) {
	if !s.Sequences {
		img, err := s.Load(it, o.MaxPixels)
		if err != nil {
			return nil, 0, sh, err
		}
		pix, sh, err = o.Spec.Apply(img, nil)
		return pix, 1, sh, err
	}
	imgs, err := video.Frames(it.Path, o.MaxPixels)
	if err != nil {
		return nil, 0, sh, err
	}
	for k, img := range imgs {
		var fsh stream.Shape
		var px []float32
		if px, fsh, err = o.Spec.Apply(img, nil); err != nil {
			return nil, 0, sh, fmt.Errorf("frame %d: %v", k, err)
		}
		if k == 0 {
			sh, pix = fsh, make([]float32, 0, len(imgs)*len(px))
		}
		pix = append(pix, px...)
	}
	return pix, len(imgs), sh, nil
}
