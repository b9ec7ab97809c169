package grad_test

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

type record struct {
	Index  []int     `json:"index"`
	Values []string  `json:"values"`
	Norm   []float64 `json:"norm"`
	Sum    []float64 `json:"sum"`
	// for the deep torchvision models: float64 gradients at the same
	// positions, and how far PyTorch's float32 gradient is from them
	Values64     []string `json:"values64"`
	Float32Error float64  `json:"float32_error"`
}

type refModel struct {
	Labels       []int64 `json:"labels"`
	CrossEntropy record  `json:"cross_entropy"`
	TrueLogit    record  `json:"true_logit"`
}

func floats(t *testing.T, s string) []float32 {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// fashionMNIST returns the first n test images as make_arch.py feeds
// them: 28x28 zero-padded to 32, grey in three channels, in [0,1].
func fashionMNIST(t *testing.T, n int) []float32 {
	f, err := os.Open(testutil.FashionMNIST(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	px := make([]float32, n*3*32*32)
	for i := 0; i < n; i++ {
		for y := 0; y < 28; y++ {
			for x := 0; x < 28; x++ {
				v := float32(b[16+i*784+y*28+x]) / 255
				for c := 0; c < 3; c++ {
					px[((i*3+c)*32+y+2)*32+x+2] = v
				}
			}
		}
	}
	return px
}

// hashPixels is make_grad.py's hash_pixels.
func hashPixels(n int) []float32 {
	px := make([]float32, n)
	for i := range px {
		px[i] = float32(float64(uint32(uint64(i)*2654435761)) / 4294967296.0)
	}
	return px
}

// Input gradients of every zoo model and of the ConvNeXt- and
// RepLKNet-style fixtures equal PyTorch autograd's (make_grad.py), both
// objectives: relative L2 error at most 1e-3 at 256 sampled positions per
// image, and the same norm and sum over the whole gradient.
func TestMatchesPyTorch(t *testing.T) {
	testutil.ORT(t)
	var ref struct {
		Models map[string]refModel `json:"models"`
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/grad/grad.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Models) != len(testutil.Zoo)+2 {
		t.Fatalf("grad.json has %d models", len(ref.Models))
	}
	for name, r := range ref.Models {
		t.Run(name, func(t *testing.T) {
			path := testutil.Path(t, "testdata/zoo/"+name+".onnx")
			if _, err := os.Stat(path); err != nil {
				path = testutil.Path(t, "testdata/arch/"+name+".onnx")
			}
			compare(t, path, r)
		})
	}
}

// The same on torchvision's resnet50 and vit_b_16 (random weights), which
// make_arch.py --big exports into a cache folder when PyTorch is present.
func TestTorchvisionMatchesPyTorch(t *testing.T) {
	testutil.ORT(t)
	dir := testutil.BigModels(t)
	var ref struct {
		Models map[string]refModel `json:"models"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "grad.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet50", "vit_b_16"} {
		t.Run(name, func(t *testing.T) { compare(t, filepath.Join(dir, name+".onnx"), ref.Models[name]) })
	}
	// the zoo ViT exported at opset 13 (LayerNorm written out in ops) has
	// the gradients of its opset-17 export
	var zoo struct {
		Models map[string]refModel `json:"models"`
	}
	b, err = os.ReadFile(testutil.Path(t, "testdata/grad/grad.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &zoo); err != nil {
		t.Fatal(err)
	}
	t.Run("vit_op13", func(t *testing.T) { compare(t, filepath.Join(dir, "vit_op13.onnx"), zoo.Models["vit"]) })
}

// compare checks lk's input gradients of the model at path against a
// PyTorch record, both objectives: relative L2 error at most 1e-3 at the
// sampled positions, and the same norm and sum over the whole gradient.
func compare(t *testing.T, path string, r refModel) {
	cfg, _, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := cfg.InputSize[0], cfg.InputSize[1], cfg.InputSize[2]
	n := len(r.Labels)
	var px []float32
	if h == 32 {
		px = fashionMNIST(t, n)
	} else {
		px = hashPixels(n * c * h * w)
	}
	for _, obj := range []struct {
		o   grad.Objective
		rec record
	}{{grad.CrossEntropy, r.CrossEntropy}, {grad.TrueLogit, r.TrueLogit}} {
		g := gradients(t, path, cfg, obj.o, px, r.Labels)
		size := c * h * w
		for i := 0; i < n; i++ {
			img := g[i*size : (i+1)*size]
			want := floats(t, obj.rec.Values[i])
			limit := 1e-3
			if obj.rec.Values64 != nil {
				// compare with the exact (float64) gradient: on a deep
				// random ReLU network two float32 implementations each miss
				// it by about 1e-2 (ReLUs near their kink flip with the
				// summation order), so lk must come within twice PyTorch's
				// own float32 error
				want = floats(t, obj.rec.Values64[i])
				limit = max(limit, 2*obj.rec.Float32Error)
			}
			var d2, w2, norm, sum float64
			for k, idx := range obj.rec.Index {
				d := float64(img[idx]) - float64(want[k])
				d2 += d * d
				w2 += float64(want[k]) * float64(want[k])
			}
			for _, v := range img {
				norm += float64(v) * float64(v)
				sum += float64(v)
			}
			norm = math.Sqrt(norm)
			rel := math.Sqrt(d2 / w2)
			t.Logf("objective %d image %d: relative error %.2e (limit %.2e), norm %.4g (PyTorch %.4g)", obj.o, i, rel, limit, norm, obj.rec.Norm[i])
			if rel > limit {
				t.Errorf("objective %d image %d: relative error %.2e at the sampled positions, over %.2e", obj.o, i, rel, limit)
			}
			if math.Abs(norm-obj.rec.Norm[i]) > 1e-3*obj.rec.Norm[i] || math.Abs(sum-obj.rec.Sum[i]) > 1e-3*obj.rec.Norm[i]*math.Sqrt(float64(size)) {
				t.Errorf("objective %d image %d: norm %g sum %g, PyTorch %g %g", obj.o, i, norm, sum, obj.rec.Norm[i], obj.rec.Sum[i])
			}
		}
	}
}

func gradients(t *testing.T, path string, cfg model.Config, obj grad.Objective, px []float32, labels []int64) []float32 {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := cfg.InputSize[0], cfg.InputSize[1], cfg.InputSize[2]
	gm, err := grad.Build(m, grad.Options{Input: "input", Output: "logits", C: c, H: h, W: w,
		Mean: cfg.Mean, Std: cfg.Std, Objective: obj, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "grad.onnx")
	if err := gm.Save(out); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewMultiSession(out, []string{grad.Pixels, grad.Label}, []string{grad.Grad}, ort.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := int64(len(labels))
	g := make([]float32, len(px))
	if err := s.RunInputs([]ort.Input{{Float: px, Shape: []int64{n, int64(c), int64(h), int64(w)}}, {Int: labels, Shape: []int64{n}}},
		[][]float32{g}, [][]int64{{n, int64(c), int64(h), int64(w)}}); err != nil {
		t.Fatal(err)
	}
	return g
}

// Gradients with respect to initializers, on request: the zoo resnet's
// classifier weights, against PyTorch autograd.
func TestWeightGradients(t *testing.T) {
	testutil.ORT(t)
	var ref struct {
		Models  map[string]refModel `json:"models"`
		Weights map[string]string   `json:"weights"`
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/grad/grad.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	path := testutil.Path(t, "testdata/zoo/resnet.onnx")
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := model.Load(path)
	wrt := []string{"head.weight", "head.bias"}
	gm, err := grad.Build(m, grad.Options{Input: "input", Output: "logits", C: 3, H: 32, W: 32,
		Mean: cfg.Mean, Std: cfg.Std, Objective: grad.CrossEntropy, Wrt: wrt, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "g.onnx")
	if err := gm.Save(out); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewMultiSession(out, []string{grad.Pixels, grad.Label}, []string{grad.WrtPrefix + wrt[0], grad.WrtPrefix + wrt[1]}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	labels := ref.Models["resnet"].Labels
	px := fashionMNIST(t, len(labels))
	gw, gb := make([]float32, 8*64), make([]float32, 8)
	if err := s.RunInputs([]ort.Input{{Float: px, Shape: []int64{4, 3, 32, 32}}, {Int: labels, Shape: []int64{4}}},
		[][]float32{gw, gb}, [][]int64{{8, 64}, {8}}); err != nil {
		t.Fatal(err)
	}
	for k, got := range [][]float32{gw, gb} {
		want := floats(t, ref.Weights[wrt[k]])
		var d2, w2 float64
		for i := range want {
			d := float64(got[i] - want[i])
			d2, w2 = d2+d*d, w2+float64(want[i])*float64(want[i])
		}
		if rel := math.Sqrt(d2 / w2); rel > 1e-4 || len(want) != len(got) {
			t.Errorf("%s: relative error %.2e (%d values, PyTorch %d)", wrt[k], rel, len(got), len(want))
		}
	}
}

// Conv weight gradients (group 1 strided, depthwise, depthwise strided) of
// the zoo lk7 against PyTorch autograd.
func TestConvWeightGradients(t *testing.T) {
	testutil.ORT(t)
	var ref struct {
		Models      map[string]refModel `json:"models"`
		ConvWeights struct {
			Layers map[string]string `json:"layers"`
		} `json:"conv_weights"`
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/grad/grad.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	path := testutil.Path(t, "testdata/zoo/lk7.onnx")
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := model.Load(path)
	var wrt, outs []string
	for name := range ref.ConvWeights.Layers {
		wrt = append(wrt, name)
		outs = append(outs, grad.WrtPrefix+name)
	}
	if len(wrt) != 3 {
		t.Fatalf("%d reference layers", len(wrt))
	}
	gm, err := grad.Build(m, grad.Options{Input: "input", Output: "logits", C: 3, H: 32, W: 32,
		Mean: cfg.Mean, Std: cfg.Std, Wrt: wrt, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "g.onnx")
	if err := gm.Save(out); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewMultiSession(out, []string{grad.Pixels, grad.Label}, outs, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	labels := ref.Models["lk7"].Labels
	px := fashionMNIST(t, len(labels))
	got := make([][]float32, len(wrt))
	shapes := make([][]int64, len(wrt))
	for k, w := range wrt {
		shapes[k] = m.Initializer(w).GetDims()
		n := int64(1)
		for _, d := range shapes[k] {
			n *= d
		}
		got[k] = make([]float32, n)
	}
	if err := s.RunInputs([]ort.Input{{Float: px, Shape: []int64{4, 3, 32, 32}}, {Int: labels, Shape: []int64{4}}}, got, shapes); err != nil {
		t.Fatal(err)
	}
	for k, w := range wrt {
		want := floats(t, ref.ConvWeights.Layers[w])
		var d2, w2 float64
		for i := range want {
			d := float64(got[k][i] - want[i])
			d2, w2 = d2+d*d, w2+float64(want[i])*float64(want[i])
		}
		if rel := math.Sqrt(d2 / w2); rel > 1e-4 || len(want) != len(got[k]) {
			t.Errorf("%s %v: relative error %.2e", w, shapes[k], rel)
		}
	}
}
