// Package vec holds the image path's hot loops as kernels over slices.
// Each kernel has a scalar version, always built: the reference, and what
// runs where vectors are not available. Built with GOEXPERIMENT=simd on
// amd64 (the Makefile's default), a vector version replaces it at run
// time on CPUs with AVX2; the tests hold the two to the same bits.
//
// Every vector kernel ends with VZEROUPPER (archsimd.ClearAVXUpperBits)
// before it returns or runs its scalar tail: Go's scalar floating point is
// SSE code, and on Intel CPUs SSE code after 256-bit AVX code that left the
// upper halves of the registers dirty runs with a false dependency on them.
// Without it, every scalar loop after a kernel ran at about half speed
// (gaussian noise's 2.3 ms became 4.9 ms on this project's Xeon).
//
// The vector build's runtime dirties them too: its asynchronous preemption
// (runtime/preempt_amd64.s under GOEXPERIMENT=simd) restores every vector
// register whole, so after a goroutine is preempted its scalar code runs
// with dirty upper halves until the next VZEROUPPER. math.Exp's amd64
// assembly mixes SSE with VEX FMA instructions, and in that state each
// switch costs a state transition: on this project's Xeon a loop of 20
// million math.Exp calls, long enough to be preempted, ran at 1,000-1,200
// ns a call instead of 8-9 (three runs each), and lk-metrics' cross
// entropy over 1,000 logits at 389-757 us a row instead of 14.6
// (BenchmarkCrossEntropy). Exp is math.Exp after a VZEROUPPER, and
// NormFloat64 rand.Rand's normal draw after one (it calls math.Exp): lk
// calls them, not math's and rand's (TestExpGoesThroughVec).
//
// Inside a kernel, between its first vector instruction and its
// VZEROUPPER, no SSE instruction may run: on this project's Xeon each
// switch between 256-bit code and SSE code costs about 150 ns (a loop of
// one 256-bit add and one scalar SSE add: 150 ns an iteration, 2.7 without
// the SSE add). Go emits SSE for more than scalar arithmetic: a float
// constant 0 (BroadcastFloat64x4(0) compiled to XORPS: QuantizeAddScaled
// on 16 values took 191 ns instead of 29), clear() and arrays of vectors
// (zeroed by MOVUPS stores), spills of float arguments for a scalar
// tail, and copies of a struct of more than four vectors (Go keeps a
// struct of up to four in registers and moves a larger one through memory
// by MOVUPS: QuantizeBlend3 took 5 ms instead of 0.17 with a divisor of
// five vectors). So the kernels take a zero vector as a zero value, zero
// memory with vector stores, keep vectors in variables or structs of at
// most four, and do their scalar work (tails, reciprocals, checks) before
// their first vector instruction. Go allocates 15 vector registers: a
// loop with more live constants spills some, and spills inside a chain
// of dependent operations slow it; QuantizeBlend3 works in two passes for
// that reason.
package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The kernels in use: the scalar versions, replaced at start-up by the
// vector ones where those run (simd.go).
var (
	quantize     = quantizeScalar
	toLevels     = toLevelsScalar
	fromLevels   = fromLevelsScalar
	maxFrom      = maxFromScalar
	minFrom      = minFromScalar
	addScaled    = addScaledScalar
	subDiv       = subDivScalar
	mulAddBytes  = mulAddBytesScalar
	shiftClip    = shiftClipScalar
	symmetricRow = symmetricRowScalar
	taps         = tapsScalar
	groupTaps    = groupTapsScalar
	minPlus      = minPlusScalar
	bilinear3    = bilinear3Scalar
	scaleAbout3  = scaleAbout3Scalar
	resampleRGB  = resampleRGBScalar
	blend3       = blend3Scalar
)

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

// Exp is math.Exp(x), the same value, called with the vector registers'
// upper halves clean (see the package note): a VZEROUPPER first where AVX
// runs, about a cycle.
func Exp(x float64) float64 {
	ClearUpper()
	return math.Exp(x)
}

// NormFloat64 is r.NormFloat64(), the same draw, with the upper halves
// clean: its wedge test calls math.Exp.
func NormFloat64(r *rand.Rand) float64 {
	ClearUpper()
	return r.NormFloat64()
}

// Vector reports whether the vector kernels run (GOEXPERIMENT=simd, amd64,
// AVX2), for benchmarks and reports.
func Vector() bool { return vector }

