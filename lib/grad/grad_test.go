package grad_test

import (
	"path/filepath"
	"testing"

	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// zooGrad builds and opens the gradient model of a zoo model.
func zooGrad(t *testing.T, name string, obj grad.Objective) (*ort.Session, int) {
	t.Helper()
	testutil.ORT(t)
	path := testutil.Path(t, "testdata/zoo/"+name+".onnx")
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := grad.Build(m, grad.Options{Input: "input", Output: "logits", C: 3, H: 32, W: 32,
		Mean: cfg.Mean, Std: cfg.Std, Objective: obj, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name+"-grad.onnx")
	if err := gm.Save(out); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewMultiSession(out, []string{grad.Pixels, grad.Label}, []string{"logits", grad.Loss, grad.Grad}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg.NumClasses
}

func run(t *testing.T, s *ort.Session, px []float32, labels []int64, k int) (logits, loss, g []float32) {
	t.Helper()
	n := len(labels)
	logits, loss, g = make([]float32, n*k), make([]float32, n), make([]float32, len(px))
	err := s.RunInputs([]ort.Input{{Float: px, Shape: []int64{int64(n), 3, 32, 32}}, {Int: labels, Shape: []int64{int64(n)}}},
		[][]float32{logits, loss, g}, [][]int64{{int64(n), int64(k)}, {int64(n)}, {int64(n), 3, 32, 32}})
	if err != nil {
		t.Fatal(err)
	}
	return
}
