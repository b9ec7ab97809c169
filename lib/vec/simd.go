//go:build goexperiment.simd && amd64

package vec

import (
	"math"
	"simd/archsimd"
	"unsafe"
)

var vector, avx, avx512 = archsimd.X86.AVX2(), archsimd.X86.AVX(), archsimd.X86.AVX512()

// ClearUpper clears the vector registers' upper halves (VZEROUPPER) on
// CPUs with AVX: before scalar code that mixes SSE and VEX instructions
// (see the package note).
func ClearUpper() {
	if avx {
		archsimd.ClearAVXUpperBits()
	}
}

func init() {
	if vector {
		quantize = quantizeAVX2
		toLevels = toLevelsAVX2
		fromLevels = fromLevelsAVX2
		if avx512 && fma {
			toLevels, fromLevels = toLevelsAVX512, fromLevelsAVX512
		}
		maxFrom = maxFromAVX2
		minFrom = minFromAVX2
		addScaled = addScaledAVX2
		subDiv = subDivAVX2
		mulAddBytes = mulAddBytesAVX2
		shiftClip = shiftClipAVX2
		symmetricRow = symmetricRowAVX2
		taps = tapsAVX2
		groupTaps = groupTapsAVX2
		minPlus = minPlusAVX2
		bilinear3 = bilinear3AVX2
		scaleAbout3 = scaleAbout3AVX2
		resampleRGB = resampleRGBAVX2
		blend3 = blend3AVX2
		if avx512 && fma {
			blend3 = blend3AVX512
		}
	}
}

// quantizeAVX2 is quantizeScalar four values at a time (levels.quantize).
func quantizeAVX2(dst, src []float64) {
	l := newLevels()
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		l.quantize(archsimd.LoadFloat64x4Slice(src[i : i+4])).StoreSlice(dst[i : i+4])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	quantizeScalar(dst[n:], src[n:])
}

// levels holds the constants of the conversions to and from 8-bit levels
// in vector registers: a kernel builds it once, outside its loop, since a
// constant broadcast inside the loop can compile to an SSE load, which
// after the loop's 256-bit code costs a state transition each time (it
// made contrast 16 times slower).
type levels struct{ zero, k, r, negK archsimd.Float64x4 }

func newLevels() levels {
	return levels{archsimd.Float64x4{}, archsimd.BroadcastFloat64x4(255), // zero: see the package note
		archsimd.BroadcastFloat64x4(1.0 / 255), archsimd.BroadcastFloat64x4(-255)}
}

// quantize is quantize1 on four values: v*255 clipped to [0, 255] is
// clip(v, 0, 1)*255 (NaN to 0 for now, by Max's rule), then floor and an
// exact division by 255 as the scalar code, so every bit agrees; NaN
// lanes keep their value. Kernels that end with the quantisation call it
// in registers, without another pass over memory.
func (l levels) quantize(v archsimd.Float64x4) archsimd.Float64x4 {
	return v.Merge(l.over255(v.Mul(l.k).Max(l.zero).Min(l.k).Floor()), v.IsNaN())
}

// over255 is x/255, correctly rounded, for x an integer in 0..255: without
// FMA by VDIVPD; with it, q = x*(1/255) corrected once by its residual,
// q + (x - 255q)/255, about four times cheaper. For each of the 256 values
// that is the division's result (TestFromLevelsEveryByte checks them all).
func (l levels) over255(x archsimd.Float64x4) archsimd.Float64x4 {
	if !fma {
		return x.Div(l.k)
	}
	q := x.Mul(l.r)
	return q.MulAdd(l.negK, x).MulAdd(l.r, q)
}

var fma = archsimd.X86.FMA()