// ToLevels sets dst[i] to the nearest 8-bit level of src[i]:
// uint8(math.Round(clip(src[i], 0, 1) * 255)), ties away from zero, as an
// image leaves the float path for an 8-bit codec (JPEG, Pillow's resize).
// NaN becomes 0. src must be at least as long as dst.
func ToLevels(dst []uint8, src []float64) { toLevels(dst, src[:len(dst)]) }

func toLevelsScalar(dst []uint8, src []float64) {
	for i, v := range src {
		dst[i] = toLevel1(v)
	}
}

func toLevel1(v float64) uint8 {
	switch {
	case v > 1:
		return 255
	case v > 0:
	default: // 0, -0, negatives and NaN
		return 0
	}
	return uint8(math.Round(v * 255))
}

// FromLevels sets dst[i] to src[i]/255: an 8-bit image's values in [0, 1].
// src must be at least as long as dst.
func FromLevels(dst []float64, src []uint8) { fromLevels(dst, src[:len(dst)]) }

func fromLevelsScalar(dst []float64, src []uint8) {
	for i, v := range src {
		dst[i] = float64(v) / 255
	}
}

// MaxFrom is math.Max folded over src from init: NaN anywhere gives NaN,
// +0 beats -0.
func MaxFrom(init float64, src []float64) float64 { return maxFrom(init, src) }

func maxFromScalar(m float64, src []float64) float64 {
	for _, v := range src {
		m = math.Max(m, v)
	}
	return m
}

// MinFrom is math.Min folded over src from init: NaN anywhere gives NaN,
// -0 beats +0.
func MinFrom(init float64, src []float64) float64 { return minFrom(init, src) }

func minFromScalar(m float64, src []float64) float64 {
	for _, v := range src {
		m = math.Min(m, v)
	}
	return m
}

// SubDiv sets dst[i] to (src[i] - a) / b, rounding after each operation
// (plasma's rescaling to [0, 1]). src must be at least as long as dst;
// they may be the same slice.
func SubDiv(dst, src []float64, a, b float64) { subDiv(dst, src[:len(dst)], a, b) }

func subDivScalar(dst, src []float64, a, b float64) {
	for i, v := range src {
		dst[i] = (v - a) / b
	}
}

// QuantizeAddScaled sets dst[i] to the quantisation (Quantize) of
// (a[i] + p*f[i]) * s / d, rounding after each operation in that order
// (fog's blend of an image with its fractal, the noises' sums): in one
// pass, as every caller quantises next. a and f must be at least as long
// as dst.
func QuantizeAddScaled(dst, a, f []float64, p, s, d float64) {
	addScaled(dst, a[:len(dst)], f[:len(dst)], p, s, d)
}

func addScaledScalar(dst, a, f []float64, p, s, d float64) {
	for i := range dst {
		pf := float64(p * f[i]) // explicit: never fused into a multiply-add
		dst[i] = quantize1(float64((a[i]+pf)*s) / d)
	}
}

// QuantizeBlend3 sets the three values of each RGB pixel of dst to the
// quantisation (Quantize) of (a + p*((v-lo)/span)) * s / d, a the value
// in src and v the pixel's value in f, rounding after each operation in
// that order: fog's blend of an image with its fractal (one value a
// pixel, the same in the three channels), rescaled to [0, 1] in the same
// pass. dst holds rows of w pixels (3w values); src is at least as long;
// f's rows start stride values apart, their first w values used.
func QuantizeBlend3(dst, src []float64, w int, f []float64, stride int, lo, span, p, s, d float64) {
	if w <= 0 || len(dst)%(3*w) != 0 || stride < w {
		panic(fmt.Sprintf("vec: QuantizeBlend3 of %d values in rows of %d pixels, fractal rows %d apart", len(dst), w, stride))
	}
	if rows := len(dst) / (3 * w); rows > 0 {
		blend3(dst, src[:len(dst)], w, f[:(rows-1)*stride+w], stride, lo, span, p, s, d)
	}
}

func blend3Scalar(dst, src []float64, w int, f []float64, stride int, lo, span, p, s, d float64) {
	for y := 0; y < len(dst)/(3*w); y++ {
		for x, v := range f[y*stride : y*stride+w] {
			g := float64(p * ((v - lo) / span)) // explicit: never fused
			for i := 3 * (y*w + x); i < 3*(y*w+x)+3; i++ {
				dst[i] = quantize1(float64((src[i]+g)*s) / d)
			}
		}
	}
}

