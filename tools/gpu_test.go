package tools_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// The GPU build's core (ONNX Runtime 1.29) runs the zoo on the CPU with
// the predictions of the default build (1.24): same top-1 for every image
// and logits equal to float32 rounding.
func TestGPUBuildCoreOnCPU(t *testing.T) {
	gpu := testutil.GPULib(t)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 300 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	for _, m := range []string{"resnet", "lk31", "vit"} {
		mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/%s.onnx < %s/x.arrow > %s/cpu.arrow", m, tmp, tmp))
		mustSh(t, fmt.Sprintf("LK_ORT_LIB=%s lk-infer -q --model testdata/zoo/%s.onnx < %s/x.arrow > %s/gpu.arrow", gpu, m, tmp, tmp))
		a, b := readPredictions(t, tmp+"/cpu.arrow"), readPredictions(t, tmp+"/gpu.arrow")
		if len(a.logits) != len(b.logits) || len(a.ids) != 300 {
			t.Fatalf("%s: %d and %d logits for %d rows", m, len(a.logits), len(b.logits), len(a.ids))
		}
		k := len(a.logits) / len(a.ids)
		worst := 0.0
		for i := range a.ids {
			if argmax(a.logits[i*k:(i+1)*k]) != argmax(b.logits[i*k:(i+1)*k]) {
				t.Fatalf("%s: row %s: top-1 differs between ONNX Runtime 1.24 and 1.29", m, a.ids[i])
			}
			for j := i * k; j < (i+1)*k; j++ {
				d := math.Abs(float64(a.logits[j]-b.logits[j])) / math.Max(1, math.Abs(float64(a.logits[j])))
				worst = math.Max(worst, d)
			}
		}
		if worst > 1e-4 {
			t.Fatalf("%s: logits differ by up to %g (relative) between the builds", m, worst)
		}
		t.Logf("%s: largest relative logit difference %.2g", m, worst)
		if meta := mustSh(t, "strings "+tmp+"/gpu.arrow | grep -o '\"onnxruntime\":\"[0-9.]*\"' | head -1"); !strings.Contains(meta, "1.29.0") {
			t.Fatalf("%s: provenance records %q, want ONNX Runtime 1.29.0", m, meta)
		}
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// --provider cuda on a machine without CUDA: every tool that runs a model
// fails before reading its input, naming each library the CUDA provider
// cannot load and the CUDA release it comes from, and writes no stream.
// With the CPU-only build it says to fetch the GPU build.
func TestCUDAErrorPaths(t *testing.T) {
	gpu := testutil.GPULib(t)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 8 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	if _, _, err := sh(t, "test -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 || ldconfig -p | grep -q libcudart.so.13"); err == nil {
		t.Skip("this machine has CUDA libraries: the error paths cannot be reached")
	}
	tools := []string{
		"lk-infer -q --model testdata/zoo/lk31.onnx",
		"lk-attack -q --model testdata/zoo/lk3.onnx --attack fgsm --eps 0.01",
		"lk-featvar -q --model testdata/zoo/lk3.onnx",
		"lk-occlude --patch 4 --mode salient --saliency-grad testdata/zoo/lk3.onnx",
		"lk-occlude --patch 4 --mode salient --saliency-model testdata/zoo/vit.onnx",
	}
	for _, tool := range tools {
		for _, lib := range []string{gpu, ""} {
			env := ""
			if lib != "" {
				env = "LK_ORT_LIB=" + lib + " "
			}
			out, errOut, err := sh(t, fmt.Sprintf("%s%s --provider cuda < %s/x.arrow", env, tool, tmp))
			if err == nil || strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
				t.Fatalf("%s%s --provider cuda: err %v, stderr %q", env, tool, err, errOut)
			}
			if len(out) > 0 {
				t.Errorf("%s: wrote %d bytes of output before failing", tool, len(out))
			}
			want := []string{"a CPU build", "make deps-gpu"}
			if lib != "" {
				want = []string{
					"ONNX Runtime 1.29.0",
					"libcudart.so.13 not found: the CUDA provider of ONNX Runtime 1.29 needs CUDA 13 and cuDNN 9; put their lib folders on LD_LIBRARY_PATH",
					"libcublas.so.13 not found", "libcublasLt.so.13 not found", "libcurand.so.10 not found", "libcudnn.so.9 not found",
					"libcuda.so.1 not found: no NVIDIA driver, so no CUDA device on this machine",
				}
			}
			for _, w := range want {
				if !strings.Contains(errOut, w) {
					t.Fatalf("%s%s --provider cuda: stderr %q lacks %q", env, tool, errOut, w)
				}
			}
		}
	}
}
