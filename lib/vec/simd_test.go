//go:build goexperiment.simd && amd64

package vec

import (
	"math"
	"math/rand/v2"
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

// quotient gives Go's quotient, bit for bit: for dividends whose quotient
// lies within a few units of a midpoint between two neighbours (where a
// product with the reciprocal, or one correction, rounds the wrong way),
// random ones over the exponent range, and the special values; and for
// divisors from tiny to huge, whose reciprocals are inexact.
func TestQuotientIsDivision(t *testing.T) {
	if !avx512 || !fma {
		t.Skip("no AVX-512 with FMA")
	}
	r := rand.New(rand.NewPCG(3, 4))
	specials := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 5e-324, -2.2e-308,
		math.MaxFloat64, -math.MaxFloat64, 0x1p-500, 0x1p500, 0x1p-501, 0x1p501, 1}
	for _, d := range []float64{3, 1.9, 3.496, 1.0 / 3, 255, 0x1.fffffffffffffp0, 1e-300, 1e300, 5e-324, -7.25, math.Inf(1), 0} {
		if !quotientRange(d) {
			continue // quotient is not given these: blend3AVX512 divides in scalar code
		}
		v := newDivisor8(1/d, -d)
		x := append([]float64(nil), specials...)
		for range 100000 {
			q := (1 + r.Float64()) * math.Ldexp(1, r.IntN(40)-20)
			mid := q + (math.Nextafter(q, 2*q)-q)/2*(1+float64(r.IntN(5)-2)*0x1p-52) // near q's upper midpoint
			x = append(x, mid*d, math.Ldexp(r.Float64()-0.5, r.IntN(2000)-1000))
		}
		for len(x)%8 != 0 {
			x = append(x, 1)
		}
		for i := 0; i < len(x); i += 8 {
			var got [8]float64
			quotient(archsimd.LoadFloat64x8((*[8]float64)(x[i:i+8])), v).Store(&got)
			archsimd.ClearAVXUpperBits()
			for l, g := range got {
				if want := x[i+l] / d; math.Float64bits(g) != math.Float64bits(want) && !(g != g && want != want) {
					t.Fatalf("%v / %v: %v, Go's division %v", x[i+l], d, g, want)
				}
			}
		}
	}
}

// The AVX2 kernels that AVX-512 ones replace where AVX-512 runs (on this
// project's Xeon) give the scalar kernels' bits: they are what an AVX2
// machine runs.
func TestAVX2Kernels(t *testing.T) {
	if !vector {
		t.Skip("no AVX2")
	}
	src := values()
	for _, w := range []int{1, 7, 64, 65, 200} {
		rows := len(src) / (3 * (w + 3))
		got, want := make([]float64, 3*w*rows), make([]float64, 3*w*rows)
		f := src[len(src)-(rows-1)*(w+3)-w:]
		blend3AVX2(got, src, w, f, w+3, -0.75, 1.9, 2.5, 0.996, 3.496)
		blend3Scalar(want, src, w, f, w+3, -0.75, 1.9, 2.5, 0.996, 3.496)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
				t.Fatalf("blend3AVX2 w %d at %d: %v, scalar %v", w, i, got[i], want[i])
			}
		}
	}
	for _, n := range []int{0, 15, 16, 17, 999} {
		got, want := make([]uint8, n), make([]uint8, n)
		toLevelsAVX2(got, src[:n])
		toLevelsScalar(want, src[:n])
		b := bytesValues()[:n]
		fg, fw := make([]float64, n), make([]float64, n)
		fromLevelsAVX2(fg, b)
		fromLevelsScalar(fw, b)
		for i := range want {
			if got[i] != want[i] || math.Float64bits(fg[i]) != math.Float64bits(fw[i]) {
				t.Fatalf("n %d at %d: toLevelsAVX2 %d, scalar %d; fromLevelsAVX2 %v, scalar %v", n, i, got[i], want[i], fg[i], fw[i])
			}
		}
	}
}
