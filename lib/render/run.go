package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// Stream columns lk-render appends.
const (
	ColRendition = "rendition"
	ColVariant   = "variant"
)

// Options configure RunRenditions and RunBackgrounds.
type Options struct {
	Styles   []string // renditions, or background variants
	Seed     uint64   // background donors
	MaxBytes int64    // RunBackgrounds: the most pixel bytes held
	Args     []string
}

func setup(r *stream.Reader, col string, o Options, extra map[string]string) (stream.ImageColumns, *arrow.Schema, error) {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return cols, nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	md := r.Schema().Metadata()
	if v, ok := md.GetValue(stream.MetaRows); ok {
		if n, err := strconv.Atoi(v); err == nil {
			md = stream.WithMeta(md, stream.MetaRows, strconv.Itoa(n*len(o.Styles)))
		}
	}
	md, err = stream.AddStep(md, stream.Step{Tool: "lk-render", Args: o.Args, Extra: extra})
	if err != nil {
		return cols, nil, err
	}
	schema, err := stream.Append(r.Schema(), md, arrow.Field{Name: col, Type: arrow.BinaryTypes.String})
	if err != nil {
		return cols, nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	return cols, schema, nil
}

// RunRenditions writes every record of r once per style, in that order,
// with the images rendered and a rendition column appended.
func RunRenditions(r *stream.Reader, w io.Writer, o Options) error {
	for _, s := range o.Styles {
		if !slices.Contains(Renditions, s) {
			return fmt.Errorf("rendition %q: want one of %v", s, Renditions)
		}
	}
	cols, schema, err := setup(r, ColRendition, o, nil)
	if err != nil {
		return err
	}
	wr, err := stream.NewWriter(w, schema)
	if err != nil {
		return err
	}
	sz := cols.Shape.Size()
	for r.Next() {
		rec := r.Record()
		n := int(rec.NumRows())
		px, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return fmt.Errorf("%s: column image: %v", r.Name(), err)
		}
		for _, s := range o.Styles {
			out := make([]float32, n*sz)
			for i := 0; i < n; i++ {
				Render(s, out[i*sz:(i+1)*sz], px[i*sz:(i+1)*sz], cols.Shape)
			}
			if err := wr.WriteImages(schema, rec, cols.Image, out, sz, stream.ConstString(s, n)); err != nil {
				return err
			}
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	return wr.Close()
}

// RunBackgrounds reads the whole stream (donors may come from any row),
// then writes it once per variant, in that order, with the images'
// backgrounds replaced and a variant column appended. Donors are drawn
// from the stream's own images with labels >= 0.
func RunBackgrounds(r *stream.Reader, w io.Writer, o Options) error {
	for _, s := range o.Styles {
		if !slices.Contains(Variants, s) {
			return fmt.Errorf("variant %q: want one of %v", s, Variants)
		}
	}
	cols, schema, err := setup(r, ColVariant, o, map[string]string{"seed": strconv.FormatUint(o.Seed, 10)})
	if err != nil {
		return err
	}
	sz := cols.Shape.Size()
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
	for r.Next() {
		rec := r.Record()
		p, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return fmt.Errorf("%s: column image: %v", r.Name(), err)
		}
		if o.MaxBytes > 0 && int64(len(px)+int(rec.NumRows()))*int64(sz)*4 > o.MaxBytes {
			return fmt.Errorf("%s: more than %d MB of images; backgrounds are drawn from the whole stream, so it is held in memory (give fewer images, e.g. lk-data --limit or --shard, or raise --max-mb)", r.Name(), o.MaxBytes>>20)
		}
		rec.Retain()
		recs = append(recs, rec)
		idc := rec.Column(cols.ID).(*array.String)
		lc := rec.Column(cols.Label).(*array.Int32)
		for i := 0; i < int(rec.NumRows()); i++ {
			px = append(px, p[i*sz:(i+1)*sz])
			ids = append(ids, idc.Value(i))
			labels = append(labels, lc.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
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
		masks[i] = Mask(px[i], cols.Shape)
	}
	wr, err := stream.NewWriter(w, schema)
	if err != nil {
		return err
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
					Compose(dst, px[k], nil, masks[k], cols.Shape)
				default:
					if labels[k] < 0 {
						return fmt.Errorf("%s: row id %q has no label; %s needs labelled images", r.Name(), ids[k], v)
					}
					j := Donor(v, k, ids, labels, byClass, classes, o.Seed)
					if j < 0 {
						return fmt.Errorf("%s: row id %q: no other image of class %d to take a background from", r.Name(), ids[k], labels[k])
					}
					Compose(dst, px[k], px[j], masks[k], cols.Shape)
				}
			}
			if err := wr.WriteImages(schema, rec, cols.Image, out, sz, stream.ConstString(v, n)); err != nil {
				return err
			}
			row += n
		}
	}
	return wr.Close()
}
