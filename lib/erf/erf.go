// Package erf measures a model's effective receptive field as RepLKNet's
// erf/visualize_erf.py and erf/analyze_erf.py do (Ding et al., CVPR 2022):
// per image, the gradient with respect to the normalised input of the sum
// over channels of the ReLU of the centre element of a feature map (by
// default the last residual block's output, the last stage's), its
// positive part summed over channels; averaged over images. The map is
// then log10(score + 1) scaled to a maximum of 1, and the high-
// contribution area ratio is the side and area fraction of the smallest
// centred square holding more than a threshold of the scaled map's total.
package erf

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// Thresholds are analyze_erf.py's shares of the total.
var Thresholds = []float64{0.2, 0.3, 0.5, 0.99}

// DefaultImages is visualize_erf.py's number of images.
const DefaultImages = 50

// Options configure Run.
type Options struct {
	Node      string // the feature map; "" the last residual block's output
	Images    int    // images averaged (the first of the stream)
	Batch     int    // images per gradient run
	Mean, Std []float32
	Runtime   ort.Options
	Progress  io.Writer
}

// Result is a model's ERF.
type Result struct {
	Node   string
	H, W   int       // the input's size
	Images int       // images averaged
	Score  []float64 // the mean contribution score per input pixel, H x W
	Scaled []float64 // log10(Score + 1) / its maximum
}

// Area is the smallest centred square holding more than Threshold of the
// scaled map's total: its side and its share of the image. Found is false
// when no square the reference tries (sides 3 to H-1, odd) does.
type Area struct {
	Threshold float64
	Side      int
	Ratio     float64
	Found     bool
}

// Node returns the default feature map of m: the output of its last
// residual block, which must be a 4-D map.
func Node(m *arch.Model) (string, error) {
	if len(m.Blocks) == 0 {
		return "", fmt.Errorf("model %s: no residual blocks found, so no last block's output to take the ERF of: name a 4-D feature map with --node (a Conv's output, as the graph names it)", m.Path)
	}
	b := m.Blocks[len(m.Blocks)-1]
	if len(b.Shape) != 4 {
		return "", fmt.Errorf("model %s: the last residual block's output %s has shape %v; the ERF needs a feature map [batch, channels, height, width] (a transformer's tokens are not one): name one with --node", m.Path, b.Output, b.Shape)
	}
	return b.Output, nil
}

