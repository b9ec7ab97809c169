package corrupt

import "math/rand/v2"

// rng is a seeded stream of draws: a *rand.Rand for every method, and its
// PCG source at hand for the loops that draw once per value (the noises,
// fog's fractal), where calling the source directly instead of through
// rand.Rand's interface is most of their time. Both read the one source,
// so the draws are the same values in the same order either way.
type rng struct {
	*rand.Rand
	pcg *rand.PCG
}

func newRNG(seed1, seed2 uint64) *rng {
	p := rand.NewPCG(seed1, seed2)
	return &rng{rand.New(p), p}
}

// Float64 is rand.Rand's Float64 (53 random bits over 2^53) on the source
// directly.
func (r *rng) Float64() float64 { return float64(r.pcg.Uint64()<<11>>11) / (1 << 53) }
