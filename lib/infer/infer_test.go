package infer_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/testutil"
)

// Every zoo model, and every model of the zoo's seed folders
// (testdata/zoo/seeds/sI), run by ONNX Runtime on the first 64 shipped test
// images through lk's own loading and preprocessing, gives PyTorch's logits
// (NAME.ref.json beside it, written by train.py) within 1e-4.
func TestZooMatchesPyTorch(t *testing.T) {
	testutil.ORT(t)
	src, err := dataset.Open(testutil.FashionMNIST(t), "")
	if err != nil {
		t.Fatal(err)
	}
	spec := preprocess.Spec{CropH: 32, CropW: 32, Gray3: true}
	const n = 64
	pixels := make([]float32, n*3*32*32)
	for i := 0; i < n; i++ {
		img, err := src.Load(src.Items[i], 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := spec.Apply(img, pixels[i*3*32*32:]); err != nil {
			t.Fatal(err)
		}
	}
	models := map[string]string{} // test name: the model's path without .onnx
	for _, name := range testutil.Zoo {
		models[name] = testutil.Path(t, "testdata", "zoo", name)
	}
	seeds, err := filepath.Glob(testutil.Path(t, "testdata", "zoo", "seeds") + "/s*/*.ref.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range seeds {
		base := strings.TrimSuffix(f, ".ref.json")
		models[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(base)] = base
	}
	for name, path := range models {
		t.Run(name, func(t *testing.T) {
			var ref struct{ Logits [][]float64 }
			b, err := os.ReadFile(path + ".ref.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			for _, batch := range []int{64, 7} { // the result must not depend on the batch size
				m, err := infer.Open(infer.Options{Model: path + ".onnx", Runtime: ort.Options{Threads: 2}})
				if err != nil {
					t.Fatal(err)
				}
				k := m.Classes
				logits := make([]float32, n*k)
				for at := 0; at < n; at += batch {
					b := min(batch, n-at)
					if err := m.Logits(logits[at*k:], pixels[at*3*32*32:], b); err != nil {
						t.Fatal(err)
					}
				}
				m.Close()
				worst := 0.0
				for i := 0; i < n; i++ {
					for j := 0; j < k; j++ {
						worst = math.Max(worst, math.Abs(float64(logits[i*k+j])-ref.Logits[i][j]))
					}
				}
				if worst > 1e-4 {
					t.Errorf("batch %d: max |ONNX Runtime - PyTorch| = %.3g, limit 1e-4", batch, worst)
				}
				t.Logf("batch %d: max abs difference %.2g", batch, worst)
			}
		})
	}
}