// MulAddBytes adds int32(row[i]) * k to acc[i] (a pass of Pillow's
// fixed-point resampling; integer, so any order gives the same sums).
// row must be at least as long as acc.
func MulAddBytes(acc []int32, row []uint8, k int32) { mulAddBytes(acc, row[:len(acc)], k) }

func mulAddBytesScalar(acc []int32, row []uint8, k int32) {
	for i, v := range row {
		acc[i] += int32(v) * k
	}
}

// ShiftClip sets dst[i] to acc[i] >> shift (arithmetic) clipped to 0..255:
// a fixed-point sum back to an 8-bit level. acc must be at least as long as
// dst.
func ShiftClip(dst []uint8, acc []int32, shift uint8) { shiftClip(dst, acc[:len(dst)], shift) }

func shiftClipScalar(dst []uint8, acc []int32, shift uint8) {
	for i, v := range acc {
		dst[i] = uint8(min(max(v>>shift, 0), 255))
	}
}

// RGBTaps are the fixed-point taps of a horizontal resampling pass over
// rows of RGB bytes (Pillow's): output pixel j sums count[j] input pixels
// from pixel from[j], weighted by k[j*n:], each channel on its own. Built
// by NewRGBTaps only: the vector form is derived from the weights, and
// its unchecked loads rely on the first pixels it checked.
type RGBTaps struct {
	from, count []int
	k           []int32 // n per output; zero past count
	n           int
	shift       uint8 // fractional bits: the sum, plus half, is shifted back
	// the vector form: for each pair of taps p and output j, the weights'
	// high and low parts (k>>8 and k&255, so k = 256 high + low) as the
	// words VPMADDWD takes against pixels spread as R0 R1 G0 G1 B0 B1 0 0:
	// high words at (p*outputs+j)*8, low words after all the high ones,
	// so outputs j and j+1 of one pair are one 256-bit load. nil where a
	// weight's high part does not fit a word.
	words []int16
}

// NewRGBTaps builds the taps of a pass from per-output first pixels and
// weights (k[j] for output j, len(k[j]) taps).
func NewRGBTaps(from []int, k [][]int32, shift uint8) *RGBTaps {
	if len(from) != len(k) || shift == 0 || shift > 30 {
		panic(fmt.Sprintf("vec.NewRGBTaps: %d first pixels for %d outputs, shift %d", len(from), len(k), shift))
	}
	t := &RGBTaps{from: from, count: make([]int, len(k)), shift: shift}
	for j, kj := range k {
		if from[j] < 0 {
			panic(fmt.Sprintf("vec.NewRGBTaps: output %d starts at pixel %d", j, from[j]))
		}
		t.count[j] = len(kj)
		t.n = max(t.n, len(kj)+len(kj)&1) // even: whole pairs
	}
	t.k = make([]int32, len(k)*t.n)
	split := true
	for j, kj := range k {
		copy(t.k[j*t.n:], kj)
		for _, v := range kj {
			split = split && v>>8 == int32(int16(v>>8))
		}
	}
	if split && vector {
		m := len(k)
		t.words = make([]int16, t.n*m*8) // n/2 pairs, two parts, 8 words
		lo := t.n / 2 * m * 8
		for j := range m {
			for p := 0; p < t.n/2; p++ {
				a, b := t.k[j*t.n+2*p], t.k[j*t.n+2*p+1]
				hw, lw := t.words[(p*m+j)*8:], t.words[lo+(p*m+j)*8:]
				for c := 0; c < 3; c++ {
					hw[2*c], hw[2*c+1] = int16(a>>8), int16(b>>8)
					lw[2*c], lw[2*c+1] = int16(a&255), int16(b&255)
				}
			}
		}
	}
	return t
}

// ResampleRGB sets the RGB pixels of dst to outputs j0, j0+1, ... of the
// pass t over the RGB row src: per channel, half plus the weighted sum,
// shifted right by the taps' shift and clipped to 0..255 (integer sums:
// any order gives the same bytes).
func ResampleRGB(dst, src []uint8, t *RGBTaps, j0 int) {
	n := len(dst) / 3
	if j0 < 0 || j0+n > len(t.count) {
		panic(fmt.Sprintf("vec.ResampleRGB: outputs %d..%d of %d", j0, j0+n, len(t.count)))
	}
	resampleRGB(dst[:3*n], src, t, j0)
}

