package grad

import (
	"os"
	"path/filepath"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

// Session is an input gradient backed by an ONNX Runtime session of a
// model built with Build (inputs pixels and labels; output the gradient).
type Session struct {
	S       *ort.Session
	C, H, W int
}

// Grad runs the gradient model.
func (s Session) Grad(dst, px []float32, labels []int64, n int) error {
	sh := []int64{int64(n), int64(s.C), int64(s.H), int64(s.W)}
	err := s.S.RunInputs([]ort.Input{{Float: px, Shape: sh}, {Int: labels[:n], Shape: []int64{int64(n)}}},
		[][]float32{dst[:len(px)]}, [][]int64{sh})
	if err != nil {
		return err
	}
	// a NaN gradient has sign 0: the attack would leave the image as it is
	return model.CheckFinite(dst[:len(px)], s.C*s.H*s.W, "gradient")
}

// Gradient is a model's input gradient through ONNX Runtime: the model
// extended by Build with its normalisation and the objective, saved to
// a temporary folder that Close removes.
type Gradient struct {
	Session
	Model   *arch.Model
	Classes int64 // from the output's static shape; 0 when symbolic
	dir     string
}

// Open builds and opens the gradient of the model at path (mean
// and std override the sidecar's, size its input size).
func Open(path string, size stream.Shape, mean, std []float32, obj Objective, rt ort.Options) (*Gradient, error) {
	m, err := arch.Load(path, size)
	if err != nil {
		return nil, err
	}
	mean, std, err = m.Config.Normalisation(path, mean, std)
	if err != nil {
		return nil, err
	}
	_, outs := m.IO()
	output := m.Config.Output
	if output == "" {
		output = outs[0].Name
	}
	gm, err := Build(m.Model, Options{Input: m.Input, Output: output, C: m.Shape.C, H: m.Shape.H, W: m.Shape.W,
		Mean: mean, Std: std, Objective: obj, Threads: rt.Threads})
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
	sess, err := ort.NewMultiSession(gpath, []string{Pixels, Label}, []string{Grad}, rt)
	if err != nil {
		os.RemoveAll(dir)
		return nil, arch.CopyError(path, gpath, "running the gradient model", err)
	}
	g := &Gradient{Session: Session{S: sess, C: m.Shape.C, H: m.Shape.H, W: m.Shape.W}, Model: m, dir: dir}
	if len(outs) > 0 && len(outs[0].Dims) == 2 {
		g.Classes = outs[0].Dims[1]
	}
	return g, nil
}

// Close releases the session and removes the gradient model.
func (g *Gradient) Close() {
	g.S.Close()
	os.RemoveAll(g.dir)
}
