//go:build goexperiment.simd && amd64

package corrupt

import (
	"math"
	"simd/archsimd"
)

func init() {
	if archsimd.X86.AVX512() {
		plasmaLevel = plasmaLevelAVX512
	}
}

// plasmaLevelAVX512 is plasmaLevelScalar for the levels of step 2
// (plasmaStep2) and 4 (15/16 of the map's points), eight points at a
// time. A phase's points in a row lie step values apart, and so do the
// neighbours they read: at step 4 each is read as every fourth value of
// its row (grid.get), and the new points written by masked stores
// (grid.put), which leave the values between them as they were. Each lane
// does the scalar sum's operations in its order, and a row's draws are
// made at once (fillDraws): the same points and stream
// (TestPlasmaLevels).
func plasmaLevelAVX512(m []float64, size, step int, wibble float64, src *pcg) (lo, hi float64, ok bool) {
	n := size / step
	if step != 2 && step != 4 || n%8 != 0 {
		return 0, 0, false
	}
	h, mask, chunks := step/2, size-1, n/8
	g := newGrid(step, wibble, 2*wibble, -wibble) // scalar code before vector code: see lib/vec
	if step == 2 {
		*src, lo, hi = plasmaStep2(m, size, g, *src)
		return lo, hi, true
	}
	u := make([]uint64, n)
	p := *src
	draws := func() { fillDraws(u, p); p = skip(p, n) }
	row := func(y int) []float64 { y &= mask; return m[y*size : (y+1)*size] }
	// squares: the centre of each cell from its four corners; a chunk's
	// right corners are the next chunk's left ones, shifted a lane
	for i := 0; i < n; i++ {
		draws()
		y := i * step
		r0, r1, out := row(y), row(y+step), row(y+h)
		a, b := g.get(r0, g.get0, 0), g.get(r1, g.get0, 0)
		a0, b0 := a, b // the torus: the last cell's right corners
		for k := 0; k < chunks; k++ {
			an, bn := a0, b0
			if k+1 < chunks {
				an, bn = g.get(r0, g.get0, k+1), g.get(r1, g.get0, k+1)
			}
			s := a.Add(b).Add(a.ConcatPermute(an, g.next)).Add(b.ConcatPermute(bn, g.next))
			g.put(out, g.putH, g.maskH, k, g.point(s, u[8*k:8*k+8]))
			a, b = an, bn
		}
	}
	// the top edges' midpoints
	for i := 0; i < n; i++ {
		draws()
		y := i * step
		mid, up, c := row(y+h), row(y-h), row(y)
		e := g.get(c, g.get0, 0)
		e0 := e
		for k := 0; k < chunks; k++ {
			en := e0
			if k+1 < chunks {
				en = g.get(c, g.get0, k+1)
			}
			s := g.get(mid, g.getH, k).Add(g.get(up, g.getH, k)).Add(e).Add(e.ConcatPermute(en, g.next))
			g.put(c, g.putH, g.maskH, k, g.point(s, u[8*k:8*k+8]))
			e = en
		}
	}
	// the left edges' midpoints; a chunk's left neighbours are the last
	// chunk's, shifted a lane
	for i := 0; i < n; i++ {
		draws()
		y := i * step
		mid, c, down := row(y+h), row(y), row(y+step)
		prev := g.get(mid, g.getH, chunks-1)
		for k := 0; k < chunks; k++ {
			cur := g.get(mid, g.getH, k)
			s := cur.Add(prev.ConcatPermute(cur, g.prev)).Add(g.get(c, g.get0, k)).Add(g.get(down, g.get0, k))
			g.put(mid, g.put0, g.mask0, k, g.point(s, u[8*k:8*k+8]))
			prev = cur
		}
	}
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
	*src = p
	return math.NaN(), math.NaN(), true
}