func resampleRGBScalar(dst, src []uint8, t *RGBTaps, j0 int) {
	half := int32(1) << (t.shift - 1)
	for j := 0; j < len(dst)/3; j++ {
		jj := j0 + j
		from, n := t.from[jj], t.count[jj]
		k := t.k[jj*t.n : jj*t.n+n : jj*t.n+n]
		p := src[from*3 : (from+n)*3 : (from+n)*3]
		s0, s1, s2 := half, half, half
		x := 0
		for ; x+2 <= n; x += 2 { // two taps a step: bilinear and box filters mostly have few
			ka, kb := k[x], k[x+1]
			q := p[x*3 : x*3+6 : x*3+6]
			s0 += int32(q[0])*ka + int32(q[3])*kb
			s1 += int32(q[1])*ka + int32(q[4])*kb
			s2 += int32(q[2])*ka + int32(q[5])*kb
		}
		if x < n {
			kv := k[x]
			q := p[x*3 : x*3+3 : x*3+3]
			s0 += int32(q[0]) * kv
			s1 += int32(q[1]) * kv
			s2 += int32(q[2]) * kv
		}
		d := dst[j*3 : j*3+3 : j*3+3]
		d[0], d[1], d[2] = clipShift(s0, t.shift), clipShift(s1, t.shift), clipShift(s2, t.shift)
	}
}

func clipShift(v int32, shift uint8) uint8 { return uint8(min(max(v>>shift, 0), 255)) }

// SymmetricRow sets dst[x] to the correlation of row with symmetric taps
// (len(taps) = 2r+1, taps[k] = taps[2r-k]) centred at row[x+r], summed as
// scipy's gaussian_filter1d sums it: the centre tap times its value, then
// each pair folded, taps[k] * (left + right), k from the outside in.
// row must hold len(dst) + 2r values.
func SymmetricRow(dst, row, taps []float64) {
	if len(dst) > 0 {
		_ = row[len(dst)+len(taps)-2]
		symmetricRow(dst, row, taps)
	}
}

func symmetricRowScalar(dst, row, taps []float64) {
	r := len(taps) / 2
	n := len(taps) - 1
	c := taps[r]
	for x := range dst {
		win := row[x : x+len(taps) : x+len(taps)]
		s := c * win[r]
		for k := 0; k < r; k++ {
			s += taps[k] * (win[k] + win[n-k])
		}
		dst[x] = s
	}
}

// Taps sets dst[x] to the sum over k of w[k] * p[x+off[k]], adding in tap
// order from 0: a 2-D correlation's row, its kernel's non-zero taps at
// offsets into a padded plane. p must hold x+off[k] for every x and k.
func Taps(dst, p []float64, off []int, w []float64) {
	if inBounds("Taps", len(dst), len(p), off, len(w)) {
		taps(dst, p, off, w)
	}
}

// GroupTaps is Taps for a kernel whose taps come in groups of one weight:
// dst[x] is the sum over groups g, in order, of w[g] times the sum of
// p[x+off[k]] over the group's offsets, off[ends[g-1]:ends[g]] (from 0 for
// the first), added in order. A blur's kernel has few distinct weights
// (defocus's disk at severity 3: 169 taps, 17 weights), so this is mostly
// additions: the same sum as Taps's, rounded differently.
func GroupTaps(dst, p []float64, off, ends []int, w []float64) {
	if len(ends) != len(w) || len(ends) > 0 && ends[len(ends)-1] != len(off) || !slices.IsSorted(ends) {
		panic(fmt.Sprintf("vec.GroupTaps: %d group ends (want one per weight, %d, rising to %d offsets)", len(ends), len(w), len(off)))
	}
	if inBounds("GroupTaps", len(dst), len(p), off, len(off)) {
		groupTaps(dst, p, off, ends, w)
	}
}

