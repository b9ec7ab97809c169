// Package attack perturbs images against a model's gradients (docs/protocols.md
// §8, §9), in [0,1] pixel space: the model's normalisation is part of the
// gradient graph (lib/grad), so eps and step sizes are pixel units, as
// torchattacks with set_normalization_used defines them.
//
//   - FGSM: x + eps sign(grad CE), clamped to [0,1].
//   - PGD (l-infinity): a uniform random start in [-eps, eps] (optional),
//     then steps of alpha sign(grad CE), each projected onto the eps-ball
//     around x and clamped to [0,1].
//   - TAIG-R: integrated gradients of the true class's logit along the
//     straight path from a zero baseline, each of the points+1 points
//     jittered by uniform noise in [-eps, eps]; each iteration steps alpha
//     against the sign of that map (lowering the true logit), projects and
//     clamps; the result is rounded to 8-bit values as the reference saves
//     it. (The reference words the update as x + alpha sign(-IG_loss) with
//     loss = -logit, which read literally would raise the true logit; lk
//     takes the direction that lowers it, the attack's purpose; see
//     docs/protocols.md §9.)
//
// Random numbers come from a PCG stream seeded by the seed, the image id
// and the attack's parameters, so an image's result does not depend on
// the batch it runs in or on the other images of the stream.
package attack

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Grad computes the gradient of a per-image objective with respect to n
// images of pixels, given their labels.
type Grad interface {
	Grad(dst, px []float32, labels []int64, n int) error
}

func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// rng is an image's random stream for one attack configuration.
func rng(seed uint64, id, what string, eps float64) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%v", id, what, math.Float64bits(eps))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// FGSM returns the attacked images (n images of size sz in px).
func FGSM(g Grad, px []float32, labels []int64, n int, eps float32) ([]float32, error) {
	grad := make([]float32, len(px))
	if err := g.Grad(grad, px, labels, n); err != nil {
		return nil, err
	}
	out := make([]float32, len(px))
	for i, x := range px {
		out[i] = clamp01(x + eps*sign(grad[i]))
	}
	return out, nil
}

// PGDConfig configures PGD.
type PGDConfig struct {
	Eps, Alpha  float32
	Steps       []int // snapshots: the iterate after each of these step counts
	RandomStart bool
	Seed        uint64
}

// PGD returns, for each entry of c.Steps, the attacked images after that
// many steps. One run of max(Steps) steps serves them all: the iterates of
// a shorter run are the prefix of a longer one.
func PGD(g Grad, px []float32, labels []int64, ids []string, c PGDConfig) ([][]float32, error) {
	n := len(ids)
	sz := len(px) / n
	x := append([]float32(nil), px...)
	if c.RandomStart && c.Eps > 0 {
		for k, id := range ids {
			r := rng(c.Seed, id, "pgd-start", float64(c.Eps))
			for i := k * sz; i < (k+1)*sz; i++ {
				x[i] = clamp01(x[i] + c.Eps*(2*r.Float32()-1))
			}
		}
	}
	last := 0
	for _, s := range c.Steps {
		last = max(last, s)
	}
	snaps := make([][]float32, len(c.Steps))
	grad := make([]float32, len(px))
	for step := 0; ; step++ {
		for j, s := range c.Steps {
			if s == step {
				snaps[j] = append([]float32(nil), x...)
			}
		}
		if step == last {
			break
		}
		if err := g.Grad(grad, x, labels, n); err != nil {
			return nil, err
		}
		for i := range x {
			v := x[i] + c.Alpha*sign(grad[i])
			v = min(max(v, px[i]-c.Eps), px[i]+c.Eps)
			x[i] = clamp01(v)
		}
	}
	return snaps, nil
}

// TAIGConfig configures TAIG-R.
type TAIGConfig struct {
	Eps, Alpha float32
	Iters      int
	Points     int // integration points s: the path has s+1 points
	Seed       uint64
}

// TAIG returns the attacked images, rounded to 8-bit values. g must give
// the gradient of the true class's logit.
func TAIG(g Grad, px []float32, labels []int64, ids []string, c TAIGConfig) ([]float32, error) {
	n := len(ids)
	sz := len(px) / n
	x := append([]float32(nil), px...)
	rs := make([]*rand.Rand, n)
	for k, id := range ids {
		rs[k] = rng(c.Seed, id, "taig-r", float64(c.Eps))
	}
	p := make([]float32, len(px))
	first := make([]float32, len(px))
	grad := make([]float32, len(px))
	sum := make([]float32, len(px))
	for it := 0; it < c.Iters; it++ {
		clear(sum)
		for i := 0; i <= c.Points; i++ {
			t := float32(i) / float32(c.Points)
			for k := 0; k < n; k++ {
				r := rs[k]
				for j := k * sz; j < (k+1)*sz; j++ {
					p[j] = t*x[j] + c.Eps*(2*r.Float32()-1)
				}
			}
			if i == 0 {
				copy(first, p)
			}
			if err := g.Grad(grad, p, labels, n); err != nil {
				return nil, err
			}
			for j := range sum {
				sum[j] += grad[j]
			}
		}
		// IG = (last point - first point) * mean gradient; p holds the last point
		for j := range x {
			ig := (p[j] - first[j]) * sum[j] / float32(c.Points+1)
			v := x[j] - c.Alpha*sign(ig)
			v = min(max(v, px[j]-c.Eps), px[j]+c.Eps)
			x[j] = clamp01(v)
		}
	}
	for j := range x {
		x[j] = float32(math.Round(float64(x[j])*255)) / 255
	}
	return x, nil
}
