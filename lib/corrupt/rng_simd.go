//go:build goexperiment.simd && amd64

package corrupt

import (
	"math"
	"math/bits"
	"simd/archsimd"
)

// On CPUs with AVX-512 the stream's draws are made sixteen at a time: the
// lanes of two vectors hold the states of sixteen consecutive draws, and
// each step jumps every lane sixteen draws on (jumps[16], an affine map
// like a single step, in 128-bit arithmetic from 64-bit lanes); the
// normal draws' fast path then takes sixteen of them at a time
// (acceptRunAVX512). The draws are the scalar stream's, bit for bit
// (TestFillDrawsIsTheStream), and the normals rand.Rand's
// (TestNormalsAreMathRand).
func init() {
	if archsimd.X86.AVX512() {
		// lane i of the first and second vector from the state to its
		// draw (i+1 and i+9 steps), and all of them sixteen draws on: two
		// vectors stepped in turn, so that each waits less on its last
		// step's multiplications
		var s1, s2, ahead [8]jump
		for i := range s1 {
			s1[i], s2[i], ahead[i] = jumps[i+1], jumps[i+9], jumps[16]
		}
		first, second, step16 = newLanes128(&s1), newLanes128(&s2), newLanes128(&ahead)
		dxsm = archsimd.BroadcastUint64x8(dxsmMul)
		fillDraws = fillDrawsAVX512
		initZigVec()
		acceptRun = acceptRunAVX512
	}
}

// The lanes' maps (see init) and the output's multiplier in vector form,
// built once.
var (
	first, second, step16 lanes128
	dxsm                  archsimd.Uint64x8
)

// lanes128 is an affine map of 128-bit states in vector form: the
// multiplier's high and low words, the low word's 32-bit halves (for the
// high word of a 64x64-bit product, which has no instruction), the
// increment's words, and the constants the arithmetic needs, built once
// outside the loops (a constant broadcast inside one can cost a state
// transition each time: see lib/vec).
type lanes128 struct {
	mulHi, mulLo, mulLo0, mulLo1, incHi, incLo archsimd.Uint64x8
	low32, one, by32, by48                     archsimd.Uint64x8
}

// newLanes128 gives lane i the map js[i].
func newLanes128(js *[8]jump) lanes128 {
	var mh, ml, m0, m1, ih, il [8]uint64
	for i, j := range js {
		mh[i], ml[i], m0[i], m1[i], ih[i], il[i] = j.mulHi, j.mulLo, j.mulLo&(1<<32-1), j.mulLo>>32, j.incHi, j.incLo
	}
	return lanes128{
		archsimd.LoadUint64x8(&mh), archsimd.LoadUint64x8(&ml), archsimd.LoadUint64x8(&m0), archsimd.LoadUint64x8(&m1),
		archsimd.LoadUint64x8(&ih), archsimd.LoadUint64x8(&il),
		archsimd.BroadcastUint64x8(1<<32 - 1), archsimd.BroadcastUint64x8(1),
		archsimd.BroadcastUint64x8(32), archsimd.BroadcastUint64x8(48),
	}
}

// apply maps each lane's state (hi, lo): (hi, lo)*mul + inc modulo 2^128,
// as jump.apply does.
func (m *lanes128) apply(hi, lo archsimd.Uint64x8) (archsimd.Uint64x8, archsimd.Uint64x8) {
	// the high word of lo*mulLo from four 32x32-bit products
	a0, a1 := lo.And(m.low32), lo.ShiftRight(m.by32)
	p00, p01, p10, p11 := a0.Mul(m.mulLo0), a0.Mul(m.mulLo1), a1.Mul(m.mulLo0), a1.Mul(m.mulLo1)
	t := p10.Add(p00.ShiftRight(m.by32))
	w := t.And(m.low32).Add(p01)
	mh := p11.Add(t.ShiftRight(m.by32)).Add(w.ShiftRight(m.by32))
	nlo := lo.Mul(m.mulLo).Add(m.incLo)
	nhi := hi.Mul(m.mulLo).Add(lo.Mul(m.mulHi)).Add(mh).Add(m.incHi)
	return nhi.Add(m.one.Masked(nlo.Less(m.incLo))), nlo // the low word's carry
}