// plasmaStep2 is the last level (step 2, three quarters of the map's
// points) in whole-row stores: an odd row holds the squares' centres
// (odd columns) and the left edges' midpoints (even columns), which need
// only that row's centres and the even rows, so both are made in one pass
// and written interleaved; then each even row gets its top edges'
// midpoints (odd columns) between its old points. Each phase reads its
// own draws: the squares' from the level's start, the top edges' n^2
// draws on, the left edges' 2n^2 on (skip), as the scalar order has them.
// Every point of the map passes through its registers (the even rows'
// even columns as the squares' corners, the rest as they are made), so
// it returns the map's extremes too.
func plasmaStep2(m []float64, size int, g *grid, p pcg) (q pcg, lo, hi float64) {
	n := size / 2
	chunks, mask := n/8, size-1
	u := make([]uint64, 2*n)
	uS, uL := u[:n], u[n:]
	pS, pT, pL := p, skip(p, n*n), skip(p, 2*n*n)
	row := func(y int) []float64 { y &= mask; return m[y*size : (y+1)*size] }
	// a row's even (idx get0) or odd (getH) values from chunk k: 16 columns
	ev := func(r []float64, k int, idx archsimd.Uint64x8) archsimd.Float64x8 {
		r = r[16*k : 16*k+16]
		return load8(r[0:8]).ConcatPermute(load8(r[8:16]), idx)
	}
	zip := func(r []float64, k int, even, odd archsimd.Float64x8) {
		r = r[16*k : 16*k+16]
		even.ConcatPermute(odd, g.zipLo).Store((*[8]float64)(r[0:8]))
		even.ConcatPermute(odd, g.zipHi).Store((*[8]float64)(r[8:16]))
	}
	mn := ev(row(0), 0, g.get0)
	mx := mn
	for i := 0; i < n; i++ {
		fillDraws(uS, pS)
		fillDraws(uL, pL)
		pS, pL = skip(pS, n), skip(pL, n)
		r0, r1, out := row(2*i), row(2*i+2), row(2*i+1)
		a0, b0 := ev(r0, 0, g.get0), ev(r1, 0, g.get0)
		// the row's last centres first: the first left midpoint's
		// left neighbour (the torus)
		al, bl := ev(r0, chunks-1, g.get0), ev(r1, chunks-1, g.get0)
		prev := g.point(al.Add(bl).Add(al.ConcatPermute(a0, g.next)).Add(bl.ConcatPermute(b0, g.next)), uS[n-8:])
		a, b := a0, b0
		for k := 0; k < chunks; k++ {
			an, bn := a0, b0
			if k+1 < chunks {
				an, bn = ev(r0, k+1, g.get0), ev(r1, k+1, g.get0)
			}
			sq := g.point(a.Add(b).Add(a.ConcatPermute(an, g.next)).Add(b.ConcatPermute(bn, g.next)), uS[8*k:8*k+8])
			left := g.point(sq.Add(prev.ConcatPermute(sq, g.prev)).Add(a).Add(b), uL[8*k:8*k+8])
			zip(out, k, left, sq)
			mn, mx = mn.Min(a).Min(sq).Min(left), mx.Max(a).Max(sq).Max(left)
			prev, a, b = sq, an, bn
		}
	}
	for i := 0; i < n; i++ {
		fillDraws(uS, pT)
		pT = skip(pT, n)
		c, mid, up := row(2*i), row(2*i+1), row(2*i-1)
		e0 := ev(c, 0, g.get0)
		e := e0
		for k := 0; k < chunks; k++ {
			en := e0
			if k+1 < chunks {
				en = ev(c, k+1, g.get0)
			}
			top := g.point(ev(mid, k, g.getH).Add(ev(up, k, g.getH)).Add(e).Add(e.ConcatPermute(en, g.next)), uS[8*k:8*k+8])
			zip(c, k, e, top)
			mn, mx = mn.Min(top), mx.Max(top)
			e = en
		}
	}
	var l, h [8]float64
	mn.Store(&l)
	mx.Store(&h)
	archsimd.ClearAVXUpperBits() // before scalar (SSE) code: see lib/vec
	lo, hi = l[0], h[0]
	for i := 1; i < 8; i++ {
		lo, hi = min(lo, l[i]), max(hi, h[i])
	}
	return pL, lo, hi
}

