package occlude

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

// Attention is a vision transformer's saliency, as the paper takes DINO
// ViT-S/16's: the last self-attention of the model (the output of its
// last Softmax node, batch x heads x tokens x tokens), the row of the
// class token (token 0) over the patch tokens (1..N), for one head or
// averaged over heads. A batch*heads x tokens x tokens attention (PyTorch's
// MultiheadAttention, as in torchvision's ViT) is read as batch-major. Any ViT exported to ONNX works as it is: no
// special export is needed to expose the attention.
type Attention struct {
	Notes   []string // how the model is read (arch.Load), for stderr
	Path    string
	Node    string // the Softmax node read
	Head    int    // head index; -1: the mean over heads
	shape   stream.Shape
	batch   int64 // the input's fixed batch size, or 0 when dynamic
	most    int   // most images per run when dynamic (0: a record's rows)
	norm    *model.Normalizer
	sess    *ort.Session
	cleanup func()
}

// OpenAttention prepares the attention of the model at path (its sidecar
// gives the normalisation) for reading, at most batch images per model
// run (0: a record's rows).
func OpenAttention(path string, head, batch int, rt ort.Options) (*Attention, error) {
	m, err := arch.Load(path, stream.Shape{})
	if err != nil {
		return nil, err
	}
	var node, value string
	for _, n := range m.Run.Graph().GetNode() {
		if n.GetOpType() == "Softmax" && len(n.GetOutput()) > 0 {
			node, value = n.GetName(), n.GetOutput()[0]
		}
	}
	if value == "" {
		return nil, fmt.Errorf("model %s has no Softmax node: not an attention model (the saliency model is a ViT, e.g. DINO ViT-S/16)", path)
	}
	norm, err := m.Config.Normalizer(path, nil, nil, m.Shape)
	if err != nil {
		return nil, err
	}
	copyPath, cleanup, err := arch.WithOutputs(m.Run, []string{value})
	if err != nil {
		return nil, err
	}
	sess, err := ort.NewSession(copyPath, m.Input, []string{value}, rt)
	if err != nil {
		cleanup()
		return nil, arch.CopyError(path, copyPath, "reading the attention", err)
	}
	a := &Attention{Path: path, Node: node, Head: head, shape: m.Shape, norm: norm, sess: sess, cleanup: cleanup, most: batch}
	a.batch = int64(m.Batch.N)
	a.Notes = m.Notes
	return a, nil
}

// Close releases the session and the temporary model copy.
func (a *Attention) Close() {
	a.sess.Close()
	a.cleanup()
}

// Patches runs the model on the record's images and returns the class
// token's attention over the patch tokens.
func (a *Attention) Patches(rec arrow.Record, px []float32, n int, g Grid) ([][]float64, error) {
	sz := a.shape.Size()
	if len(px) != n*sz {
		return nil, fmt.Errorf("images are %d values each; the saliency model %s takes %s", len(px)/max(n, 1), a.Path, a.shape)
	}
	step := n
	if a.most > 0 {
		step = min(n, a.most)
	}
	if a.batch > 0 {
		step = int(a.batch)
	}
	out := make([][]float64, 0, n)
	buf := make([]float32, step*sz)
	for lo := 0; lo < n; lo += step {
		k := min(step, n-lo)
		a.norm.Apply(buf[:k*sz], px[lo*sz:(lo+k)*sz])
		in := buf[:k*sz]
		if a.batch > 0 && k < step { // a fixed batch: pad with zeros
			clear(buf[k*sz:])
			in = buf
		}
		t, err := a.sess.RunAlloc(in, []int64{int64(len(in) / sz), int64(a.shape.C), int64(a.shape.H), int64(a.shape.W)})
		if err != nil {
			return nil, err
		}
		// batch x heads x tokens x tokens, or (PyTorch's MultiheadAttention,
		// torchvision's ViT) batch*heads x tokens x tokens, batch-major
		s := t[0].Shape
		rows := int64(len(in) / sz)
		var heads, tok int
		switch {
		case len(s) == 4 && s[0] == rows && s[2] == s[3]:
			heads, tok = int(s[1]), int(s[2])
		case len(s) == 3 && s[0]%rows == 0 && s[1] == s[2]:
			heads, tok = int(s[0]/rows), int(s[1])
		default:
			return nil, fmt.Errorf("model %s: Softmax node %q gives %v, not batch x heads x tokens x tokens (nor batch*heads x tokens x tokens)", a.Path, a.Node, s)
		}
		if tok != g.N()+1 {
			return nil, &PatchGridError{Model: a.Path, Node: a.Node, Tokens: tok, Grid: g}
		}
		if a.Head >= heads {
			return nil, fmt.Errorf("model %s: head %d, but the attention has %d heads", a.Path, a.Head, heads)
		}
		if err := model.CheckFinite(t[0].Data[:k*heads*tok*tok], heads*tok*tok, "attention"); err != nil {
			ids := rec.Column(rec.Schema().FieldIndices(stream.ColID)[0]).(*array.String)
			return nil, model.AtRow(err, a.Path, func(i int) string { return ids.Value(lo + i) })
		}
		for i := 0; i < k; i++ {
			sal := make([]float64, g.N())
			for h := 0; h < heads; h++ {
				if a.Head >= 0 && h != a.Head {
					continue
				}
				row := t[0].Data[((i*heads+h)*tok)*tok:] // query token 0
				for j := range sal {
					sal[j] += float64(row[1+j])
				}
			}
			if a.Head < 0 {
				for j := range sal {
					sal[j] /= float64(heads)
				}
			}
			out = append(out, sal)
		}
	}
	return out, nil
}

