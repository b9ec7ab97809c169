package corrupt

import (
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/lk-robustness/lk/lib/vec"
)

// rng is a seeded stream of draws: a *rand.Rand for every method, over
// lk's own PCG source, whose state the loops that draw once per value (the
// noises, fog's fractal, elastic's fields) hold in registers: a local copy
// stepped by value (p, u = p.next()) and stored back after the loop,
// instead of rand.Rand's interface and memory on every draw. Both read the
// one stream, so the draws are the same values in the same order.
type rng struct {
	*rand.Rand
	src *pcg
}

func newRNG(seed1, seed2 uint64) *rng {
	p := &pcg{seed1, seed2}
	return &rng{rand.New(p), p}
}

// Float64 is rand.Rand's Float64 (53 random bits over 2^53) on the source
// directly.
func (r *rng) Float64() float64 { return r.src.Float64() }

// pcg is math/rand/v2's PCG, output for output (TestPCGIsMathRand): a
// 128-bit LCG with the multiplier and increment of O'Neill's pcg-cpp,
// seeded with the state (seed1, seed2), stepped before each output, and
// the DXSM output function (double xorshift multiply) as numpy's PCG64DXSM.
type pcg struct{ hi, lo uint64 }

const (
	pcgMulHi = 2549297995355413924
	pcgMulLo = 4865540595714422341
	pcgIncHi = 6364136223846793005
	pcgIncLo = 1442695040888963407
	dxsmMul  = 0xda942042e4dd58b5
)

// next is the stream after one step, and that step's output. A value
// method, so a loop's local copy of the stream can live in registers.
func (p pcg) next() (pcg, uint64) {
	hi, lo := bits.Mul64(p.lo, pcgMulLo)
	hi += p.hi*pcgMulLo + p.lo*pcgMulHi
	lo, c := bits.Add64(lo, pcgIncLo, 0)
	hi, _ = bits.Add64(hi, pcgIncHi, c)
	out := hi ^ hi>>32
	out *= dxsmMul
	out ^= out >> 48
	return pcg{hi, lo}, out * (lo | 1)
}

// unit is rand.Rand's Float64 of an output: 53 random bits over 2^53.
func unit(u uint64) float64 { return float64(u<<11>>11) / (1 << 53) }

// below is the integer form of the test unit(u) < p: unit(u) < p exactly
// when u<<11>>11 < below(p), as the 53-bit integer and p*2^53 are both
// exact in float64. It saves an int-to-float conversion per draw.
func below(p float64) uint64 {
	if !(p > 0) {
		return 0
	}
	return uint64(math.Ceil(min(p, 1) * (1 << 53)))
}

func (p *pcg) Uint64() uint64 {
	q, u := p.next()
	*p = q
	return u
}

// Float64 is rand.Rand's Float64 from this source.
func (p *pcg) Float64() float64 { return unit(p.Uint64()) }

// jump is the affine map of k steps of the stream, S -> S*mul + inc in
// 128-bit arithmetic: jumps compose, so the vector code can step lanes k
// draws apart and find the state after any draw without walking to it.
type jump struct{ mulHi, mulLo, incHi, incLo uint64 }

// step is one step of the stream.
var step = jump{pcgMulHi, pcgMulLo, pcgIncHi, pcgIncLo}

// apply is the state after the jump.
func (j jump) apply(p pcg) pcg {
	m := mul128(p, pcg{j.mulHi, j.mulLo})
	lo, c := bits.Add64(m.lo, j.incLo, 0)
	hi, _ := bits.Add64(m.hi, j.incHi, c)
	return pcg{hi, lo}
}

// mul128 is a*b modulo 2^128.
func mul128(a, b pcg) pcg {
	hi, lo := bits.Mul64(a.lo, b.lo)
	return pcg{hi + a.hi*b.lo + a.lo*b.hi, lo}
}

// then is j followed by k: S*jm*km + (ji*km + ki).
func (j jump) then(k jump) jump {
	m := mul128(pcg{j.mulHi, j.mulLo}, pcg{k.mulHi, k.mulLo})
	c := k.apply(pcg{j.incHi, j.incLo})
	return jump{m.hi, m.lo, c.hi, c.lo}
}

// normals sets dst to the stream's next len(dst) NormFloat64 draws, in
// order: the noises' and the random layers' draws. This is rand.Rand's
// NormFloat64, the ziggurat of Marsaglia and Tsang (2000) with the
// standard library's 128 strips (zigK, zigW, zigF), done here with the
// state in registers: the fast path (97% of draws), and the wedge test
// (one more uniform and an exp) where it fails; only the base strip's
// tail (0.1%) goes to rand.Rand itself, from the same state. Where the
// vector build's AVX-512 path runs (acceptRun), the draws are made a
// block at a time and the fast path taken sixteen at a time
// (normalsBlocks): the same values and stream.
func (r *rng) normals(dst []float64) {
	if acceptRun != nil {
		r.normalsBlocks(dst)
		return
	}
	p := *r.src
	for i := 0; i < len(dst); {
		q, u := p.next()
		x, k, ok := fast(u)
		if ok {
			p, dst[i] = q, x
			i++
			continue
		}
		if k == 0 { // the tail: rand.Rand draws it again from p, then on
			*r.src = p
			dst[i] = vec.NormFloat64(r.Rand)
			p = *r.src
			i++
			continue
		}
		p, u = q.next() // the wedge: accepted, or the loop draws afresh
		if wedge(k, x, u) {
			dst[i] = x
			i++
		}
	}
	*r.src = p
}

