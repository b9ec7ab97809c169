// Package vec holds the image path's hot loops as kernels over slices.
// Each kernel has a scalar version, always built: the reference, and what
// runs where vectors are not available. Built with GOEXPERIMENT=simd on
// amd64 (the Makefile's default), a vector version replaces it at run
// time on CPUs with AVX2; the tests hold the two to the same bits.
package vec

import "math"

// Quantize sets dst[i] to floor(clip(src[i], 0, 1) * 255) / 255: numpy's
// np.uint8(np.clip(x, 0, 1) * 255), the 8-bit image every corruption of
// the reference ends with, back in [0, 1]. NaN stays NaN; -0 becomes 0.
// dst and src may be the same slice; src must be at least as long as dst.
func Quantize(dst, src []float64) { quantize(dst, src[:len(dst)]) }

func quantizeScalar(dst, src []float64) {
	for i, v := range src {
		dst[i] = quantize1(v)
	}
}

func quantize1(v float64) float64 {
	switch {
	case v > 1:
		v = 1
	case v > 0:
	case v != v:
		return v
	default:
		v = 0
	}
	return math.Floor(v*255) / 255
}

// Vector reports whether the vector kernels run (GOEXPERIMENT=simd, amd64,
// AVX2), for benchmarks and reports.
func Vector() bool { return vector }
