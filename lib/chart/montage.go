package chart

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"strings"

	"github.com/apache/arrow/go/v15/arrow/array"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

// MontageSpec configures Montage.
type MontageSpec struct {
	Labels []string // columns whose values label each image (default: id)
	Limit  int      // images shown (the first ones of the stream; with PerImage, per image)
	// PerImage > 0 shows every row of the first PerImage image ids (the
	// stream's key without its conditions), however the stream orders
	// them: "19 corruptions of one image". Each id starts a row.
	PerImage int
	Cols     int // images per row
	Cell     vg.Length
	Title    string
}

// Montage draws the first images of an image stream in a grid, each with
// its labels beneath, so that a user sees what a corruption, an occlusion
// or an attack did (the paper's Fig. 5).
func Montage(r *stream.Reader, s MontageSpec, out string) error {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v (montage reads image streams)", r.Name(), err)
	}
	labels := s.Labels
	if len(labels) == 0 {
		labels = []string{stream.ColID}
	}
	var li []int
	for _, l := range labels {
		idx := r.Schema().FieldIndices(l)
		if len(idx) == 0 {
			var names []string
			for _, f := range r.Schema().Fields() {
				names = append(names, f.Name)
			}
			return &table.ColumnError{Table: r.Name(), Column: l, Role: "label", Row: -1, Have: names}
		}
		li = append(li, idx[0])
	}
	type cell struct {
		img  image.Image
		text string
	}
	var cells []cell
	sh := cols.Shape
	var ids []string            // PerImage: the ids shown, in order of first appearance
	byID := map[string][]cell{} // and their images
	// only the first Limit images are drawn (PerImage: the whole stream is looked at)
	for s.PerImage > 0 || len(cells) < s.Limit {
		if !r.Next() {
			if err := r.Err(); err != nil {
				return err
			}
			break
		}
		rec := r.Record()
		px, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return fmt.Errorf("%s: column image: %v", r.Name(), err)
		}
		idc := rec.Column(cols.ID).(*array.String)
		for i := 0; i < int(rec.NumRows()) && (s.PerImage > 0 || len(cells) < s.Limit); i++ {
			id := idc.Value(i)
			if s.PerImage > 0 {
				if _, ok := byID[id]; !ok {
					if len(ids) == s.PerImage {
						continue
					}
					ids = append(ids, id)
					byID[id] = []cell{}
				}
				if len(byID[id]) >= s.Limit {
					continue
				}
			}
			var parts []string
			for k, j := range li {
				v := rec.Column(j).ValueStr(i)
				if _, isStr := rec.Column(j).(*array.String); !isStr || len(li) > 1 {
					v = labels[k] + " " + v
				}
				parts = append(parts, v)
			}
			cl := cell{toImage(px[i*sh.Size():(i+1)*sh.Size()], sh), strings.Join(parts, ", ")}
			if s.PerImage > 0 {
				byID[id] = append(byID[id], cl)
				continue
			}
			cells = append(cells, cl)
		}
	}
	// the rest is read to its end: a stream cut short (its producer
	// failed) is an error even when the montage had its images
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		return err
	}
	// each cell's place: in reading order, or one block of rows per id
	ncol := max(s.Cols, 1)
	type place struct{ row, col int }
	var places []place
	if s.PerImage > 0 {
		row := 0
		for _, id := range ids {
			for k, cl := range byID[id] {
				cells = append(cells, cl)
				places = append(places, place{row + k/ncol, k % ncol})
			}
			row += (len(byID[id]) + ncol - 1) / ncol
		}
	} else {
		ncol = min(ncol, len(cells))
		for k := range cells {
			places = append(places, place{k / ncol, k % ncol})
		}
	}
	if len(cells) == 0 {
		return fmt.Errorf("%s: no images", r.Name())
	}
	if s.PerImage > 0 {
		widest := 0
		for _, id := range ids {
			widest = max(widest, len(byID[id]))
		}
		ncol = min(ncol, widest)
	}
	nrow := places[len(places)-1].row + 1
	pad, textH := vg.Points(4), vg.Points(10)
	titleH := vg.Length(0)
	if s.Title != "" {
		titleH = vg.Points(16)
	}
	w := vg.Length(ncol)*(s.Cell+pad) + pad
	h := vg.Length(nrow)*(s.Cell+textH+pad) + pad + titleH
	cw, err := canvas(w, h, out)
	if err != nil {
		return err
	}
	c := draw.New(cw)
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, vg.Points(7)), Handler: plot.DefaultTextHandler,
		XAlign: draw.XCenter, YAlign: draw.YTop}
	if s.Title != "" {
		ts := sty
		ts.Font = font.From(plot.DefaultFont, vg.Points(11))
		c.FillText(ts, vg.Point{X: w / 2, Y: h - pad}, s.Title)
	}
	for k, cl := range cells {
		row, col := places[k].row, places[k].col
		x0 := pad + vg.Length(col)*(s.Cell+pad)
		top := h - titleH - pad - vg.Length(row)*(s.Cell+textH+pad)
		c.DrawImage(vg.Rectangle{Min: vg.Point{X: x0, Y: top - s.Cell}, Max: vg.Point{X: x0 + s.Cell, Y: top}}, cl.img)
		c.FillText(sty, vg.Point{X: x0 + s.Cell/2, Y: top - s.Cell - vg.Points(1)}, clip(cl.text, int(s.Cell/vg.Points(3.6))))
	}
	return stream.WriteFileAtomic(out, nil, nil, func(w io.Writer) error {
		_, err := cw.WriteTo(w)
		return err
	})
}

func clip(s string, n int) string {
	if len(s) <= n || n < 4 {
		return s
	}
	return s[:n-1] + "…"
}

// toImage turns CHW pixels in [0,1] into an 8-bit image (grey for one
// channel); values outside [0,1] are clipped.
func toImage(px []float32, sh stream.Shape) image.Image {
	hw := sh.H * sh.W
	to8 := func(v float32) uint8 { return uint8(min(max(v, 0), 1)*255 + 0.5) }
	if sh.C == 1 {
		g := image.NewGray(image.Rect(0, 0, sh.W, sh.H))
		for i := 0; i < hw; i++ {
			g.Pix[i] = to8(px[i])
		}
		return g
	}
	m := image.NewNRGBA(image.Rect(0, 0, sh.W, sh.H))
	for i := 0; i < hw; i++ {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = to8(px[i]), to8(px[hw+i]), to8(px[min(2, sh.C-1)*hw+i]), 255
	}
	return m
}