// output is pcg.next's output function (DXSM) of each lane's state.
func (m *lanes128) output(hi, lo, dxsm archsimd.Uint64x8) archsimd.Uint64x8 {
	h := hi.Xor(hi.ShiftRight(m.by32)).Mul(dxsm)
	return h.Xor(h.ShiftRight(m.by48)).Mul(lo.Or(m.one))
}

func fillDrawsAVX512(u []uint64, p pcg) {
	n := len(u) &^ 15
	if n > 0 {
		step16, dxsm := &step16, dxsm
		vh, vl := archsimd.BroadcastUint64x8(p.hi), archsimd.BroadcastUint64x8(p.lo)
		hi, lo := first.apply(vh, vl)
		hi2, lo2 := second.apply(vh, vl)
		for i := 0; i < n; i += 16 {
			step16.output(hi, lo, dxsm).Store((*[8]uint64)(u[i : i+8]))
			step16.output(hi2, lo2, dxsm).Store((*[8]uint64)(u[i+8 : i+16]))
			hi, lo = step16.apply(hi, lo)
			hi2, lo2 = step16.apply(hi2, lo2)
		}
		archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
		p = jumps[n].apply(p)
	}
	fillDrawsScalar(u[n:], p)
}

// acceptRunAVX512 is the ziggurat's fast path sixteen draws at a time
// (see acceptRun): the strips' bounds and widths looked up by four
// two-table permutes each, 32 entries apiece, and the accepted values
// float64(j) * float64(zigW[k]) as the scalar code computes them.
func acceptRunAVX512(dst []float64, u []uint64) int {
	z := &zigVec
	n := 0
	for ; n+16 <= len(dst) && n+16 <= len(u); n += 16 {
		d0 := archsimd.LoadUint64x8((*[8]uint64)(u[n : n+8])).AsUint32x16()
		d1 := archsimd.LoadUint64x8((*[8]uint64)(u[n+8 : n+16])).AsUint32x16()
		j := d0.ConcatPermute(d1, z.even).AsInt32x16() // the draws' low words
		k := d0.ConcatPermute(d1, z.odd).And(z.strip)  // their strips
		b5, b6 := k.And(z.bit5).NotEqual(z.zero), k.And(z.bit6).NotEqual(z.zero)
		look := func(t *[8]archsimd.Uint32x16) archsimd.Uint32x16 {
			lo := t[2].ConcatPermute(t[3], k).Merge(t[0].ConcatPermute(t[1], k), b5)
			hi := t[6].ConcatPermute(t[7], k).Merge(t[4].ConcatPermute(t[5], k), b5)
			return hi.Merge(lo, b6)
		}
		bound, width := look(&z.k), look(&z.w).AsFloat32x16()
		ok := j.Abs().AsUint32x16().Less(bound).ToBits()
		j.GetLo().ConvertToFloat64().Mul(width.GetLo().ConvertToFloat64()).Store((*[8]float64)(dst[n : n+8]))
		j.GetHi().ConvertToFloat64().Mul(width.GetHi().ConvertToFloat64()).Store((*[8]float64)(dst[n+8 : n+16]))
		if ok != 0xffff {
			n += bits.TrailingZeros16(^ok)
			break
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
	return n
}

// zigVec holds the ziggurat's tables (zigK, and zigW's bits) as vectors
// of sixteen, and the walk's constants.
var zigVec struct {
	k, w                               [8]archsimd.Uint32x16
	even, odd, strip, bit5, bit6, zero archsimd.Uint32x16
}

func initZigVec() {
	for i := range 8 {
		var kk, ww [16]uint32
		for l := range 16 {
			kk[l], ww[l] = zigK[16*i+l], math.Float32bits(zigW[16*i+l])
		}
		zigVec.k[i], zigVec.w[i] = archsimd.LoadUint32x16(&kk), archsimd.LoadUint32x16(&ww)
	}
	var even, odd [16]uint32
	for l := range 16 {
		even[l], odd[l] = uint32(2*l), uint32(2*l+1)
	}
	zigVec.even, zigVec.odd = archsimd.LoadUint32x16(&even), archsimd.LoadUint32x16(&odd)
	zigVec.strip, zigVec.bit5, zigVec.bit6 = archsimd.BroadcastUint32x16(0x7f), archsimd.BroadcastUint32x16(32), archsimd.BroadcastUint32x16(64)
	zigVec.zero = archsimd.BroadcastUint32x16(0)
}
