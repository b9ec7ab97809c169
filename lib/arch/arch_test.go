package arch_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

type want struct {
	Module string  `json:"module"`
	Shape  []int64 `json:"shape"`
}

func readBlocks(t *testing.T, path string) map[string][]want {
	var w map[string][]want
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// checkBlocks compares the blocks lk finds with the residual modules
// PyTorch ran (make_arch.py's forward hooks): same count, same output
// shapes, and each block's name scope is the module's.
func checkBlocks(t *testing.T, model string, size int64, ws []want) []arch.Block {
	m, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	_, bs, err := arch.Discover(m, "input", []int64{1, 3, size, size}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != len(ws) {
		t.Fatalf("%s: found %d blocks, PyTorch ran %d", model, len(bs), len(ws))
	}
	for i, b := range bs {
		w := ws[i]
		if got := b.Shape[1:]; !slices.Equal(got, w.Shape) {
			t.Errorf("%s block %d (%s): shape %v, PyTorch %v", model, i+1, b.Name(), got, w.Shape)
		}
		parts := strings.Split(b.Scope, "/")
		last := parts[len(parts)-1]
		if !(w.Module == last || strings.HasPrefix(w.Module, last+".") || strings.HasSuffix(w.Module, "."+last)) {
			t.Errorf("%s block %d: scope %q is not module %s", model, i+1, b.Scope, w.Module)
		}
	}
	return bs
}

func TestBlocksMatchPyTorch(t *testing.T) {
	testutil.ORT(t)
	ws := readBlocks(t, testutil.Path(t, "testdata/arch/blocks.json"))
	cases := []struct {
		name   string
		path   string
		size   int64
		stages []int // blocks per stage
	}{
		{"resnet", "testdata/zoo/resnet.onnx", 32, []int{2, 2}},
		{"lk3", "testdata/zoo/lk3.onnx", 32, []int{4, 4}},
		{"lk31", "testdata/zoo/lk31.onnx", 32, []int{4, 4}},
		{"vit", "testdata/zoo/vit.onnx", 32, []int{8}},
		{"replknet_s", "testdata/arch/replknet_s.onnx", 224, []int{4, 4, 36, 4}},
		{"convnext_s", "testdata/arch/convnext_s.onnx", 224, []int{3, 3, 9, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bs := checkBlocks(t, testutil.Path(t, c.path), c.size, ws[c.name])
			if got := perStage(bs); !slices.Equal(got, c.stages) {
				t.Errorf("blocks per stage %v, want %v", got, c.stages)
			}
		})
	}
}

func perStage(bs []arch.Block) []int {
	var n []int
	for _, b := range bs {
		if b.Stage > len(n) {
			n = append(n, 0)
		}
		n[b.Stage-1]++
	}
	return n
}

// torchvision's resnet50 and vit_b_16 are too big to commit: make_arch.py
// exports them into a cache folder when PyTorch is present.
func TestBlocksTorchvision(t *testing.T) {
	testutil.ORT(t)
	dir := testutil.BigModels(t)
	ws := readBlocks(t, filepath.Join(dir, "blocks.json"))
	// torchvision's model tables: parameters and GFLOPS (multiply-accumulates)
	published := map[string][2]float64{"resnet50": {25557032, 4.09e9}, "vit_b_16": {86567656, 17.56e9}}
	for name, stages := range map[string][]int{"resnet50": {3, 4, 6, 3}, "vit_b_16": {24}} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".onnx")
			bs := checkBlocks(t, path, 224, ws[name])
			m, err := arch.Open(path, stream.Shape{C: 3, H: 224, W: 224}, 2)
			if err != nil {
				t.Fatal(err)
			}
			s, err := arch.Summarise(m, 2)
			if err != nil {
				t.Fatal(err)
			}
			// The export folds BatchNorms (scale and shift become a bias)
			// and shares identical initializers, which random
			// initialisation makes common (all-zero biases): a few
			// thousandths fewer parameters than PyTorch counts.
			if p := published[name][0]; math.Abs(float64(s.Parameters)-p)/p > 0.005 {
				t.Errorf("parameters %d, torchvision %.0f", s.Parameters, p)
			}
			if f := published[name][1]; math.Abs(float64(s.MACs)-f)/f > 0.005 {
				t.Errorf("MACs %d, torchvision %.3g", s.MACs, f)
			}
			if got := perStage(bs); !slices.Equal(got, stages) {
				t.Errorf("blocks per stage %v, want %v", got, stages)
			}
		})
	}
}
