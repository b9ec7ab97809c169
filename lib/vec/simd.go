//go:build goexperiment.simd && amd64

package vec

import "simd/archsimd"

var (
	quantize    = quantizeScalar
	toLevels    = toLevelsScalar
	fromLevels  = fromLevelsScalar
	maxFrom     = maxFromScalar
	minFrom     = minFromScalar
	addScaled   = addScaledScalar
	mulAddBytes = mulAddBytesScalar
	shiftClip   = shiftClipScalar
)

var vector = archsimd.X86.AVX2()

func init() {
	if vector {
		quantize = quantizeAVX2
		toLevels = toLevelsAVX2
		fromLevels = fromLevelsAVX2
		maxFrom = maxFromAVX2
		minFrom = minFromAVX2
		addScaled = addScaledAVX2
		mulAddBytes = mulAddBytesAVX2
		shiftClip = shiftClipAVX2
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

// toLevelsAVX2 clips as toLevel1 (NaN fails both comparisons and becomes
// 0), then rounds half away from zero as math.Round does on non-negative
// values: the integer part, plus one where the exact fraction is at least
// one half.
func toLevelsAVX2(dst []uint8, src []float64) {
	zero, one, k, half := archsimd.BroadcastFloat64x4(0), archsimd.BroadcastFloat64x4(1), archsimd.BroadcastFloat64x4(255), archsimd.BroadcastFloat64x4(0.5)
	var q [4]int32
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		v := archsimd.LoadFloat64x4Slice(src[i : i+4])
		c := v.Merge(zero, v.Greater(zero))
		c = one.Merge(c, v.Greater(one))
		x := c.Mul(k)
		t := x.Trunc()
		r := t.Add(one).Merge(t, x.Sub(t).GreaterEqual(half))
		r.ConvertToInt32().Store(&q)
		d := dst[i : i+4 : i+4]
		d[0], d[1], d[2], d[3] = uint8(q[0]), uint8(q[1]), uint8(q[2]), uint8(q[3])
	}
	toLevelsScalar(dst[n:], src[n:])
}

// fromLevelsAVX2 widens bytes to int32, converts them exactly to float64
// and divides by 255 (a correctly rounded division, as the scalar one).
func fromLevelsAVX2(dst []float64, src []uint8) {
	k := archsimd.BroadcastFloat64x4(255)
	i := 0
	for ; i+16 <= len(src); i += 8 { // 16 bytes loaded, the low 8 used
		w := archsimd.LoadUint8x16Slice(src[i : i+16]).ExtendLo8ToUint32().AsInt32x8()
		w.GetLo().ConvertToFloat64().Div(k).StoreSlice(dst[i : i+4])
		w.GetHi().ConvertToFloat64().Div(k).StoreSlice(dst[i+4 : i+8])
	}
	fromLevelsScalar(dst[i:], src[i:])
}

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
	n := len(src) &^ 3
	if n == 0 {
		return fold(init, src)
	}
	m := archsimd.LoadFloat64x4Slice(src[0:4])
	nan := m.IsNaN()
	for i := 4; i < n; i += 4 {
		v := archsimd.LoadFloat64x4Slice(src[i : i+4])
		nan = nan.Or(v.IsNaN())
		if isMin {
			m = m.Min(v)
		} else {
			m = m.Max(v)
		}
	}
	var l [4]float64
	m.Store(&l)
	r := fold(fold(init, l[:]), src[n:])
	if nan.ToBits() != 0 || r == 0 || r != r {
		return fold(init, src)
	}
	return r
}

func addScaledAVX2(dst, a, f []float64, p, s, d float64) {
	vp, vs, vd := archsimd.BroadcastFloat64x4(p), archsimd.BroadcastFloat64x4(s), archsimd.BroadcastFloat64x4(d)
	n := len(dst) &^ 3
	for i := 0; i < n; i += 4 {
		pf := vp.Mul(archsimd.LoadFloat64x4Slice(f[i : i+4]))
		archsimd.LoadFloat64x4Slice(a[i : i+4]).Add(pf).Mul(vs).Div(vd).StoreSlice(dst[i : i+4])
	}
	addScaledScalar(dst[n:], a[n:], f[n:], p, s, d)
}

func mulAddBytesAVX2(acc []int32, row []uint8, k int32) {
	vk := archsimd.BroadcastInt32x8(k)
	i := 0
	for ; i+16 <= len(row); i += 8 { // 16 bytes loaded, the low 8 used
		w := archsimd.LoadUint8x16Slice(row[i : i+16]).ExtendLo8ToUint32().AsInt32x8()
		archsimd.LoadInt32x8Slice(acc[i : i+8]).Add(w.Mul(vk)).StoreSlice(acc[i : i+8])
	}
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
	shiftClipScalar(dst[n:], acc[n:], shift)
}
