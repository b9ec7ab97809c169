package infer_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// BenchmarkBareORT is the ceiling for lk-infer: one ONNX Runtime session fed
// pre-made, pre-normalised batches of 64 images, nothing else. make bench
// compares lk-infer's end-to-end images/s against it. LK_BENCH_THREADS sets
// the intra-op threads (default 2).
func BenchmarkBareORT(b *testing.B) {
	testutil.ORT(b)
	threads, _ := strconv.Atoi(os.Getenv("LK_BENCH_THREADS"))
	if threads == 0 {
		threads = 2
	}
	for _, name := range []string{"lk3", "lk31"} {
		b.Run(name, func(b *testing.B) {
			path := testutil.Path(b, "testdata", "zoo", name+".onnx")
			m, err := infer.Open(infer.Options{Model: path})
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
			s, err := ort.NewSession(path, m.Config.Input, []string{m.Config.Output}, ort.Options{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const bs = 64
			in := make([]float32, bs*3*32*32)
			for i := range in {
				in[i] = float32(i%255)/255 - 0.5
			}
			out := make([]float32, bs*m.Classes)
			shape := []int64{bs, 3, 32, 32}
			oshape := [][]int64{{bs, int64(m.Classes)}}
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
