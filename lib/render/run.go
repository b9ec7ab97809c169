package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Options configure RunRenditions and RunBackgrounds.
type Options struct {
	Styles   []string    // renditions, or background variants
	Seed     uint64      // background donors
	MaxBytes int64       // RunBackgrounds: the most pixel bytes held
	Step     stream.Step // provenance: the tool and its command line (cli.Step)
	Progress io.Writer   // hears the progress line (nil: none)
}

// RunRenditions writes every record of r once per style, in that order,
// with the images rendered and a rendition column appended.
func RunRenditions(r *stream.Reader, out stream.OutputOptions, o Options) error {
	for _, s := range o.Styles {
		if !slices.Contains(Renditions, s) {
			return fmt.Errorf("rendition %q: want one of %v", s, Renditions)
		}
	}
	t, err := stream.NewTransformer(r, out, o.Step, len(o.Styles),
		arrow.Field{Name: stream.ColRendition, Type: arrow.BinaryTypes.String})
	if err != nil {
		return err
	}
	t.Count = progress.New(o.Progress, "lk-render", "images", t.Total)
	sh := t.Cols.Shape
	sz := sh.Size()
	return t.Each(func(rec arrow.Record, px []float32, n int) error {
		for _, s := range o.Styles {
			out := make([]float32, n*sz)
			for i := 0; i < n; i++ {
				Render(s, out[i*sz:(i+1)*sz], px[i*sz:(i+1)*sz], sh)
			}
			if err := t.Write(rec, out, stream.ConstString(s, n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunBackgrounds reads the whole stream (donors may come from any row),
// then writes it once per variant, in that order, with the images'
// backgrounds replaced and a variant column appended. Donors are drawn
// from the stream's own images with labels >= 0.
func RunBackgrounds(r *stream.Reader, out stream.OutputOptions, o Options) error {
	for _, s := range o.Styles {
		if !slices.Contains(Variants, s) {
			return fmt.Errorf("variant %q: want one of %v", s, Variants)
		}
	}
	return held(r, out, o, len(o.Styles), arrow.Field{Name: stream.ColVariant, Type: arrow.BinaryTypes.String}, func(h *heldSet) error {
		for _, v := range o.Styles {
			err := h.each(func(k int, dst []float32) (arrow.Array, error) {
				switch v {
				case "original":
					copy(dst, h.px[k])
				case "only_fg":
					Compose(dst, h.px[k], nil, h.masks[k], h.sh)
				default:
					if h.labels[k] < 0 {
						return nil, fmt.Errorf("%s: row id %q has no label; %s needs labelled images", r.Name(), h.ids[k], v)
					}
					j := Donor(v, k, h.ids, h.labels, h.byClass, h.classes, o.Seed)
					if j < 0 {
						return nil, fmt.Errorf("%s: row id %q: no other image of class %d to take a background from", r.Name(), h.ids[k], h.labels[k])
					}
					Compose(dst, h.px[k], h.px[j], h.masks[k], h.sh)
				}
				return nil, nil
			}, func(n int) arrow.Array { return stream.ConstString(v, n) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// RunCueConflict reads the whole stream, then writes each image once as
// a cue-conflict image: its silhouette filled with the texture of an
// image of another class (TextureDonor), with the column texture, the
// donor's label (the label stays the shape's).
func RunCueConflict(r *stream.Reader, out stream.OutputOptions, o Options) error {
	return held(r, out, o, 1, arrow.Field{Name: stream.ColTexture, Type: arrow.PrimitiveTypes.Int64}, func(h *heldSet) error {
		var tex []int64
		return h.each(func(k int, dst []float32) (arrow.Array, error) {
			if h.labels[k] < 0 {
				return nil, fmt.Errorf("%s: row id %q has no label; a cue-conflict image needs its shape's class", r.Name(), h.ids[k])
			}
			j := TextureDonor(k, h.ids, h.labels, h.byClass, h.classes, o.Seed)
			if j < 0 {
				return nil, fmt.Errorf("%s: row id %q: no image of another class to take a texture from", r.Name(), h.ids[k])
			}
			CueConflict(dst, h.masks[k], h.px[j], h.masks[j], h.sh)
			tex = append(tex, int64(h.labels[j]))
			return nil, nil
		}, func(n int) arrow.Array {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			defer b.Release()
			b.AppendValues(tex[len(tex)-n:], nil)
			return b.NewArray()
		})
	})
}

// heldSet is a whole stream held in memory, for variants that draw from
// any of its images.
type heldSet struct {
	t       *stream.Transformer
	sh      stream.Shape
	recs    []arrow.Record
	px      [][]float32 // per row
	ids     []string
	labels  []int32
	masks   [][]bool
	byClass map[int32][]int // rows per label >= 0
	classes []int32         // labels present, sorted
}

// each writes every held record once: fill makes row k's image in dst,
// col the condition column of n rows (after the record's rows are made).
func (h *heldSet) each(fill func(k int, dst []float32) (arrow.Array, error), col func(n int) arrow.Array) error {
	sz := h.sh.Size()
	row := 0
	for _, rec := range h.recs {
		n := int(rec.NumRows())
		out := make([]float32, n*sz)
		for i := 0; i < n; i++ {
			if _, err := fill(row+i, out[i*sz:(i+1)*sz]); err != nil {
				return err
			}
		}
		if err := h.t.Write(rec, out, col(n)); err != nil {
			return err
		}
		row += n
	}
	return nil
}

// held collects every record of r (within o.MaxBytes), then calls write
// on the set; the output has copies rows per input row and the column
// field appended.
func held(r *stream.Reader, out stream.OutputOptions, o Options, copies int, field arrow.Field, write func(*heldSet) error) error {
	t, err := stream.NewTransformer(r, out, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}), copies, field)
	if err != nil {
		return err
	}
	t.Count = progress.New(o.Progress, "lk-render", "images", t.Total)
	h := &heldSet{t: t, sh: t.Cols.Shape, byClass: map[int32][]int{}}
	sz := h.sh.Size()
	defer func() {
		for _, rec := range h.recs {
			rec.Release()
		}
	}()
	collect := func(rec arrow.Record, p []float32, n int) error {
		if o.MaxBytes > 0 && int64(len(h.px)+n)*int64(sz)*4 > o.MaxBytes {
			return &TooLargeError{Input: r.Name(), Limit: o.MaxBytes}
		}
		rec.Retain()
		h.recs = append(h.recs, rec)
		idc := rec.Column(t.Cols.ID).(*array.String)
		lc := rec.Column(t.Cols.Label).(*array.Int32)
		for i := 0; i < n; i++ {
			h.px = append(h.px, p[i*sz:(i+1)*sz])
			h.ids = append(h.ids, idc.Value(i))
			h.labels = append(h.labels, lc.Value(i))
		}
		return nil
	}
	return t.EachThen(collect, func() error {
		for i, l := range h.labels {
			if l < 0 {
				continue
			}
			if h.byClass[l] == nil {
				h.classes = append(h.classes, l)
			}
			h.byClass[l] = append(h.byClass[l], i)
		}
		slices.Sort(h.classes)
		h.masks = make([][]bool, len(h.px))
		for i := range h.px {
			h.masks[i] = Mask(h.px[i], h.sh)
		}
		return write(h)
	})
}

// TooLargeError is a stream with more image data than Options.MaxBytes:
// backgrounds are drawn from the whole stream, so it is held in memory.
type TooLargeError struct {
	Input string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: more than %d MB of images; backgrounds are drawn from the whole stream, so it is held in memory", e.Input, e.Limit>>20)
}
