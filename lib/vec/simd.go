//go:build goexperiment.simd && amd64

package vec

import "simd/archsimd"

var quantize = quantizeScalar

var vector = archsimd.X86.AVX2()

func init() {
	if vector {
		quantize = quantizeAVX2
	}
}

// quantizeAVX2 is quantizeScalar four values at a time: the same
// comparisons (v > 1, v > 0, NaN) select 1, v, v or 0, then floor(x*255)/255
// rounds as the scalar code does, so every bit agrees.
func quantizeAVX2(dst, src []float64) {
	zero, one, k := archsimd.BroadcastFloat64x4(0), archsimd.BroadcastFloat64x4(1), archsimd.BroadcastFloat64x4(255)
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		v := archsimd.LoadFloat64x4Slice(src[i : i+4])
		c := v.Merge(zero, v.Greater(zero)) // v where v > 0, else 0 (NaN too, for now)
		c = one.Merge(c, v.Greater(one))
		r := c.Mul(k).Floor().Div(k)
		v.Merge(r, v.IsNaN()).StoreSlice(dst[i : i+4])
	}
	quantizeScalar(dst[n:], src[n:])
}
