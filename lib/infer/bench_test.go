package infer_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// BenchmarkBareORT is the ceiling for lk-infer: one ONNX Runtime session fed
// pre-made, pre-normalised batches, nothing else. make bench (and
// pipelines/bench/gpu.sh) compare lk-infer's end-to-end images/s against
// it. The environment sets what is run:
//
//	LK_BENCH_THREADS   intra-op threads (default 2)
//	LK_BENCH_MODELS    model files, comma-separated (default the zoo's lk3 and lk31)
//	LK_BENCH_BATCH     images per run (default 64)
//	LK_BENCH_PROVIDER  cpu (default) or cuda
func BenchmarkBareORT(b *testing.B) {
	testutil.ORT(b)
	threads, _ := strconv.Atoi(os.Getenv("LK_BENCH_THREADS"))
	if threads == 0 {
		threads = 2
	}
	bs, _ := strconv.Atoi(os.Getenv("LK_BENCH_BATCH"))
	if bs == 0 {
		bs = 64
	}
	paths := strings.Split(os.Getenv("LK_BENCH_MODELS"), ",")
	if paths[0] == "" {
		paths = []string{testutil.Path(b, "testdata", "zoo", "lk3.onnx"), testutil.Path(b, "testdata", "zoo", "lk31.onnx")}
	}
	rt := ort.Options{Threads: threads, Provider: os.Getenv("LK_BENCH_PROVIDER")}
	for _, path := range paths {
		b.Run(strings.TrimSuffix(filepath.Base(path), ".onnx"), func(b *testing.B) {
			m, err := infer.Open(infer.Options{Model: path})
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
			s, err := ort.NewSession(path, m.Config.Input, []string{m.Config.Output}, rt)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			sh := m.Shape
			in := make([]float32, bs*sh.Size())
			for i := range in {
				in[i] = float32(i%255)/255 - 0.5
			}
			out := make([]float32, bs*m.Classes)
			shape := []int64{int64(bs), int64(sh.C), int64(sh.H), int64(sh.W)}
			oshape := [][]int64{{int64(bs), int64(m.Classes)}}
			// one run outside the timing: session warm-up (cuDNN's
			// algorithm search on a GPU)
			if err := s.Run(in, shape, [][]float32{out}, oshape); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Run(in, shape, [][]float32{out}, oshape); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bs)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