// toLevelsAVX2 clips as toLevel1 (NaN fails both comparisons and becomes
// 0), then rounds half away from zero as math.Round does on non-negative
// values: the integer part, plus one where the exact fraction is at least
// one half.
func toLevelsAVX2(dst []uint8, src []float64) {
	var zero archsimd.Float64x4 // not a broadcast of 0: see the package note
	one, k, half := archsimd.BroadcastFloat64x4(1), archsimd.BroadcastFloat64x4(255), archsimd.BroadcastFloat64x4(0.5)
	level := func(v archsimd.Float64x4) archsimd.Int32x4 {
		x := v.Mul(k).Max(zero).Min(k) // NaN: Max gives its second operand, 0
		t := x.Trunc()
		return t.Add(one).Merge(t, x.Sub(t).GreaterEqual(half)).ConvertToInt32()
	}
	n := len(src) &^ 15
	for i := 0; i < n; i += 16 {
		// levels 0..255 in int32 lanes, packed to 16 then 8 bits
		a := level(archsimd.LoadFloat64x4Slice(src[i : i+4])).SaturateToUint16Concat(level(archsimd.LoadFloat64x4Slice(src[i+4 : i+8])))
		b := level(archsimd.LoadFloat64x4Slice(src[i+8 : i+12])).SaturateToUint16Concat(level(archsimd.LoadFloat64x4Slice(src[i+12 : i+16])))
		a.AsUint8x16().PermuteOrZero(evenLo).Or(b.AsUint8x16().PermuteOrZero(evenHi)).StoreSlice(dst[i : i+16])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	toLevelsScalar(dst[n:], src[n:])
}

// evenLo and evenHi gather a vector's even bytes (the low bytes of its
// 16-bit lanes) into its low and high half.
var (
	evenLo = archsimd.LoadInt8x16(&[16]int8{0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1})
	evenHi = archsimd.LoadInt8x16(&[16]int8{-1, -1, -1, -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10, 12, 14})
)

// fromLevelsAVX2 widens bytes to int32, converts them exactly to float64
// and divides them by 255 (levels.over255: the scalar division's bits).
func fromLevelsAVX2(dst []float64, src []uint8) {
	l := newLevels()
	i := 0
	for ; i+16 <= len(src); i += 16 {
		b := archsimd.LoadUint8x16Slice(src[i : i+16])
		lo := b.ExtendLo8ToUint32().AsInt32x8()
		hi := b.PermuteOrZero(hiBytes).ExtendLo8ToUint32().AsInt32x8()
		l.over255(lo.GetLo().ConvertToFloat64()).StoreSlice(dst[i : i+4])
		l.over255(lo.GetHi().ConvertToFloat64()).StoreSlice(dst[i+4 : i+8])
		l.over255(hi.GetLo().ConvertToFloat64()).StoreSlice(dst[i+8 : i+12])
		l.over255(hi.GetHi().ConvertToFloat64()).StoreSlice(dst[i+12 : i+16])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	fromLevelsScalar(dst[i:], src[i:])
}

// hiBytes moves a vector's bytes 8..15 to 0..7.
var hiBytes = archsimd.LoadInt8x16(&[16]int8{8, 9, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1})

// maxFromAVX2 and minFromAVX2 take the lane-wise extreme and record NaN
// apart: the instructions return their second operand for NaN and for two
// zeros, so a NaN or a zero result (where -0 and +0 could differ) is
// answered by the scalar fold.
func maxFromAVX2(init float64, src []float64) float64 {
	return extremeAVX2(init, src, false)
}

func minFromAVX2(init float64, src []float64) float64 {
	return extremeAVX2(init, src, true)
}

func extremeAVX2(init float64, src []float64, isMin bool) float64 {
	fold := maxFromScalar
	if isMin {
		fold = minFromScalar
	}
	n := len(src) &^ 15
	if n == 0 {
		return fold(init, src)
	}

	// four running extremes, in registers: one would wait on each
	// comparison's latency
	ld := func(i int) archsimd.Float64x4 { return archsimd.LoadFloat64x4Slice(src[i : i+4]) }
	m0, m1, m2, m3 := ld(0), ld(4), ld(8), ld(12)
	nan := m0.IsNaN().Or(m1.IsNaN()).Or(m2.IsNaN()).Or(m3.IsNaN())
	for i := 16; i < n; i += 16 {
		v0, v1, v2, v3 := ld(i), ld(i+4), ld(i+8), ld(i+12)
		nan = nan.Or(v0.IsNaN()).Or(v1.IsNaN()).Or(v2.IsNaN()).Or(v3.IsNaN())
		if isMin {
			m0, m1, m2, m3 = m0.Min(v0), m1.Min(v1), m2.Min(v2), m3.Min(v3)
		} else {
			m0, m1, m2, m3 = m0.Max(v0), m1.Max(v1), m2.Max(v2), m3.Max(v3)
		}
	}
	var l [16]float64 // (no array of vectors: see the package note)
	m0.Store((*[4]float64)(l[0:4]))
	m1.Store((*[4]float64)(l[4:8]))
	m2.Store((*[4]float64)(l[8:12]))
	m3.Store((*[4]float64)(l[12:16]))
	archsimd.ClearAVXUpperBits()
	r := fold(fold(init, l[:]), src[n:])
	if nan.ToBits() != 0 || r == 0 || r != r {
		return fold(init, src)
	}
	return r
}

// subDivAVX2 is subDivScalar four values at a time: the same two
// operations, rounded each.
func subDivAVX2(dst, src []float64, a, b float64) {
	n := len(dst) &^ 3
	subDivScalar(dst[n:], src[n:], a, b) // first: see the package note
	va, vb := archsimd.BroadcastFloat64x4(a), archsimd.BroadcastFloat64x4(b)
	for i := 0; i < n; i += 4 {
		archsimd.LoadFloat64x4Slice(src[i : i+4]).Sub(va).Div(vb).StoreSlice(dst[i : i+4])
	}
	archsimd.ClearAVXUpperBits()
}

func addScaledAVX2(dst, a, f []float64, p, s, d float64) {
	n := len(dst) &^ 3
	addScaledScalar(dst[n:], a[n:], f[n:], p, s, d) // first: see the package note
	vp, vs, vd := archsimd.BroadcastFloat64x4(p), archsimd.BroadcastFloat64x4(s), archsimd.BroadcastFloat64x4(d)
	l := newLevels()
	for i := 0; i < n; i += 4 {
		pf := vp.Mul(archsimd.LoadFloat64x4Slice(f[i : i+4]))
		l.quantize(archsimd.LoadFloat64x4Slice(a[i : i+4]).Add(pf).Mul(vs).Div(vd)).StoreSlice(dst[i : i+4])
	}
	archsimd.ClearAVXUpperBits()
}

// blend3AVX2 rescales the fractal and copies each value to its pixel's
// three channels a chunk at a time, in scalar code, then blends them as
// QuantizeAddScaled with p = 1 (p*f is already in the copies, and 1 times
// it is exact).
func blend3AVX2(dst, src []float64, w int, f []float64, stride int, lo, span, p, s, d float64) {
	var g [3 * 64]float64
	for y := 0; y < len(dst)/(3*w); y++ {
		o, a := dst[3*w*y:3*w*(y+1)], src[3*w*y:]
		for x0 := 0; x0 < w; x0 += 64 {
			fs := f[y*stride+x0 : y*stride+min(x0+64, w)]
			for x, v := range fs {
				v := float64(p * ((v - lo) / span))
				g[3*x], g[3*x+1], g[3*x+2] = v, v, v
			}
			addScaledAVX2(o[3*x0:3*(x0+len(fs))], a[3*x0:], g[:], 1, s, d)
		}
	}
}

// blend3AVX512 blends a row 64 pixels at a time in two passes: the
// fractal values rescaled (times p) eight at a time and spread over
// their pixels' three channels by three permutes, into a buffer; then
// the 192 channel values blended with them, both divisions by quotient
// and the quantisation by levels8. (In one pass its constants outnumber
// the 15 vector registers Go allocates, and the spills fell inside the
// divisions' chains.) The scalar work, the rows' last pixels and the
// divisors, comes first: see the package note.
func blend3AVX512(dst, src []float64, w int, f []float64, stride int, lo, span, p, s, d float64) {
	if !quotientRange(span) || !quotientRange(d) {
		blend3Scalar(dst, src, w, f, stride, lo, span, p, s, d)
		return
	}
	n, rows := w&^7, len(dst)/(3*w)
	if n < w {
		for y := 0; y < rows; y++ {
			row := 3 * w * y
			blend3Scalar(dst[row+3*n:row+3*w], src[row+3*n:], w-n, f[y*stride+n:], stride, lo, span, p, s, d)
		}
	}
	if n == 0 {
		return
	}
	bySpan, byD := newDivisor8(1/span, -span), newDivisor8(1/d, -d)
	vlo, vp, vs := archsimd.BroadcastFloat64x8(lo), archsimd.BroadcastFloat64x8(p), archsimd.BroadcastFloat64x8(s)
	var g [3 * 64]float64
	for y := 0; y < rows; y++ {
		fr, a, o := f[y*stride:y*stride+n], src[3*w*y:3*w*y+3*n], dst[3*w*y:3*w*y+3*n]
		for x0 := 0; x0 < n; x0 += 64 {
			m := min(64, n-x0)
			spreadRescaled(g[:3*m], fr[x0:x0+m], vlo, vp, bySpan)
			blendQuantize(o[3*x0:3*(x0+m)], a[3*x0:3*(x0+m)], g[:3*m], vs, byD)
		}
	}
	archsimd.ClearAVXUpperBits()
}

// spreadRescaled sets the three values of g for each value v of f to
// p * ((v-lo)/span), eight values at a time; len(f) is a multiple of 8.
func spreadRescaled(g, f []float64, lo, p archsimd.Float64x8, span divisor8) {
	e0, e1, e2 := archsimd.LoadUint64x8(&spread3[0]), archsimd.LoadUint64x8(&spread3[1]), archsimd.LoadUint64x8(&spread3[2])
	for x := 0; x+8 <= len(f); x += 8 {
		v := p.Mul(quotient(load8(f[x:x+8]).Sub(lo), span))
		o := g[3*x : 3*x+24]
		v.Permute(e0).Store((*[8]float64)(o[0:8]))
		v.Permute(e1).Store((*[8]float64)(o[8:16]))
		v.Permute(e2).Store((*[8]float64)(o[16:24]))
	}
}

// blendQuantize sets dst[i] to the quantisation of (a[i] + g[i]) * s / d,
// eight values at a time; len(dst) is a multiple of 8.
func blendQuantize(dst, a, g []float64, s archsimd.Float64x8, d divisor8) {
	l := newLevels8()
	for i := 0; i+8 <= len(dst); i += 8 {
		l.quantize(quotient(load8(a[i:i+8]).Add(load8(g[i:i+8])).Mul(s), d)).Store((*[8]float64)(dst[i : i+8]))
	}
}

// spread3 copies eight values to the three channels of their pixels.
var spread3 = [3][8]uint64{{0, 0, 0, 1, 1, 1, 2, 2}, {2, 3, 3, 3, 4, 4, 4, 5}, {5, 5, 6, 6, 6, 7, 7, 7}}

func load8(s []float64) archsimd.Float64x8 { return archsimd.LoadFloat64x8((*[8]float64)(s)) }

// levels8 is levels for 512-bit vectors (AVX-512, with FMA).
type levels8 struct{ zero, k, r, negK archsimd.Float64x8 }

func newLevels8() levels8 {
	return levels8{archsimd.Float64x8{}, archsimd.BroadcastFloat64x8(255),
		archsimd.BroadcastFloat64x8(1.0 / 255), archsimd.BroadcastFloat64x8(-255)}
}

// quantize is levels.quantize on eight values.
func (l levels8) quantize(v archsimd.Float64x8) archsimd.Float64x8 {
	return v.Merge(l.over255(v.Mul(l.k).Max(l.zero).Min(l.k).FloorScaled(0)), v.IsNaN())
}

// over255 is levels.over255 on eight values (with FMA).
func (l levels8) over255(x archsimd.Float64x8) archsimd.Float64x8 {
	q := x.Mul(l.r)
	return q.MulAdd(l.negK, x).MulAdd(l.r, q)
}

// toLevelsAVX512 is toLevelsAVX2 on 512-bit vectors, 16 values a step,
// packed to bytes by a truncating conversion (the levels are 0..255).
func toLevelsAVX512(dst []uint8, src []float64) {
	var zero archsimd.Float64x8 // not a broadcast of 0: see the package note
	one, k, half := archsimd.BroadcastFloat64x8(1), archsimd.BroadcastFloat64x8(255), archsimd.BroadcastFloat64x8(0.5)
	level := func(v archsimd.Float64x8) archsimd.Int32x8 {
		x := v.Mul(k).Max(zero).Min(k) // NaN: Max gives its second operand, 0
		t := x.TruncScaled(0)
		return t.Add(one).Merge(t, x.Sub(t).GreaterEqual(half)).ConvertToInt32()
	}
	n := len(src) &^ 15
	for i := 0; i < n; i += 16 {
		var w archsimd.Int32x16
		w = w.SetLo(level(load8(src[i : i+8]))).SetHi(level(load8(src[i+8 : i+16])))
		w.AsUint32x16().TruncateToUint8().StoreSlice(dst[i : i+16])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	toLevelsScalar(dst[n:], src[n:])
}

// fromLevelsAVX512 is fromLevelsAVX2 on 512-bit vectors, 16 values a step.
func fromLevelsAVX512(dst []float64, src []uint8) {
	l := newLevels8()
	n := len(src) &^ 15
	for i := 0; i < n; i += 16 {
		w := archsimd.LoadUint8x16Slice(src[i : i+16]).ExtendToUint32()
		l.over255(w.GetLo().ConvertToFloat64()).Store((*[8]float64)(dst[i : i+8]))
		l.over255(w.GetHi().ConvertToFloat64()).Store((*[8]float64)(dst[i+8 : i+16]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	fromLevelsScalar(dst[n:], src[n:])
}

// divisor8 is a divisor d for quotient: r = 1/d rounded, -d, and the
// bounds of quotient's range, squared. (Four vectors: a struct of at most
// four is kept in registers, a larger one copied by SSE moves; see the
// package note.)
type divisor8 struct{ r, negD, small2, big2 archsimd.Float64x8 }

func newDivisor8(r, negD float64) divisor8 {
	return divisor8{archsimd.BroadcastFloat64x8(r), archsimd.BroadcastFloat64x8(negD),
		archsimd.BroadcastFloat64x8(quotientSmall * quotientSmall), archsimd.BroadcastFloat64x8(quotientBig * quotientBig)}
}

// quotient is x/d without VDIVPD (its five multiplications issue in a
// sixth of a VDIVPD's time on this project's Xeon, 0.9 against 5.5 ns for
// eight values, in loops of independent operations): the product
// q0 = x*r is within 1.5 units in the last place of x/d; one correction
// by its residual x - q0*d (by FMA) makes it faithful, and a second, its
// residual now exact, gives x/d correctly rounded. That is Markstein's
// theorem (1990; as stated by Louvet, Muller and Panhaleux,
// "Newton-Raphson algorithms for floating-point division using an FMA",
// 2010), which holds where nothing overflows or underflows. Lanes whose
// q0 is zero, NaN or outside the range [2^-500, 2^500] (q0 squared
// outside its square) take VDIVPD instead (a branch, almost never taken);
// a d outside that range is never given to quotient (its callers check
// quotientRange and divide in scalar code): the bits of x/d in every case
// (TestQuotientIsDivision).
func quotient(x archsimd.Float64x8, v divisor8) archsimd.Float64x8 {
	q0 := x.Mul(v.r)
	q1 := q0.MulAdd(v.negD, x).MulAdd(v.r, q0)
	q2 := q1.MulAdd(v.negD, x).MulAdd(v.r, q1)
	sq := q0.Mul(q0)
	lo, hi := sq.GreaterEqual(v.small2), sq.LessEqual(v.big2)
	if lo.ToBits()&hi.ToBits() != 0xff {
		// x/d as -(x/-d): a change of sign is exact
		return q2.Merge(x.Div(v.negD).Mul(archsimd.BroadcastFloat64x8(-1)), lo.And(hi))
	}
	return q2
}

const quotientSmall, quotientBig = 0x1p-500, 0x1p500

// quotientRange reports whether quotient may divide by d.
func quotientRange(d float64) bool {
	a := math.Abs(d)
	return a >= quotientSmall && a <= quotientBig
}

func mulAddBytesAVX2(acc []int32, row []uint8, k int32) {
	vk := archsimd.BroadcastInt32x8(k)
	i := 0
	for ; i+16 <= len(row); i += 8 { // 16 bytes loaded, the low 8 used
		w := archsimd.LoadUint8x16Slice(row[i : i+16]).ExtendLo8ToUint32().AsInt32x8()
		archsimd.LoadInt32x8Slice(acc[i : i+8]).Add(w.Mul(vk)).StoreSlice(acc[i : i+8])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	mulAddBytesScalar(acc[i:], row[i:], k)
}

func shiftClipAVX2(dst []uint8, acc []int32, shift uint8) {
	zero, top, sh := archsimd.BroadcastInt32x8(0), archsimd.BroadcastInt32x8(255), archsimd.BroadcastInt32x8(int32(shift))
	var q [8]int32
	n := len(acc) &^ 7
	for i := 0; i < n; i += 8 {
		archsimd.LoadInt32x8Slice(acc[i : i+8]).ShiftRight(sh).Max(zero).Min(top).Store(&q)
		d := dst[i : i+8 : i+8]
		d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = uint8(q[0]), uint8(q[1]), uint8(q[2]), uint8(q[3]), uint8(q[4]), uint8(q[5]), uint8(q[6]), uint8(q[7])
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	shiftClipScalar(dst[n:], acc[n:], shift)
}

// symmetricRowAVX2 computes four outputs per vector, each lane with the
// scalar sum's operations in its order; 32 outputs per step in eight
// independent chains hide the additions' latency. Loads skip bounds checks:
// SymmetricRow has checked the furthest, row[len(dst)+len(taps)-2].
func symmetricRowAVX2(dst, row, taps []float64) {
	r := len(taps) / 2
	n := len(taps) - 1
	c := archsimd.BroadcastFloat64x4(taps[r])
	base := unsafe.Pointer(unsafe.SliceData(row))
	ld := func(i int) archsimd.Float64x4 { return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(base, 8*i))) }
	pair := func(t archsimd.Float64x4, lo, hi int) archsimd.Float64x4 { return t.Mul(ld(lo).Add(ld(hi))) }
	x := 0
	for ; x+32 <= len(dst); x += 32 {
		m := x + r // (not an array of vectors: Go zeroes one with SSE stores; see the package note)
		s0, s1, s2, s3 := c.Mul(ld(m)), c.Mul(ld(m+4)), c.Mul(ld(m+8)), c.Mul(ld(m+12))
		s4, s5, s6, s7 := c.Mul(ld(m+16)), c.Mul(ld(m+20)), c.Mul(ld(m+24)), c.Mul(ld(m+28))
		for k := 0; k < r; k++ {
			t := archsimd.BroadcastFloat64x4(taps[k])
			lo, hi := x+k, x+n-k
			s0 = s0.Add(pair(t, lo, hi))
			s1 = s1.Add(pair(t, lo+4, hi+4))
			s2 = s2.Add(pair(t, lo+8, hi+8))
			s3 = s3.Add(pair(t, lo+12, hi+12))
			s4 = s4.Add(pair(t, lo+16, hi+16))
			s5 = s5.Add(pair(t, lo+20, hi+20))
			s6 = s6.Add(pair(t, lo+24, hi+24))
			s7 = s7.Add(pair(t, lo+28, hi+28))
		}
		for j, v := range [8]archsimd.Float64x4{s0, s1, s2, s3, s4, s5, s6, s7} {
			v.Store((*[4]float64)(dst[x+4*j : x+4*j+4]))
		}
	}
	for ; x+4 <= len(dst); x += 4 {
		s := c.Mul(ld(x + r))
		for k := 0; k < r; k++ {
			s = s.Add(pair(archsimd.BroadcastFloat64x4(taps[k]), x+k, x+n-k))
		}
		s.Store((*[4]float64)(dst[x : x+4]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	symmetricRowScalar(dst[x:], row[x:], taps)
}

// tapsAVX2 sums four outputs per vector, 32 per step in eight independent
// chains (the additions' latency bounds it), each lane in the scalar
// code's tap order. Where AVX-512 runs, 32 a step in four 512-bit chains:
// eight (64 outputs) were 7-8% slower in defocus and gaussian blur (each
// load's address takes a register, and eight sent the loop's other
// values through the stack; 224 is also a multiple of 32, not 64).
//
// Its loads skip Go's bounds checks (they were most of its time): Taps has
// checked that the furthest one, p[len(dst)-1+max(off)], is in p.
func tapsAVX2(dst, p []float64, off []int, w []float64) {
	base := unsafe.Pointer(unsafe.SliceData(p))
	ld := func(i int) archsimd.Float64x4 { return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(base, 8*i))) }
	x := 0
	at := func(q unsafe.Pointer, j uintptr) archsimd.Float64x4 {
		return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(q, 32*j)))
	}
	if avx512 {
		at8 := func(q unsafe.Pointer, j uintptr) archsimd.Float64x8 {
			return archsimd.LoadFloat64x8((*[8]float64)(unsafe.Add(q, 64*j)))
		}
		for ; x+32 <= len(dst); x += 32 {
			var s0, s1, s2, s3 archsimd.Float64x8
			row := unsafe.Add(base, 8*x)
			for k, o := range off {
				vw, q := archsimd.BroadcastFloat64x8(w[k]), unsafe.Add(row, 8*o)
				s0 = s0.Add(vw.Mul(at8(q, 0)))
				s1 = s1.Add(vw.Mul(at8(q, 1)))
				s2 = s2.Add(vw.Mul(at8(q, 2)))
				s3 = s3.Add(vw.Mul(at8(q, 3)))
			}
			s0.Store((*[8]float64)(dst[x : x+8]))
			s1.Store((*[8]float64)(dst[x+8 : x+16]))
			s2.Store((*[8]float64)(dst[x+16 : x+24]))
			s3.Store((*[8]float64)(dst[x+24 : x+32]))
		}
	}
	for ; x+32 <= len(dst); x += 32 {
		var s0, s1, s2, s3, s4, s5, s6, s7 archsimd.Float64x4
		row := unsafe.Add(base, 8*x)
		for k, o := range off {
			vw, q := archsimd.BroadcastFloat64x4(w[k]), unsafe.Add(row, 8*o)
			s0 = s0.Add(vw.Mul(at(q, 0)))
			s1 = s1.Add(vw.Mul(at(q, 1)))
			s2 = s2.Add(vw.Mul(at(q, 2)))
			s3 = s3.Add(vw.Mul(at(q, 3)))
			s4 = s4.Add(vw.Mul(at(q, 4)))
			s5 = s5.Add(vw.Mul(at(q, 5)))
			s6 = s6.Add(vw.Mul(at(q, 6)))
			s7 = s7.Add(vw.Mul(at(q, 7)))
		}
		for j, s := range [8]archsimd.Float64x4{s0, s1, s2, s3, s4, s5, s6, s7} {
			s.Store((*[4]float64)(dst[x+4*j : x+4*j+4]))
		}
	}
	for ; x+16 <= len(dst); x += 16 {
		var s0, s1, s2, s3 archsimd.Float64x4
		for k, o := range off {
			vw, i := archsimd.BroadcastFloat64x4(w[k]), x+o
			s0 = s0.Add(vw.Mul(ld(i)))
			s1 = s1.Add(vw.Mul(ld(i + 4)))
			s2 = s2.Add(vw.Mul(ld(i + 8)))
			s3 = s3.Add(vw.Mul(ld(i + 12)))
		}
		s0.Store((*[4]float64)(dst[x : x+4]))
		s1.Store((*[4]float64)(dst[x+4 : x+8]))
		s2.Store((*[4]float64)(dst[x+8 : x+12]))
		s3.Store((*[4]float64)(dst[x+12 : x+16]))
	}
	for ; x+4 <= len(dst); x += 4 {
		var s archsimd.Float64x4
		for k, o := range off {
			s = s.Add(archsimd.BroadcastFloat64x4(w[k]).Mul(ld(x + o)))
		}
		s.Store((*[4]float64)(dst[x : x+4]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	tapsScalar(dst[x:], p[x:], off, w)
}

// groupTapsAVX2 takes 28 outputs a step (224, ImageNet's side, is eight):
// each group's sums in seven independent chains, then added with the
// group's weight to the outputs' running totals, kept in dst; each lane
// in the scalar code's order. Seven chains, not eight: the loads and the
// chains then fit the 15 vector registers Go allocates (with eight, one
// chain went through the stack, and the kernel ran at half speed). Loads
// are unchecked as in tapsAVX2 (GroupTaps checked the furthest). Where
// AVX-512 runs, 32 outputs a step in four 512-bit chains (see tapsAVX2).
func groupTapsAVX2(dst, p []float64, off, ends []int, w []float64) {
	base := unsafe.Pointer(unsafe.SliceData(p))
	var zero4 archsimd.Float64x4
	at := func(q unsafe.Pointer, j uintptr) archsimd.Float64x4 {
		return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(q, 32*j)))
	}
	x := 0
	if avx512 { // the same, 32 outputs a step in four 512-bit chains
		at8 := func(q unsafe.Pointer, j uintptr) archsimd.Float64x8 {
			return archsimd.LoadFloat64x8((*[8]float64)(unsafe.Add(q, 64*j)))
		}
		var zero archsimd.Float64x8 // not a broadcast of 0: see the package note
		for ; x+32 <= len(dst); x += 32 {
			d := (*[32]float64)(dst[x : x+32])
			for j := 0; j < 32; j += 8 { // not clear(d): see the package note
				zero.Store((*[8]float64)(d[j : j+8]))
			}
			row := unsafe.Add(base, 8*x)
			k := 0
			for g, e := range ends {
				var t0, t1, t2, t3 archsimd.Float64x8
				for ; k < e; k++ {
					q := unsafe.Add(row, 8*off[k])
					t0 = t0.Add(at8(q, 0))
					t1 = t1.Add(at8(q, 1))
					t2 = t2.Add(at8(q, 2))
					t3 = t3.Add(at8(q, 3))
				}
				vw := archsimd.BroadcastFloat64x8(w[g])
				acc := func(j int, t archsimd.Float64x8) {
					s := (*[8]float64)(d[8*j : 8*j+8])
					archsimd.LoadFloat64x8(s).Add(vw.Mul(t)).Store(s)
				}
				acc(0, t0)
				acc(1, t1)
				acc(2, t2)
				acc(3, t3)
			}
		}
	}
	for ; x+28 <= len(dst); x += 28 {
		d := (*[28]float64)(dst[x : x+28])
		for j := 0; j < 28; j += 4 { // not clear(d): see the package note
			zero4.Store((*[4]float64)(d[j : j+4]))
		}
		row := unsafe.Add(base, 8*x)
		k := 0
		for g, e := range ends {
			var t0, t1, t2, t3, t4, t5, t6 archsimd.Float64x4
			for ; k < e; k++ {
				q := unsafe.Add(row, 8*off[k])
				t0 = t0.Add(at(q, 0))
				t1 = t1.Add(at(q, 1))
				t2 = t2.Add(at(q, 2))
				t3 = t3.Add(at(q, 3))
				t4 = t4.Add(at(q, 4))
				t5 = t5.Add(at(q, 5))
				t6 = t6.Add(at(q, 6))
			}
			vw := archsimd.BroadcastFloat64x4(w[g])
			acc := func(j int, t archsimd.Float64x4) {
				s := (*[4]float64)(d[4*j : 4*j+4])
				archsimd.LoadFloat64x4(s).Add(vw.Mul(t)).Store(s)
			}
			acc(0, t0)
			acc(1, t1)
			acc(2, t2)
			acc(3, t3)
			acc(4, t4)
			acc(5, t5)
			acc(6, t6)
		}
	}
	for ; x+4 <= len(dst); x += 4 {
		s := (*[4]float64)(dst[x : x+4])
		var tot archsimd.Float64x4
		row := unsafe.Add(base, 8*x)
		k := 0
		for g, e := range ends {
			var t archsimd.Float64x4
			for ; k < e; k++ {
				t = t.Add(at(unsafe.Add(row, 8*off[k]), 0))
			}
			tot = tot.Add(archsimd.BroadcastFloat64x4(w[g]).Mul(t))
		}
		tot.Store(s)
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	groupTapsScalar(dst[x:], p[x:], off, ends, w)
}

// minPlusAVX2 takes four outputs per vector with the scalar code's test
// (t < v, then t), so NaN and signed zeros come out as there.
func minPlusAVX2(dst, p []float64, off []int, w []float64) {
	base := unsafe.Pointer(unsafe.SliceData(p))
	ld := func(i int) archsimd.Float64x4 { return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(base, 8*i))) }
	x := 0
	// sixteen outputs a step in four independent chains: each tap's add,
	// compare and blend wait on the one before in the same lanes
	for ; x+16 <= len(dst); x += 16 {
		d := (*[16]float64)(dst[x : x+16])
		v0 := archsimd.LoadFloat64x4((*[4]float64)(d[0:4]))
		v1 := archsimd.LoadFloat64x4((*[4]float64)(d[4:8]))
		v2 := archsimd.LoadFloat64x4((*[4]float64)(d[8:12]))
		v3 := archsimd.LoadFloat64x4((*[4]float64)(d[12:16]))
		for k, o := range off {
			wk := archsimd.BroadcastFloat64x4(w[k])
			i := x + o
			t0, t1, t2, t3 := ld(i).Add(wk), ld(i+4).Add(wk), ld(i+8).Add(wk), ld(i+12).Add(wk)
			v0, v1, v2, v3 = t0.Merge(v0, t0.Less(v0)), t1.Merge(v1, t1.Less(v1)), t2.Merge(v2, t2.Less(v2)), t3.Merge(v3, t3.Less(v3))
		}
		v0.Store((*[4]float64)(d[0:4]))
		v1.Store((*[4]float64)(d[4:8]))
		v2.Store((*[4]float64)(d[8:12]))
		v3.Store((*[4]float64)(d[12:16]))
	}
	for ; x+4 <= len(dst); x += 4 {
		v := archsimd.LoadFloat64x4((*[4]float64)(dst[x : x+4]))
		for k, o := range off {
			t := ld(x + o).Add(archsimd.BroadcastFloat64x4(w[k]))
			v = t.Merge(v, t.Less(v))
		}
		v.Store((*[4]float64)(dst[x : x+4]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	minPlusScalar(dst[x:], p[x:], off, w)
}

// scaleAbout3AVX2 takes twelve values (four pixels) per step, the means
// laid out in the three vectors that repeat every four pixels.
func scaleAbout3AVX2(dst, src []float64, mu [3]float64, c float64) {
	n := len(dst) / 12 * 12
	scaleAbout3Scalar(dst[n:], src[n:], mu, c) // first: see the package note
	pat := [12]float64{mu[0], mu[1], mu[2], mu[0], mu[1], mu[2], mu[0], mu[1], mu[2], mu[0], mu[1], mu[2]}
	m0 := archsimd.LoadFloat64x4((*[4]float64)(pat[0:4]))
	m1 := archsimd.LoadFloat64x4((*[4]float64)(pat[4:8]))
	m2 := archsimd.LoadFloat64x4((*[4]float64)(pat[8:12]))
	vc := archsimd.BroadcastFloat64x4(c)
	l := newLevels()
	for i := 0; i < n; i += 12 {
		for j, m := range [3]archsimd.Float64x4{m0, m1, m2} {
			v := archsimd.LoadFloat64x4((*[4]float64)(src[i+4*j : i+4*j+4]))
			l.quantize(v.Sub(m).Mul(vc).Add(m)).Store((*[4]float64)(dst[i+4*j : i+4*j+4]))
		}
	}
	archsimd.ClearAVXUpperBits()
}

// bilinear3AVX2 computes a pixel's three channels in one vector (its
// fourth lane is the next value of src, computed and dropped): loads of
// four values from each neighbour, whose last must lie in src, and a
// store of four whose last the next pixel overwrites; the last pixel, and
// any whose neighbour ends src, take the scalar path.
func bilinear3AVX2(dst, src []float64, at []int, f []float64) {
	one := archsimd.BroadcastFloat64x4(1)
	base := unsafe.Pointer(unsafe.SliceData(src))
	ld := func(i int) archsimd.Float64x4 {
		return archsimd.LoadFloat64x4((*[4]float64)(unsafe.Add(base, 8*i)))
	}
	n := len(dst) / 3
	lim := len(src) - 4
	j := 0
	for ; j+1 < n; j++ {
		a := at[4*j : 4*j+4 : 4*j+4]
		if max(a[0], a[1], a[2], a[3]) > lim || min(a[0], a[1], a[2], a[3]) < 0 {
			bilinear3Scalar(dst[3*j:3*j+3], src, a, f[2*j:2*j+2])
			continue
		}
		// the weights by vector loads (a scalar load is an SSE instruction,
		// slow beside AVX code); f[2j+2] exists as j is not the last pixel
		fy := archsimd.LoadFloat64x2((*[2]float64)(f[2*j : 2*j+2])).Broadcast1To4()
		fx := archsimd.LoadFloat64x2((*[2]float64)(f[2*j+1 : 2*j+3])).Broadcast1To4()
		ay, ax := one.Sub(fy), one.Sub(fx)
		top := ax.Mul(ld(a[0])).Add(fx.Mul(ld(a[1])))
		bot := ax.Mul(ld(a[2])).Add(fx.Mul(ld(a[3])))
		ay.Mul(top).Add(fy.Mul(bot)).Store((*[4]float64)(dst[3*j : 3*j+4]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	bilinear3Scalar(dst[3*j:], src, at[4*j:], f[2*j:])
}

// spreadRGB is VPSHUFB's control spreading two RGB pixels (six bytes) of
// each 128-bit lane into the words R0 R1 G0 G1 B0 B1 0 0 (-1: zero).
var spreadRGB = [32]int8{0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
	0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1}

// packRGB is VPSHUFB's control taking the low bytes of a lane's first
// three int32 sums: the lane's pixel, then zeros.
var packRGB = [32]int8{0, 4, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	0, 4, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

// resampleRGBAVX2 computes two output pixels per vector, one per 128-bit
// lane: each pair of taps is a 16-byte load at the pair's first pixel
// whose first six bytes VPSHUFB spreads into words R0 R1 G0 G1 B0 B1 0 0,
// and VPMADDWD against the weights' high and low words gives the pair's
// three sums in two parts (high times 256 plus low: the same integer).
// Each output's four bytes are stored at its pixel, the fourth overwritten
// by the next output; the last outputs, those whose loads would pass the
// row's end, and passes whose weights do not split run the scalar code.
func resampleRGBAVX2(dst, src []uint8, t *RGBTaps, j0 int) {
	n := len(dst) / 3
	pairs, m := t.n/2, len(t.count)
	j := 0
	if t.words != nil && pairs > 0 {
		spread := archsimd.LoadInt8x32(&spreadRGB)
		pack := archsimd.LoadInt8x32(&packRGB)
		half := archsimd.BroadcastInt32x8(1 << (t.shift - 1))
		sh, eight := archsimd.BroadcastInt32x8(int32(t.shift)), archsimd.BroadcastInt32x8(8)
		zero, top := archsimd.BroadcastInt32x8(0), archsimd.BroadcastInt32x8(255)
		lo := pairs * m * 8
		last := len(src) - 16 - 6*(pairs-1) // the furthest byte a pass's first load may start at
		// loads and stores without bounds checks: the loop's condition
		// keeps them in src, t.words and dst
		sp, wp, dp := unsafe.Pointer(unsafe.SliceData(src)), unsafe.Pointer(unsafe.SliceData(t.words)), unsafe.Pointer(unsafe.SliceData(dst))
		for ; j+3 <= n; j += 2 { // outputs j and j+1; the 4th byte of j+1 is dst[3j+6]
			a, b := t.from[j0+j]*3, t.from[j0+j+1]*3
			if a > last || b > last {
				break
			}
			var hs, ls archsimd.Int32x8
			for p := 0; p < pairs; p++ {
				var v archsimd.Uint8x32
				v = v.SetLo(archsimd.LoadUint8x16((*[16]uint8)(unsafe.Add(sp, a+6*p)))).SetHi(archsimd.LoadUint8x16((*[16]uint8)(unsafe.Add(sp, b+6*p))))
				w := v.PermuteOrZeroGrouped(spread).AsInt16x16()
				at := (p*m + j0 + j) * 8
				hs = hs.Add(w.DotProductPairs(archsimd.LoadInt16x16((*[16]int16)(unsafe.Add(wp, 2*at)))))
				ls = ls.Add(w.DotProductPairs(archsimd.LoadInt16x16((*[16]int16)(unsafe.Add(wp, 2*(lo+at))))))
			}
			r := hs.ShiftLeft(eight).Add(ls).Add(half).ShiftRight(sh).Max(zero).Min(top)
			q := r.AsUint8x32().PermuteOrZeroGrouped(pack).AsUint32x8()
			*(*uint32)(unsafe.Add(dp, 3*j)) = q.GetLo().GetElem(0) // little-endian: amd64
			*(*uint32)(unsafe.Add(dp, 3*j+3)) = q.GetHi().GetElem(0)
		}
		archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see the package note
	}
	resampleRGBScalar(dst[3*j:], src, t, j0+j)
}
