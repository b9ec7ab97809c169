package dataset

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

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

// UnreadableError is an image that could not be read or decoded.
type UnreadableError struct {
	Image string
	Err   error
}

func (e *UnreadableError) Error() string { return fmt.Sprintf("%s: %v", e.Image, e.Err) }
func (e *UnreadableError) Unwrap() error { return e.Err }

// SizeError is an image whose size after preprocessing is not the
// stream's (the first image's).
type SizeError struct {
	Image     string
	Got, Want stream.Shape
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is %s after preprocessing but the stream is %s: every image needs one size", e.Image, e.Got, e.Want)
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

	type row struct {
		it    Item
		frame int
	}
	var (
		wr     *stream.Writer
		schema *arrow.Schema
		shape  stream.Shape
		batch  []row
		pix    []float32
	)
	layout := s.columns()
	meter := progress.New(o.Progress, "lk-data", "images", int64(len(items)))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch)
		idb := array.NewStringBuilder(memory.DefaultAllocator)
		lb := array.NewInt32Builder(memory.DefaultAllocator)
		for _, r := range batch {
			idb.Append(s.rowID(r.it, r.frame))
			lb.Append(r.it.Label)
		}
		cols := []arrow.Array{idb.NewArray(), lb.NewArray(), stream.Float32List(pix, shape.Size())}
		idb.Release()
		lb.Release()
		for _, c := range layout {
			if c.str != nil {
				b := array.NewStringBuilder(memory.DefaultAllocator)
				for _, r := range batch {
					b.Append(c.str(r.it, r.frame))
				}
				cols = append(cols, b.NewArray())
				b.Release()
			} else {
				b := array.NewInt64Builder(memory.DefaultAllocator)
				for _, r := range batch {
					b.Append(c.num(r.it, r.frame))
				}
				cols = append(cols, b.NewArray())
				b.Release()
			}
		}
		for _, t := range o.Tags {
			cols = append(cols, stream.ConstString(t[1], n))
		}
		rec := array.NewRecord(schema, cols, int64(n))
		err := wr.Write(rec)
		rec.Release()
		for _, x := range cols {
			x.Release()
		}
		meter.Add(n)
		batch, pix = batch[:0], pix[:0] // written: the IPC writer has copied the values out
		return err
	}
	for ch := range order {
		d := <-ch
		if d.err != nil {
			if !o.SkipBad {
				return skipped, &UnreadableError{Image: s.Name(d.it), Err: d.err}
			}
			skipped++
			if o.Log != nil {
				fmt.Fprintf(o.Log, "skipping %s: %v\n", s.Name(d.it), d.err)
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
			for _, c := range layout {
				var t arrow.DataType = arrow.BinaryTypes.String
				if c.num != nil {
					t = arrow.PrimitiveTypes.Int64
				}
				extra = append(extra, arrow.Field{Name: c.name, Type: t})
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
			return skipped, &SizeError{Image: s.Name(d.it), Got: d.shape, Want: shape}
		}
		for f := 0; f < d.frames; f++ {
			batch = append(batch, row{d.it, f})
			pix = append(pix, d.pix[f*shape.Size():(f+1)*shape.Size()]...)
			if len(batch) == rows {
				if err := flush(); err != nil {
					return skipped, err
				}
			}
		}
		if d.frames == 1 {
			pixPool.Put(&d.pix) // copied into the batch: the next image's buffer
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

// layoutColumn is a column a dataset layout adds to each row, from the
// row's item and frame: a utf8 column (str) or an int64 one (num).
type layoutColumn struct {
	name string
	str  func(it Item, frame int) string
	num  func(it Item, frame int) int64
}

// columns lists the columns of the source's layout: ImageNet-C's
// corruption and severity, ImageNet-9's variant, cue-conflict's texture,
// ImageNet-P's perturbation, seq, frame and difficulty (the names
// lk-corrupt and lk-render write).
func (s *Source) columns() []layoutColumn {
	var c []layoutColumn
	if s.Corrupted {
		c = append(c, layoutColumn{name: stream.ColCorruption, str: func(it Item, _ int) string { return it.Corruption }},
			layoutColumn{name: stream.ColSeverity, num: func(it Item, _ int) int64 { return int64(it.Severity) }})
	}
	if s.Variants {
		c = append(c, layoutColumn{name: stream.ColVariant, str: func(it Item, _ int) string { return it.Variant }})
	}
	if s.CueConflict {
		c = append(c, layoutColumn{name: stream.ColTexture, num: func(it Item, _ int) int64 { return int64(it.Texture) }})
	}
	if s.Sequences {
		c = append(c, layoutColumn{name: stream.ColPerturbation, str: func(it Item, _ int) string { return it.Perturbation }},
			layoutColumn{name: stream.ColSeq, str: func(it Item, _ int) string { return it.ID }},
			layoutColumn{name: stream.ColFrame, num: func(_ Item, f int) int64 { return int64(f) }},
			layoutColumn{name: stream.ColDifficulty, num: func(it Item, _ int) int64 { return int64(it.Difficulty) }})
	}
	return c
}

// rowID is a row's id: the item's, with the frame number for videos.
func (s *Source) rowID(it Item, frame int) string {
	if s.Sequences {
		return it.ID + "/" + strconv.Itoa(frame)
	}
	return it.ID
}

// pixPool holds the buffers of images whose values the batch has copied,
// for the workers' next images: a fresh buffer (600 kB at 224 px) is
// zeroed by the allocator first, and the pages faulted in.
var pixPool sync.Pool

// load decodes and preprocesses an item: one image, or every frame of a
// video, each frame preprocessed as an image.
func load(s *Source, it Item, o WriteOptions) (pix []float32, frames int, sh stream.Shape, err error) {
	if !s.Sequences {
		img, err := s.Load(it, o.MaxPixels)
		if err != nil {
			return nil, 0, sh, err
		}
		var buf []float32
		if b, ok := pixPool.Get().(*[]float32); ok {
			buf = *b
		}
		pix, sh, err = o.Spec.Apply(img, buf)
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