// grid holds a level's constants in vector form, built once (see lib/vec
// on constants inside loops): the permutations that read and write every
// step-th value of a row from offset 0 and from offset h = step/2, the
// lane shifts, and the noise's terms.
type grid struct {
	step                int
	get0, getH          archsimd.Uint64x8 // 8 of 16 values (step 2), or 4 of each 16 (step 4)
	put0, putH, putStep archsimd.Uint64x8 // the first 8 values' lanes; the next 8's are putStep on
	mask0, maskH, low4  archsimd.Mask64x8
	next, prev          archsimd.Uint64x8 // lanes shifted one down, one up, from two vectors
	zipLo, zipHi        archsimd.Uint64x8 // two vectors' lanes interleaved
	low53               archsimd.Uint64x8
	inv53, w2, lo, wib  archsimd.Float64x8
	quarter             archsimd.Float64x8
}

func newGrid(step int, wibble, w2, lo float64) *grid {
	h := step / 2
	var get0, getH, put0, putH, next, prev, zipLo, zipHi [8]uint64
	var mask0, maskH uint8
	for l := range 8 {
		get0[l], getH[l] = uint64(step*l%16), uint64((step*l+h)%16)
		next[l], prev[l] = uint64(l+1), uint64(l+7)
		zipLo[l], zipHi[l] = uint64(l/2+l%2*8), uint64(4+l/2+l%2*8)
		if l%step == 0 {
			put0[l], mask0 = uint64(l/step), mask0|1<<l
		}
		if l%step == h {
			putH[l], maskH = uint64(l/step), maskH|1<<l
		}
	}
	return &grid{
		step: step,
		get0: archsimd.LoadUint64x8(&get0), getH: archsimd.LoadUint64x8(&getH),
		put0: archsimd.LoadUint64x8(&put0), putH: archsimd.LoadUint64x8(&putH),
		putStep: archsimd.BroadcastUint64x8(uint64(8 / step)),
		mask0:   archsimd.Mask64x8FromBits(mask0), maskH: archsimd.Mask64x8FromBits(maskH),
		low4: archsimd.Mask64x8FromBits(0x0f),
		next: archsimd.LoadUint64x8(&next), prev: archsimd.LoadUint64x8(&prev),
		zipLo: archsimd.LoadUint64x8(&zipLo), zipHi: archsimd.LoadUint64x8(&zipHi),
		low53:   archsimd.BroadcastUint64x8(1<<53 - 1),
		inv53:   archsimd.BroadcastFloat64x8(1.0 / (1 << 53)),
		w2:      archsimd.BroadcastFloat64x8(w2),
		lo:      archsimd.BroadcastFloat64x8(lo),
		wib:     archsimd.BroadcastFloat64x8(wibble),
		quarter: archsimd.BroadcastFloat64x8(0.25),
	}
}

// get is every fourth value of row r from chunk k's start (32 values),
// at the offset idx reads: lanes 0-3 from the first 16, 4-7 from the next.
func (g *grid) get(r []float64, idx archsimd.Uint64x8, k int) archsimd.Float64x8 {
	r = r[32*k : 32*k+32]
	lo := load8(r[0:8]).ConcatPermute(load8(r[8:16]), idx)
	return lo.Merge(load8(r[16:24]).ConcatPermute(load8(r[24:32]), idx), g.low4)
}

// put writes v's lanes to every step-th value of row r from chunk k's
// start, at the offset idx and mask write.
func (g *grid) put(r []float64, idx archsimd.Uint64x8, mask archsimd.Mask64x8, k int, v archsimd.Float64x8) {
	r = r[8*g.step*k : 8*g.step*(k+1)]
	for q := 0; q < len(r); q += 8 {
		v.Permute(idx).StoreMasked((*[8]float64)(r[q:q+8]), mask)
		idx = idx.Add(g.putStep)
	}
}

// point is a new point from its neighbours' sum s and its draws u, as
// plasmaLevelScalar: s/4 + wibble*(2 wibble unit(u) - wibble), unit(u)
// the draw's low 53 bits over 2^53 (exact: both are powers of two).
func (g *grid) point(s archsimd.Float64x8, u []uint64) archsimd.Float64x8 {
	d := archsimd.LoadUint64x8((*[8]uint64)(u)).And(g.low53).ConvertToFloat64().Mul(g.inv53)
	return s.Mul(g.quarter).Add(g.wib.Mul(g.w2.Mul(d).Add(g.lo)))
}

func load8(s []float64) archsimd.Float64x8 { return archsimd.LoadFloat64x8((*[8]float64)(s)) }
