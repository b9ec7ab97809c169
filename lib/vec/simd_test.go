//go:build goexperiment.simd && amd64

package vec

import (
	"math"
	"simd/archsimd"
	"testing"
)

var sink float64

// dirty leaves the vector registers' upper halves dirty, as the vector
// build's preemption does (see the package note).
//
//go:noinline
func dirty() {
	archsimd.LoadUint64x4(&dirt).Add(archsimd.LoadUint64x4(&dirt)).Store(&dirt)
}

var dirt [4]uint64

// BenchmarkExpDirtyUpper: math.Exp and Exp in a loop entered with the
// upper halves dirty, as after a preemption in the vector build (BENCH.md
// has this machine's numbers).
func BenchmarkExpDirtyUpper(b *testing.B) {
	if !avx {
		b.Skip("no AVX")
	}
	for _, c := range []struct {
		name string
		exp  func(float64) float64
	}{{"math.Exp", math.Exp}, {"vec.Exp", Exp}} {
		b.Run(c.name, func(b *testing.B) {
			x := 0.0
			dirty() // once, as one preemption does
			for i := 0; i < b.N; i++ {
				x += c.exp(-float64(i&255) / 256)
			}
			sink = x
		})
	}
}

// BenchmarkShortCalls: kernels on 16 values, beside their scalar code, so
// that a kernel's fixed cost shows: an SSE instruction inside a kernel
// costs two state switches a call (see the package note).
func BenchmarkShortCalls(b *testing.B) {
	a, f, d := make([]float64, 16), make([]float64, 16), make([]float64, 16)
	row := make([]float64, 18)
	taps := []float64{0.25, 0.5, 0.25}
	benchPairs(b, []kernelPair{
		{"QuantizeAddScaled", func() { QuantizeAddScaled(d, a, f, 0.5, 1, 1.5) }, func() { addScaledScalar(d, a, f, 0.5, 1, 1.5) }},
		{"QuantizeScaleAbout3", func() { QuantizeScaleAbout3(d, a, [3]float64{.1, .2, .3}, 0.4) }, func() { scaleAbout3Scalar(d, a, [3]float64{.1, .2, .3}, 0.4) }},
		{"SubDiv", func() { SubDiv(d, a, 0.1, 0.7) }, func() { subDivScalar(d, a, 0.1, 0.7) }},
		{"Quantize", func() { Quantize(d, a) }, func() { quantizeScalar(d, a) }},
		{"SymmetricRow", func() { SymmetricRow(d, row, taps) }, func() { symmetricRowScalar(d, row, taps) }},
	})
}