// Gradient is the input-gradient saliency of a model: per patch, the sum
// over its pixels and channels of |d cross-entropy / d pixel| at the true
// label (the rows need labels).
type Gradient struct {
	G     *grad.Gradient
	Batch int // most images per gradient run (0: a record's rows)
}

func (s Gradient) Patches(rec arrow.Record, px []float32, n int, g Grid) ([][]float64, error) {
	sh := stream.Shape{C: s.G.C, H: s.G.H, W: s.G.W}
	if len(px) != n*sh.Size() {
		return nil, fmt.Errorf("images are %d values each; the saliency model %s takes %s", len(px)/max(n, 1), s.G.Model.Path, sh)
	}
	labs := rec.Column(rec.Schema().FieldIndices(stream.ColLabel)[0]).(*array.Int32)
	ids := rec.Column(rec.Schema().FieldIndices(stream.ColID)[0]).(*array.String)
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(labs.Value(i))
		if labels[i] < 0 || labels[i] >= int64(s.G.Classes) {
			return nil, fmt.Errorf("row id %q: label %d; gradient saliency needs a true class of the model's %d", ids.Value(i), labels[i], s.G.Classes)
		}
	}
	grad := make([]float32, len(px))
	step := n
	if s.Batch > 0 {
		step = s.Batch
	}
	for lo := 0; lo < n; lo += step {
		hi := min(n, lo+step)
		if err := s.G.Grad(grad[lo*sh.Size():hi*sh.Size()], px[lo*sh.Size():hi*sh.Size()], labels[lo:hi], hi-lo); err != nil {
			return nil, model.AtRow(err, s.G.Model.Path, func(i int) string { return ids.Value(lo + i) })
		}
	}
	hw, sz := sh.H*sh.W, sh.Size()
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, g.N())
		for c := 0; c < sh.C; c++ {
			for y := 0; y < sh.H; y++ {
				for x := 0; x < sh.W; x++ {
					out[i][(y/g.Patch)*g.GW+x/g.Patch] += math.Abs(float64(grad[i*sz+c*hw+y*sh.W+x]))
				}
			}
		}
	}
	return out, nil
}

// PatchGridError is a saliency model whose attention is over another
// number of tokens than the patch grid has patches (plus a class token):
// the patch side differs from the model's.
type PatchGridError struct {
	Model, Node string
	Tokens      int
	Grid        Grid
}

func (e *PatchGridError) Error() string {
	return fmt.Sprintf("model %s: the attention of node %q is over %d tokens; the %dx%d patch grid needs %d (a class token and one per patch)",
		e.Model, e.Node, e.Tokens, e.Grid.GH, e.Grid.GW, e.Grid.N()+1)
}
