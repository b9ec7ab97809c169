//go:build goexperiment.simd && amd64

package corrupt

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		bilinearRowVec = bilinearRowAVX512
		warpRowVec = warpRowAVX512
	}
}

// bilinearRowAVX512 is bilinearRowScalar eight points at a time where all
// eight and their neighbours lie inside the image: floors and weights as
// the scalar code (VRNDSCALEPD's floor is math.Floor's), and the offsets
// (y0*W + x0)*3 computed exactly in float64 (integers far below 2^53),
// then spread into at's groups of four by permutes. A group with a point
// near or past the edge, or not a number, and the row's last points go
// to bilinearRowScalar and its border rule.
func bilinearRowAVX512(at []int, f []float64, m *Img, ys, xs []float64, b border) {
	n := len(xs) &^ 7
	if n > 0 {
		bilinearRowEight(at, f, m.H, m.W, ys[:n], xs[:n], func(j int) {
			bilinearRowScalar(at[4*j:4*j+32], f[2*j:2*j+16], m, ys[j:j+8], xs[j:j+8], b)
		})
	}
	bilinearRowScalar(at[4*n:], f[2*n:], m, ys[n:], xs[n:], b)
}

// bilinearRowEight does bilinearRowAVX512's groups of eight, calling edge
// for a group it leaves to the scalar code. len(xs) is a multiple of 8.
func bilinearRowEight(at []int, f []float64, h, w int, ys, xs []float64, edge func(j int)) {
	ai := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(at))), len(at))
	var zero archsimd.Float64x8 // not a broadcast of 0: see lib/vec
	ymax, xmax := archsimd.BroadcastFloat64x8(float64(h-2)), archsimd.BroadcastFloat64x8(float64(w-2))
	vw, three := archsimd.BroadcastFloat64x8(float64(w)), archsimd.BroadcastFloat64x8(3)
	right, down := archsimd.BroadcastInt64x8(3), archsimd.BroadcastInt64x8(int64(3*w))
	lo, hi := archsimd.LoadUint64x8(&zipIdx[0]), archsimd.LoadUint64x8(&zipIdx[1])
	pairLo, pairHi := archsimd.LoadUint64x8(&zipIdx[2]), archsimd.LoadUint64x8(&zipIdx[3])
	for j := 0; j < len(xs); j += 8 {
		yv, xv := load8(ys[j:j+8]), load8(xs[j:j+8])
		y0, x0 := yv.FloorScaled(0), xv.FloorScaled(0)
		in := y0.GreaterEqual(zero).ToBits() & y0.LessEqual(ymax).ToBits() & x0.GreaterEqual(zero).ToBits() & x0.LessEqual(xmax).ToBits()
		if in != 0xff {
			archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
			edge(j)
			continue
		}
		a0 := y0.Mul(vw).Add(x0).Mul(three).ConvertToInt64()
		a1, a2 := a0.Add(right), a0.Add(down)
		a3 := a2.Add(right)
		// at[4k..4k+3] = a0, a1, a2, a3 of point k: pairs (a0, a1) and
		// (a2, a3) interleaved, then the pairs of each point side by side
		p01lo, p01hi := a0.ConcatPermute(a1, lo), a0.ConcatPermute(a1, hi)
		p23lo, p23hi := a2.ConcatPermute(a3, lo), a2.ConcatPermute(a3, hi)
		o := ai[4*j : 4*j+32]
		p01lo.ConcatPermute(p23lo, pairLo).Store((*[8]int64)(o[0:8]))
		p01lo.ConcatPermute(p23lo, pairHi).Store((*[8]int64)(o[8:16]))
		p01hi.ConcatPermute(p23hi, pairLo).Store((*[8]int64)(o[16:24]))
		p01hi.ConcatPermute(p23hi, pairHi).Store((*[8]int64)(o[24:32]))
		fy, fx := yv.Sub(y0), xv.Sub(x0)
		wt := f[2*j : 2*j+16]
		fy.ConcatPermute(fx, lo).Store((*[8]float64)(wt[0:8]))
		fy.ConcatPermute(fx, hi).Store((*[8]float64)(wt[8:16]))
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
}

// zipIdx: two vectors' lanes interleaved (the first four of each, then
// the last four), and two vectors' lane pairs interleaved (pairs 0 and 1
// of each, then pairs 2 and 3).
var zipIdx = [4][8]uint64{
	{0, 8, 1, 9, 2, 10, 3, 11}, {4, 12, 5, 13, 6, 14, 7, 15},
	{0, 1, 8, 9, 2, 3, 10, 11}, {4, 5, 12, 13, 6, 7, 14, 15},
}

// warpRowAVX512 is warpRowScalar eight points at a time: the same
// products and sums in each lane, math.Round as the integer part plus or
// minus one where the exact remainder is at least a half, and the
// division by 32 as a product (a power of two: exact).
func warpRowAVX512(sx, sy []float64, c *[6]float64, y int) {
	n := len(sx) &^ 7
	warpRowScalar(sx, sy, c, y, n) // scalar code first: see lib/vec
	by, ey := c[1]*float64(y), c[4]*float64(y)
	va, vc, vd, vf := archsimd.BroadcastFloat64x8(c[0]), archsimd.BroadcastFloat64x8(c[2]), archsimd.BroadcastFloat64x8(c[3]), archsimd.BroadcastFloat64x8(c[5])
	vby, vey := archsimd.BroadcastFloat64x8(by), archsimd.BroadcastFloat64x8(ey)
	k, kInv := archsimd.BroadcastFloat64x8(32), archsimd.BroadcastFloat64x8(1.0/32)
	one, half, negHalf := archsimd.BroadcastFloat64x8(1), archsimd.BroadcastFloat64x8(0.5), archsimd.BroadcastFloat64x8(-0.5)
	eight := archsimd.BroadcastFloat64x8(8)
	round := func(v archsimd.Float64x8) archsimd.Float64x8 {
		t := v.TruncScaled(0)
		d := v.Sub(t) // exact
		r := t.Add(one).Merge(t, d.GreaterEqual(half))
		return t.Sub(one).Merge(r, d.LessEqual(negHalf)).Mul(kInv)
	}
	xv := archsimd.LoadFloat64x8(&lanes8)
	for x := 0; x < n; x += 8 {
		round(va.Mul(xv).Add(vby).Add(vc).Mul(k)).Store((*[8]float64)(sx[x : x+8]))
		round(vd.Mul(xv).Add(vey).Add(vf).Mul(k)).Store((*[8]float64)(sy[x : x+8]))
		xv = xv.Add(eight)
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
}

var lanes8 = [8]float64{0, 1, 2, 3, 4, 5, 6, 7}
