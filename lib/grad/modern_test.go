package grad_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// modernExpect is FAMILY.expect.json of testdata/modern: PyTorch 2.6's
// logits and input gradient (of the summed cross-entropy, w.r.t. [0,1]
// pixels through the sidecar's normalisation) for two images.
type modernExpect struct {
	Shape  []int   `json:"shape"`
	Labels []int64 `json:"labels"`
	Pixels string  `json:"pixels"`
	Logits string  `json:"logits"`
	Grad   string  `json:"grad"`
}

// modernFixtures lists testdata/modern's models with their family's
// expected values.
func modernFixtures(t *testing.T) (paths []string, expect map[string]modernExpect) {
	dir := testutil.Path(t, "testdata", "modern")
	paths, _ = filepath.Glob(filepath.Join(dir, "*.onnx"))
	if len(paths) < 29 {
		t.Fatalf("%s holds %d models, want the 29 make_modern.py writes", dir, len(paths))
	}
	expect = map[string]modernExpect{}
	for _, fam := range []string{"resnet", "lk", "vit", "resnet-half"} {
		b, err := os.ReadFile(filepath.Join(dir, fam+".expect.json"))
		if err != nil {
			t.Fatal(err)
		}
		var e modernExpect
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		expect[fam] = e
	}
	return paths, expect
}

func family(path string) string {
	return strings.SplitN(filepath.Base(path), "-", 2)[0]
}

// Every export of today's PyTorch (opsets 17-20, fixed, declared and baked
// batches, model-local functions, external data) gives PyTorch's logits
// through lk-infer's path and through the gradient model, and PyTorch's
// input gradient: the FGSM sign agrees on every pixel whose gradient is
// not negligible, and the values agree to float32 round-off.
func TestModernExportsMatchPyTorch(t *testing.T) {
	testutil.ORT(t)
	paths, expect := modernFixtures(t)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			e, own := expect[strings.TrimSuffix(filepath.Base(path), ".onnx")] // a model's own reference
			if !own {
				e = expect[family(path)]
			}
			px, wantLogits, wantGrad := floats(t, e.Pixels), floats(t, e.Logits), floats(t, e.Grad)
			n := e.Shape[0]

			m, err := infer.Open(infer.Options{Model: path, Runtime: ort.Options{Threads: 1}})
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, n*m.Classes)
			err = m.Logits(got, px, n)
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			// resnet-half runs in float16 in ONNX Runtime; its gradient is
			// of its float32 version, as its reference is
			logitTol := 1e-4
			if strings.Contains(path, "-half") {
				logitTol = 2e-3
			}
			closeTo(t, "lk-infer logits", got, wantLogits, logitTol)

			g, err := grad.Open(path, stream.Shape{}, nil, nil, grad.CrossEntropy, ort.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			logits, loss, gr := make([]float32, n*g.Classes), make([]float32, n), make([]float32, len(px))
			if err := g.Eval(logits, loss, gr, px, e.Labels, nil, n); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "gradient model logits", logits, wantLogits, 1e-4)
			closeTo(t, "input gradient", gr, wantGrad, 1e-3)
			var scale float64
			for _, v := range wantGrad {
				scale = max(scale, math.Abs(float64(v)))
			}
			agree, counted := 0, 0
			for i, v := range wantGrad {
				if math.Abs(float64(v)) < 1e-5*scale { // a sign within round-off of 0
					continue
				}
				counted++
				if (v > 0) == (gr[i] > 0) {
					agree++
				}
			}
			if counted < len(wantGrad)*9/10 || agree*10000 < counted*9999 {
				t.Fatalf("FGSM sign agrees with PyTorch on %d of %d pixels (of %d), want >= 99.99%%", agree, counted, len(wantGrad))
			}
			t.Logf("FGSM sign agrees with PyTorch on %d of %d pixels whose gradient is over 1e-5 of the largest", agree, counted)
		})
	}
}

// closeTo fails unless every value is within rel of want, relative to the
// largest |want|.
func closeTo(t *testing.T, what string, got, want []float32, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale, worst float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	if worst > rel*scale {
		t.Fatalf("%s: max |lk - PyTorch| %.3g, over %.0e of the largest value %.3g", what, worst, rel, scale)
	}
}