// fast is the ziggurat's fast path for the draw u: the value x from its
// low 32 bits and strip k, accepted (ok) where they lie inside the strip.
func fast(u uint64) (x float64, k uint64, ok bool) {
	j := int32(u)
	k = u >> 32 & 0x7f
	a := uint32(j)
	if j < 0 {
		a = uint32(-j)
	}
	return float64(j) * float64(zigW[k]), k, a < zigK[k]
}

// wedge is the ziggurat's test of x, from strip k > 0, with the uniform
// draw u.
func wedge(k uint64, x float64, u uint64) bool {
	return zigF[k]+float32(unit(u))*(zigF[k-1]-zigF[k]) < float32(vec.Exp(-.5*x*x))
}

// normalsBlocks is normals over draws made ahead (block), its fast path
// taken by acceptRun while every draw in a vector's worth is accepted.
func (r *rng) normalsBlocks(dst []float64) {
	b := newBlock(*r.src)
	u, pos := b.u, 0 // the block's draws and the next to read, in registers
	for i := 0; i < len(dst); {
		if len(u)-pos < 16 { // a vector's worth, and a slow path's two
			b.refill(pos, len(dst)-i)
			u, pos = b.u, 0
		}
		if n := acceptRun(dst[i:], u[pos:]); n > 0 {
			i, pos = i+n, pos+n
			continue
		}
		d := u[pos]
		pos++
		x, k, ok := fast(d)
		if ok {
			dst[i] = x
			i++
			continue
		}
		if k == 0 { // the tail: rand.Rand draws it again, then on
			b.pos = pos - 1
			*r.src = b.state()
			dst[i] = vec.NormFloat64(r.Rand)
			i++
			b.reset(*r.src)
			u, pos = b.u, 0
			continue
		}
		d = u[pos] // the wedge
		pos++
		if wedge(k, x, d) {
			dst[i] = x
			i++
		}
	}
	b.pos = pos
	*r.src = b.state()
}

// acceptRun, where the vector build sets it, writes the ziggurat's fast
// path for the values of dst from the draws u while every draw is
// accepted, in whole vectors, and returns how many values it wrote: at
// most the first rejected draw's index (its value and those after it are
// the caller's to write).
var acceptRun func(dst []float64, u []uint64) int

// blockSize is the most draws a block holds.
const blockSize = 256

// block is the next draws of a stream, made up to blockSize at a time by
// fillDraws (sixteen at a time in vector lanes where the vector build runs),
// for loops that take one or more draws per value. The stream's own state
// moves on only as draws are read (state).
type block struct {
	buf       [blockSize]uint64
	u         []uint64 // the draws made: buf[:n]
	pos       int      // the next to read; len(u): none left
	base, end pcg      // the state before u[0], after u's last
}

func newBlock(p pcg) *block {
	b := new(block)
	b.reset(p)
	return b
}

// reset empties the block, to make draws from the state p on.
func (b *block) reset(p pcg) {
	b.base, b.end, b.u, b.pos = p, p, b.buf[:0], 0
}

// refill moves the draws from pos on (not yet read) to the block's start
// and makes more after them: enough for want values' fast paths, in whole
// vectors, up to blockSize in all.
func (b *block) refill(pos, want int) {
	left := copy(b.buf[:], b.u[pos:])
	b.base = jumps[pos].apply(b.base)
	n := left + min(max(want+16, 64)&^15, blockSize-left)
	b.u, b.pos = b.buf[:n], 0
	fillDraws(b.u[left:], b.end)
	b.end = jumps[n-left].apply(b.end)
}

// state is the stream after the draws read.
func (b *block) state() pcg { return jumps[b.pos].apply(b.base) }

// fillDraws sets u to the draws that follow the state p; the vector build
// replaces it where AVX-512 runs (the same draws).
var fillDraws = fillDrawsScalar

func fillDrawsScalar(u []uint64, p pcg) {
	for i := range u {
		p, u[i] = p.next()
	}
}

// jumps[n] is n steps of the stream, n up to blockSize.
var jumps = func() (t [blockSize + 1]jump) {
	t[0] = jump{0, 1, 0, 0}
	for n := 1; n <= blockSize; n++ {
		t[n] = t[n-1].then(step)
	}
	return t
}()

// skip is the state n draws after p: jumps[n], or for longer skips the
// jumps of n's binary digits (powers of one map, so in any order).
func skip(p pcg, n int) pcg {
	if n <= blockSize {
		return jumps[n].apply(p)
	}
	for k := 0; n > 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = jumpPow[k].apply(p)
		}
	}
	return p
}

// jumpPow[k] is 2^k steps of the stream.
var jumpPow = func() (t [63]jump) {
	t[0] = step
	for k := 1; k < len(t); k++ {
		t[k] = t[k-1].then(t[k-1])
	}
	return t
}()

// zigK, zigW and zigF are the ziggurat's strip bounds and widths for
// 31-bit draws and its density at the strips' edges, as Marsaglia and
// Tsang's zigset computes them for 128 strips (math/rand/v2's tables, bit
// for bit: TestZigguratTables).
var zigK, zigW, zigF = func() (k [128]uint32, w, f [128]float32) {
	const m1 = 1 << 31
	dn, tn, vn := 3.442619855899, 3.442619855899, 9.91256303526217e-3
	q := vn / vec.Exp(-.5*dn*dn)
	k[0], w[0], w[127] = uint32(dn/q*m1), float32(q/m1), float32(dn/m1)
	f[0], f[127] = 1, float32(vec.Exp(-.5*dn*dn))
	for i := 126; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(vn/dn+vec.Exp(-.5*dn*dn)))
		k[i+1] = uint32(dn / tn * m1)
		tn = dn
		f[i] = float32(vec.Exp(-.5 * dn * dn))
		w[i] = float32(dn / m1)
	}
	return k, w, f
}()
