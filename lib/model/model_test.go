package model_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/stream"
)

func TestNormalizer(t *testing.T) {
	n, err := model.NewNormalizer(model.ImageNetMean, model.ImageNetStd, stream.Shape{C: 3, H: 1, W: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := []float32{0, 1, 0.5, 0.5, 0.406, 1 /* second image */, 0.485, 0.485, 0.456, 0.456, 0.406, 0.406}
	dst := make([]float32, len(src))
	n.Apply(dst, src)
	want := []float64{-0.485 / 0.229, 0.515 / 0.229, 0.044 / 0.224, 0.044 / 0.224, 0, 0.594 / 0.225, 0, 0, 0, 0, 0, 0}
	for i := range want {
		if d := float64(dst[i]) - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("value %d = %v, want %v", i, dst[i], want[i])
		}
	}
	if _, err := model.NewNormalizer([]float32{0.5, 0.5}, []float32{1}, stream.Shape{C: 3, H: 1, W: 1}); err == nil {
		t.Error("2 means for 3 channels accepted")
	}
}

func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "net.onnx")
	os.WriteFile(m, []byte("x"), 0o644)
	c, found, err := model.Load(m)
	if err != nil || found || c.Name != "net" {
		t.Fatalf("no sidecar: %+v %v %v", c, found, err)
	}
	os.WriteFile(filepath.Join(dir, "net.json"), []byte(`{"input_size":[3,224,224],"mean":[0.5],"std":[0.5],"num_classes":1000,"future_key":1}`), 0o644)
	c, found, err = model.Load(m)
	if err != nil || !found || c.Shape() != (stream.Shape{C: 3, H: 224, W: 224}) || c.NumClasses != 1000 {
		t.Fatalf("sidecar: %+v %v %v", c, found, err)
	}
	os.WriteFile(filepath.Join(dir, "net.json"), []byte(`{"std":[0.5, 0]}`), 0o644)
	if _, _, err := model.Load(m); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("zero std: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "net.json"), []byte(`{"mean": [0.5,`), 0o644)
	if _, _, err := model.Load(m); err == nil || !strings.Contains(err.Error(), "net.json") {
		t.Errorf("broken JSON: %v", err)
	}
	if _, _, err := model.Load(filepath.Join(dir, "missing.onnx")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing model: %v", err)
	}
}