// Run computes the ERF of m at node over the first o.Images images of r.
func Run(r *stream.Reader, m *arch.Model, node string, o Options) (*Result, error) {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.Name(), err)
	}
	if cols.Shape != m.Shape {
		return nil, &model.ImageSizeError{Input: r.Name(), Got: cols.Shape, Model: m.Config.Name, Want: m.Shape}
	}
	norm, err := m.Config.Normalizer(m.Path, o.Mean, o.Std, m.Shape)
	if err != nil {
		return nil, err
	}
	if !produced(m, node) {
		return nil, fmt.Errorf("model %s: no node outputs a value named %q (lk-featvar --list names the block outputs)", m.Path, node)
	}
	sh := m.Shape
	gm, err := grad.Build(m.Run, grad.Options{Input: m.Input, Output: node, C: sh.C, H: sh.H, W: sh.W,
		Mean: norm.Mean, Std: norm.Std, BGR: norm.BGR, Objective: grad.ERFCentre, Threads: o.Runtime.Threads, Batch: m.Batch.N})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lk-erf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	gpath := filepath.Join(dir, "erf.onnx")
	if err := gm.Save(gpath); err != nil {
		return nil, err
	}
	// the feature map comes out too: a non-finite one has a zero
	// gradient (its ReLU mask is false), which must not pass for an ERF
	per := int64(1)
	fdims := gm.Graph().GetOutput()[0].GetType().GetTensorType().GetShape().GetDim()
	for _, d := range fdims[1:] {
		per *= d.GetDimValue()
	}
	sess, err := ort.NewMultiSession(gpath, []string{grad.Pixels}, []string{grad.Grad, node}, o.Runtime)
	if err != nil {
		return nil, arch.CopyError(m.Path, gpath, "running the ERF gradient", err)
	}
	defer sess.Close()

	res := &Result{Node: node, H: sh.H, W: sh.W, Score: make([]float64, sh.H*sh.W)}
	meter := progress.New(o.Progress, "lk-erf "+m.Config.Name, "images", int64(o.Images))
	sz, plane := sh.Size(), sh.H*sh.W
	batch := max(o.Batch, 1)
	if m.Batch.N > 0 { // a fixed batch: runs of exactly that many, padded
		batch = m.Batch.N
	}
	px := make([]float32, 0, batch*sz)
	var ids []string
	g := make([]float32, batch*sz)
	fmap := make([]float32, int64(batch)*per)
	flush := func() error {
		n := len(ids)
		if n == 0 {
			return nil
		}
		rows := n
		if m.Batch.N > 0 {
			rows = m.Batch.N
			px = append(px, make([]float32, (rows-n)*sz)...)
		}
		shape := []int64{int64(rows), int64(sh.C), int64(sh.H), int64(sh.W)}
		fshape := []int64{int64(rows)}
		for _, d := range fdims[1:] {
			fshape = append(fshape, d.GetDimValue())
		}
		if err := sess.RunInputs([]ort.Input{{Float: px, Shape: shape}}, [][]float32{g[:rows*sz], fmap[:int64(rows)*per]}, [][]int64{shape, fshape}); err != nil {
			return err
		}
		if err := model.CheckFinite(fmap[:int64(n)*per], int(per), "feature map "+node); err != nil {
			return model.AtRow(err, m.Config.Name, func(i int) string { return ids[i] })
		}
		if err := model.CheckFinite(g[:n*sz], sz, "gradient"); err != nil {
			return model.AtRow(err, m.Config.Name, func(i int) string { return ids[i] })
		}
		// images in stream order, each summed in float64: the same
		// bytes whatever the batch
		for k := 0; k < n; k++ {
			for c := 0; c < sh.C; c++ {
				// the gradient w.r.t. the normalised input is std times
				// the one w.r.t. the pixels
				s := float64(norm.Std[c])
				if norm.BGR {
					s = float64(norm.Std[sh.C-1-c])
				}
				gc := g[k*sz+c*plane : k*sz+(c+1)*plane]
				for i, v := range gc {
					if v > 0 {
						res.Score[i] += s * float64(v)
					}
				}
			}
		}
		res.Images += n
		meter.Add(n)
		px, ids = px[:0], ids[:0]
		return nil
	}
	for res.Images+len(ids) < o.Images && r.Next() {
		rec := r.Record()
		all, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.Name(), err)
		}
		idc := rec.Column(cols.ID).(*array.String)
		for i := 0; i < int(rec.NumRows()) && res.Images+len(ids) < o.Images; i++ {
			px = append(px, all[i*sz:(i+1)*sz]...)
			ids = append(ids, idc.Value(i))
			if len(ids) == batch {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	for r.Next() { // the rest, unused, read to its end so that a truncated stream is still an error
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	meter.Done()
	if res.Images == 0 {
		return nil, fmt.Errorf("%s: no images", r.Name())
	}
	res.Scaled = make([]float64, len(res.Score))
	top := 0.0
	for i, s := range res.Score {
		res.Score[i] = s / float64(res.Images)
		res.Scaled[i] = math.Log10(res.Score[i] + 1)
		top = max(top, res.Scaled[i])
	}
	if top > 0 {
		for i := range res.Scaled {
			res.Scaled[i] /= top
		}
	}
	return res, nil
}

// produced reports whether a node of m outputs the value v.
func produced(m *arch.Model, v string) bool {
	for _, n := range m.Run.Graph().GetNode() {
		for _, o := range n.GetOutput() {
			if o == v {
				return true
			}
		}
	}
	return false
}

// Areas returns, per threshold, the smallest centred square of the scaled
// map (centre (H/2, W/2), odd sides 3 to H-1 as analyze_erf.py tries them)
// whose sum is more than the threshold's share of the total.
func (r *Result) Areas(thresholds []float64) []Area {
	var total float64
	for _, v := range r.Scaled {
		total += v
	}
	out := make([]Area, len(thresholds))
	for k, t := range thresholds {
		out[k] = Area{Threshold: t}
		for i := 1; i < r.H/2; i++ {
			var s float64
			for y := max(r.H/2-i, 0); y < min(r.H/2+1+i, r.H); y++ {
				for x := max(r.W/2-i, 0); x < min(r.W/2+1+i, r.W); x++ {
					s += r.Scaled[y*r.W+x]
				}
			}
			if total > 0 && s/total > t {
				side := 2*i + 1
				out[k] = Area{Threshold: t, Side: side, Ratio: float64(side) / float64(r.H) * float64(side) / float64(r.W), Found: true}
				break
			}
		}
	}
	return out
}
