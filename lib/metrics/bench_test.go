package metrics

import "testing"

var sinkCE float64

// BenchmarkCrossEntropy: one ImageNet-sized row of logits (1,000 exps),
// the per-row cost of lk-metrics' loss and calibration columns; long
// enough that the runtime preempts it, which is what made math.Exp slow
// in the vector build (see lib/vec's package note).
func BenchmarkCrossEntropy(b *testing.B) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(i%37) * 0.25
	}
	for i := 0; i < b.N; i++ {
		sinkCE += CrossEntropy(logits, i%1000)
	}
}
