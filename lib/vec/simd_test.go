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
