package chart

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/lk-robustness/lk/lib/stream"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// MinPNGWidth is the least width of a PNG figure in pixels: enough to
// print a column of a paper at 300 dpi.
const MinPNGWidth = 1600

// canvas makes the canvas of a figure of w x h written to path: a PNG at
// the resolution that makes it MinPNGWidth pixels wide (96 dpi at least).
func canvas(w, h vg.Length, path string) (vg.CanvasWriterTo, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".png" {
		dpi := math.Max(96, math.Ceil(MinPNGWidth/float64(w/vg.Inch)))
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(int(dpi)))}, nil
	}
	c, err := draw.NewFormattedCanvas(w, h, strings.TrimPrefix(ext, "."))
	if err != nil {
		return nil, fmt.Errorf("output %s: %v", path, err)
	}
	return c, nil
}

// Save writes the figure to path (its extension picks the format) at
// w x h, with the legend in a margin right of the axes rather than over
// the data; a PNG gets the resolution that makes it MinPNGWidth pixels
// wide at least (96 dpi at the least).
func Save(p *plot.Plot, w, h vg.Length, path string) (err error) {
	c, err := canvas(w, h, path)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	legend := p.Legend
	lw := legend.Rectangle(dc).Size().X
	if lw > 0 { // room for the text's overhang and a right margin
		lw += legend.TextStyle.Rectangle("  ").Size().X
	}
	if lw <= 0 {
		p.Draw(dc)
	} else {
		gap := vg.Points(8)
		p.Legend = plot.NewLegend()
		p.Draw(draw.Crop(dc, 0, -(lw + gap), 0, 0))
		p.Legend = legend
		top := vg.Length(0)
		if p.Title.Text != "" { // level with the axes, below the title
			top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
		}
		legend.Top, legend.Left = true, true
		legend.Draw(draw.Crop(dc, dc.Size().X-lw, 0, 0, -top))
	}
	return stream.WriteFileAtomic(path, nil, nil, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}