// inBounds checks what the vector kernels reading p at x+off[k] rely on
// (their loads are unchecked): a weight per offset, no offset below 0 and
// the furthest read inside p. It reports whether there is anything to do.
func inBounds(kernel string, ndst, np int, off []int, nw int) bool {
	if ndst == 0 || len(off) == 0 {
		return false
	}
	if nw < len(off) || slices.Min(off) < 0 || ndst-1+slices.Max(off) >= np {
		panic(fmt.Sprintf("vec.%s: %d outputs, %d offsets in [%d, %d], %d weights, %d values to read", kernel, ndst, len(off), slices.Min(off), slices.Max(off), nw, np))
	}
	return true
}

func tapsScalar(dst, p []float64, off []int, w []float64) {
	x := 0
	for ; x+4 <= len(dst); x += 4 { // four outputs' sums in registers, each in tap order
		var s0, s1, s2, s3 float64
		for k, o := range off {
			q := p[x+o : x+o+4 : x+o+4]
			s0 += w[k] * q[0]
			s1 += w[k] * q[1]
			s2 += w[k] * q[2]
			s3 += w[k] * q[3]
		}
		dst[x], dst[x+1], dst[x+2], dst[x+3] = s0, s1, s2, s3
	}
	for ; x < len(dst); x++ {
		var s float64
		for k, o := range off {
			s += w[k] * p[x+o]
		}
		dst[x] = s
	}
}

func groupTapsScalar(dst, p []float64, off, ends []int, w []float64) {
	for x := range dst {
		s, k := 0.0, 0
		for g, e := range ends {
			t := 0.0
			for ; k < e; k++ {
				t += p[x+off[k]]
			}
			s += w[g] * t
		}
		dst[x] = s
	}
}

// MinPlus lowers dst[x] to p[x+off[k]] + w[k] wherever that is smaller,
// for k in order (a chamfer distance transform's pass over the rows
// already done). p must hold x+off[k] for every x and k; dst may lie in p
// where no offset reads it.
func MinPlus(dst, p []float64, off []int, w []float64) {
	if inBounds("MinPlus", len(dst), len(p), off, len(w)) {
		minPlus(dst, p, off, w)
	}
}

func minPlusScalar(dst, p []float64, off []int, w []float64) {
	for x, v := range dst {
		for k, o := range off {
			if t := p[x+o] + w[k]; t < v {
				v = t
			}
		}
		dst[x] = v
	}
}

// QuantizeScaleAbout3 sets dst[i] to the quantisation (Quantize) of
// (src[i] - mu[i%3]) * c + mu[i%3], rounding after each operation in that
// order: contrast's stretch of an RGB image (values interleaved) about its
// channel means, in one pass. src must be at least as long as dst.
func QuantizeScaleAbout3(dst, src []float64, mu [3]float64, c float64) {
	scaleAbout3(dst, src[:len(dst)], mu, c)
}

func scaleAbout3Scalar(dst, src []float64, mu [3]float64, c float64) {
	for i, v := range src {
		m := mu[i%3]
		dst[i] = quantize1(float64((v-m)*c) + m)
	}
}

// Bilinear3 interpolates RGB pixels (values interleaved) of src: for
// output pixel j, the four neighbours start at src[at[4j]], src[at[4j+1]]
// (the right one), src[at[4j+2]] (below), src[at[4j+3]], and the weights
// are f[2j] (down) and f[2j+1] (across); each channel is
// (1-fy)((1-fx) v00 + fx v01) + fy((1-fx) v10 + fx v11), rounded after
// each operation in that order. dst holds 3 values per output.
func Bilinear3(dst, src []float64, at []int, f []float64) {
	n := len(dst) / 3
	if n > 0 {
		bilinear3(dst[:3*n], src, at[:4*n], f[:2*n])
	}
}

func bilinear3Scalar(dst, src []float64, at []int, f []float64) {
	for j := 0; j < len(dst)/3; j++ {
		fy, fx := f[2*j], f[2*j+1]
		p00, p01 := src[at[4*j]:at[4*j]+3], src[at[4*j+1]:at[4*j+1]+3]
		p10, p11 := src[at[4*j+2]:at[4*j+2]+3], src[at[4*j+3]:at[4*j+3]+3]
		for c := 0; c < 3; c++ {
			dst[3*j+c] = float64((1-fy)*float64(float64((1-fx)*p00[c])+float64(fx*p01[c]))) + float64(fy*float64(float64((1-fx)*p10[c])+float64(fx*p11[c])))
		}
	}
}
