package grad

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

// Session is a model built with Build, run by ONNX Runtime: inputs
// pixels, labels (and targets); outputs the logits, the objective per
// image and its gradient (the logits only, for the Logits objective).
type Session struct {
	S         *ort.Session
	C, H, W   int
	Classes   int
	Objective Objective
	Batch     int // the graph's fixed batch, 0 when dynamic
	padded    *padded
}

// padded holds one fixed-size run's buffers, made once per session:
// attacks evaluate the same batch many times.
type padded struct {
	logits, loss, grad, px []float32
	labels, targets        []int64
}

func (s Session) buffers() *padded {
	if s.padded != nil {
		return s.padded
	}
	b, sz := s.Batch, s.C*s.H*s.W
	return &padded{logits: make([]float32, b*s.Classes), loss: make([]float32, b), grad: make([]float32, b*sz),
		px: make([]float32, b*sz), labels: make([]int64, b), targets: make([]int64, b)}
}

// Grad runs the gradient model.
func (s Session) Grad(dst, px []float32, labels []int64, n int) error {
	return s.Eval(make([]float32, n*s.Classes), make([]float32, n), dst, px, labels, nil, n)
}

// Eval runs the model on n images and fills logits (n x Classes), loss
// (n) and grad (as px); targets are read by targeted objectives only (DLRTargeted, Margin). A Logits
// session fills the logits alone. A non-finite value is an error naming
// its row: a NaN gradient has sign 0, so an attack would leave the image
// as it is, and a NaN logit is never the argmax.
func (s Session) Eval(logits, loss, grad, px []float32, labels, targets []int64, n int) error {
	if s.Batch > 0 && n != s.Batch {
		return s.evalFixed(logits, loss, grad, px, labels, targets, n)
	}
	sh := []int64{int64(n), int64(s.C), int64(s.H), int64(s.W)}
	ns := []int64{int64(n)}
	ins := []ort.Input{{Float: px[:n*s.C*s.H*s.W], Shape: sh}}
	outs := [][]float32{logits[:n*s.Classes]}
	shapes := [][]int64{{int64(n), int64(s.Classes)}}
	if s.Objective != Logits {
		ins = append(ins, ort.Input{Int: labels[:n], Shape: ns})
		if s.Objective.Targeted() {
			ins = append(ins, ort.Input{Int: targets[:n], Shape: ns})
		}
		outs = append(outs, loss[:n], grad[:n*s.C*s.H*s.W])
		shapes = append(shapes, ns, sh)
	}
	if err := s.S.RunInputs(ins, outs, shapes); err != nil {
		return err
	}
	if err := model.CheckFinite(outs[0], s.Classes, "logits"); err != nil {
		return err
	}
	if s.Objective == Logits {
		return nil
	}
	return model.CheckFinite(outs[2], s.C*s.H*s.W, "gradient")
}

// evalFixed is Eval for a graph of fixed batch: n images in runs of
// s.Batch, the last padded with zero images (label 0) whose results are
// dropped. Images do not interact, so the padding changes no real row.
func (s Session) evalFixed(logits, loss, grad, px []float32, labels, targets []int64, n int) error {
	b, sz := s.Batch, s.C*s.H*s.W
	p := s.buffers()
	bl, bloss, bg, bpx, blab, btgt := p.logits, p.loss, p.grad, p.px, p.labels, p.targets
	one := s
	one.Batch = 0
	for lo := 0; lo < n; lo += b {
		k := min(b, n-lo)
		clear(bpx[k*sz:])
		copy(bpx, px[lo*sz:(lo+k)*sz])
		if s.Objective != Logits {
			clear(blab[k:])
			copy(blab, labels[lo:lo+k])
			if s.Objective.Targeted() {
				clear(btgt[k:])
				copy(btgt, targets[lo:lo+k])
			}
		}
		if err := one.Eval(bl, bloss, bg, bpx, blab, btgt, b); err != nil {
			var nf *model.NonFiniteError
			if errors.As(err, &nf) {
				nf.Row += lo
			}
			return err
		}
		copy(logits[lo*s.Classes:], bl[:k*s.Classes])
		if s.Objective != Logits {
			copy(loss[lo:], bloss[:k])
			copy(grad[lo*sz:], bg[:k*sz])
		}
	}
	return nil
}

// Gradient is a model's input gradient through ONNX Runtime: the model
// extended by Build with its normalisation and the objective, saved to
// a temporary folder that Close removes.
type Gradient struct {
	Session
	Model *arch.Model
	dir   string
}

// Open builds and opens the gradient of the model at path (mean
// and std override the sidecar's, size its input size).
func Open(path string, size stream.Shape, mean, std []float32, obj Objective, rt ort.Options) (*Gradient, error) {
	m, err := arch.Load(path, size)
	if err != nil {
		return nil, err
	}
	norm, err := m.Config.Normalizer(path, mean, std, m.Shape)
	if err != nil {
		return nil, err
	}
	output := m.Output
	gm, err := Build(m.Run, Options{Input: m.Input, Output: output, C: m.Shape.C, H: m.Shape.H, W: m.Shape.W,
		Mean: norm.Mean, Std: norm.Std, BGR: norm.BGR, Objective: obj, Threads: rt.Threads, Batch: m.Batch.N})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lk-grad-")
	if err != nil {
		return nil, err
	}
	gpath := filepath.Join(dir, "grad.onnx")
	if err := gm.Save(gpath); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var classes int64
	if d := gm.Graph().GetOutput()[0].GetType().GetTensorType().GetShape().GetDim(); len(d) == 2 {
		classes = d[1].GetDimValue()
	}
	ins, onames := []string{Pixels}, []string{output}
	if obj != Logits {
		ins, onames = append(ins, Label), append(onames, Loss, Grad)
	}
	if obj.Targeted() {
		ins = append(ins, Target)
	}
	sess, err := ort.NewMultiSession(gpath, ins, onames, rt)
	if err != nil {
		os.RemoveAll(dir)
		return nil, arch.CopyError(path, gpath, "running the gradient model", err)
	}
	s := Session{S: sess, C: m.Shape.C, H: m.Shape.H, W: m.Shape.W, Classes: int(classes), Objective: obj, Batch: m.Batch.N}
	if s.Batch > 0 {
		s.padded = s.buffers()
	}
	return &Gradient{Session: s, Model: m, dir: dir}, nil
}

// Close releases the session and removes the gradient model.
func (g *Gradient) Close() {
	g.S.Close()
	os.RemoveAll(g.dir)
}
