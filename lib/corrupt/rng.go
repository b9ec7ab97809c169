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

// normals sets dst to the stream's next len(dst) NormFloat64 draws, in
// order: the noises' and the random layers' draws. This is rand.Rand's
// NormFloat64, the ziggurat of Marsaglia and Tsang (2000) with the
// standard library's 128 strips (zigK, zigW, zigF), done here with the
// state in registers: the fast path (97% of draws), and the wedge test
// (one more uniform and an exp) where it fails; only the base strip's
// tail (0.1%) goes to rand.Rand itself, from the same state.
func (r *rng) normals(dst []float64) {
	p := *r.src
	for i := 0; i < len(dst); {
		q, u := p.next()
		j := int32(u)
		k := u >> 32 & 0x7f
		a := uint32(j)
		if j < 0 {
			a = uint32(-j)
		}
		x := float64(j) * float64(zigW[k])
		if a < zigK[k] {
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
		if zigF[k]+float32(unit(u))*(zigF[k-1]-zigF[k]) < float32(vec.Exp(-.5*x*x)) {
			dst[i] = x
			i++
		}
	}
	*r.src = p
}

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
