package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

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
	t, err := stream.NewTransformer(r, out, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}), len(o.Styles),
		arrow.Field{Name: stream.ColVariant, Type: arrow.BinaryTypes.String})
	if err != nil {
		return err
	}
	t.Count = progress.New(o.Progress, "lk-render", "images", t.Total)
	sh := t.Cols.Shape
	sz := sh.Size()
	var (
		recs   []arrow.Record
		px     [][]float32 // per row
		ids    []string
		labels []int32
	)
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	// every record is collected first; the variants are written once the
	// input has ended
	collect := func(rec arrow.Record, p []float32, n int) error {
		if o.MaxBytes > 0 && int64(len(px)+n)*int64(sz)*4 > o.MaxBytes {
			return &TooLargeError{Input: r.Name(), Limit: o.MaxBytes}
		}
		rec.Retain()
		recs = append(recs, rec)
		idc := rec.Column(t.Cols.ID).(*array.String)
		lc := rec.Column(t.Cols.Label).(*array.Int32)
		for i := 0; i < n; i++ {
			px = append(px, p[i*sz:(i+1)*sz])
			ids = append(ids, idc.Value(i))
			labels = append(labels, lc.Value(i))
		}
		return nil
	}
	write := func() error {
		byClass := map[int32][]int{}
		var classes []int32
		for i, l := range labels {
			if l < 0 {
				continue
			}
			if byClass[l] == nil {
				classes = append(classes, l)
			}
			byClass[l] = append(byClass[l], i)
		}
		slices.Sort(classes)
		masks := make([][]bool, len(px))
		for i := range px {
			masks[i] = Mask(px[i], sh)
		}
		for _, v := range o.Styles {
			row := 0
			for _, rec := range recs {
				n := int(rec.NumRows())
				out := make([]float32, n*sz)
				for i := 0; i < n; i++ {
					k, dst := row+i, out[i*sz:(i+1)*sz]
					switch v {
					case "original":
						copy(dst, px[k])
					case "only_fg":
						Compose(dst, px[k], nil, masks[k], sh)
					default:
						if labels[k] < 0 {
							return fmt.Errorf("%s: row id %q has no label; %s needs labelled images", r.Name(), ids[k], v)
						}
						j := Donor(v, k, ids, labels, byClass, classes, o.Seed)
						if j < 0 {
							return fmt.Errorf("%s: row id %q: no other image of class %d to take a background from", r.Name(), ids[k], labels[k])
						}
						Compose(dst, px[k], px[j], masks[k], sh)
					}
				}
				if err := t.Write(rec, out, stream.ConstString(v, n)); err != nil {
					return err
				}
				row += n
			}
		}
		return nil
	}
	return t.EachThen(collect, write)
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
