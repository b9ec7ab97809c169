package attack

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lk-robustness/lk/lib/metrics"
)

// Evaluator runs a model on n images: their logits (n x classes), the
// objective per image and its gradient with respect to the pixels (an
// evaluator of logits alone leaves loss and grad as they are). targets
// are read by targeted objectives only. grad.Session is one.
type Evaluator interface {
	Eval(logits, loss, grad, px []float32, labels, targets []int64, n int) error
}

// correct reports whether the model still gives the true class: it has the
// largest logit, ties going to the first, as lk-metrics scores top-1.
func correct(logits []float32, label int64) bool { return metrics.Rank(logits, int(label)) == 0 }

// APGDConfig configures APGD (Croce and Hein 2020) in l-infinity.
type APGDConfig struct {
	Eps     float32
	Iters   int // per run (100 in AutoAttack)
	Classes int
	Seed    uint64
	// Targets is the number of target classes for the targeted DLR loss
	// (APGD-T): the 2nd to (Targets+1)th largest clean logits, one run
	// each, in that order; 0 is the untargeted attack (APGD-CE).
	Targets int
}

// Checkpoints are the iterations after which APGD checks its step size:
// w_j = ceil(p_j N) with p_0 = 0, p_1 = 0.22 and p_{j+1} = p_j +
// max(p_j - p_{j-1} - 0.03, 0.06), computed as the reference does, in
// whole iterations (first interval int(0.22 N), each next one shorter by
// int(0.03 N) down to int(0.06 N), none below 1).
func Checkpoints(iters int) []int {
	k, decr, least := max(int(0.22*float64(iters)), 1), max(int(0.03*float64(iters)), 1), max(int(0.06*float64(iters)), 1)
	var w []int
	for at := k; at <= iters; at += k {
		w = append(w, at)
		k = max(k-decr, least)
	}
	return w
}

// Result is what an attack did to each image: the image it produced (an
// adversarial one where Broken, else the input) and whether the model
// misclassifies it.
type Result struct {
	Adv    []float32
	Broken []bool
}

// APGD attacks n images (ids name their random streams) that the model
// classifies correctly; an image it misclassifies already is returned as
// it is, not broken. e must evaluate cross-entropy (c.Targets 0) or the
// targeted DLR loss. An image's attack stops at its first misclassified
// iterate, which is returned; the reference goes on and returns its last
// misclassified iterate, with the same robust accuracy.
func APGD(e Evaluator, px []float32, labels []int64, ids []string, c APGDConfig) (Result, error) {
	n := len(ids)
	sz := len(px) / max(n, 1)
	res := Result{Adv: append([]float32(nil), px...), Broken: make([]bool, n)}
	logits := make([]float32, n*c.Classes)
	if err := e.Eval(logits, make([]float32, n), make([]float32, len(px)), px, labels, labels, n); err != nil {
		return res, err
	}
	todo := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if correct(logits[i*c.Classes:(i+1)*c.Classes], labels[i]) {
			todo = append(todo, i)
		}
	}
	runs := []int{0}
	if c.Targets > 0 {
		runs = runs[:0]
		for rank := 2; rank <= c.Targets+1; rank++ {
			runs = append(runs, rank)
		}
	}
	for _, rank := range runs {
		if len(todo) == 0 {
			break
		}
		targets := make([]int64, len(todo))
		if rank > 0 {
			if rank > c.Classes {
				return res, fmt.Errorf("APGD-T: target rank %d of %d classes", rank, c.Classes)
			}
			for j, i := range todo {
				targets[j] = int64(kthLargest(logits[i*c.Classes:(i+1)*c.Classes], rank))
			}
		}
		name := "apgd-ce"
		if rank > 0 {
			name = fmt.Sprintf("apgd-t/%d", rank)
		}
		rs := make([]*rand.Rand, len(todo))
		for j, i := range todo {
			rs[j] = rng(c.Seed, ids[i], name, float64(c.Eps))
		}
		x0 := gather(px, todo, sz)
		lab := gatherI(labels, todo)
		adv, broken, err := apgdRun(e, x0, lab, targets, rs, c)
		if err != nil {
			return res, err
		}
		todo = res.keep(todo, broken, adv, sz)
	}
	return res, nil
}

// keep records the images of todo that a run broke (broken, its images
// adv, in todo's order) and returns the others, for the next run.
func (res *Result) keep(todo []int, broken []bool, adv []float32, sz int) (left []int) {
	for j, i := range todo {
		if broken[j] {
			res.Broken[i] = true
			copy(res.Adv[i*sz:(i+1)*sz], adv[j*sz:(j+1)*sz])
		} else {
			left = append(left, i)
		}
	}
	return left
}

// kthLargest is the class of the k-th largest logit (k from 1), ties
// going to the first index, as a stable descending sort orders them.
func kthLargest(z []float32, k int) int {
	for c := range z {
		if metrics.Rank(z, c) == k-1 {
			return c
		}
	}
	return -1
}

func gather(px []float32, idx []int, sz int) []float32 {
	out := make([]float32, 0, len(idx)*sz)
	for _, i := range idx {
		out = append(out, px[i*sz:(i+1)*sz]...)
	}
	return out
}

func gatherI(v []int64, idx []int) []int64 {
	out := make([]int64, len(idx))
	for j, i := range idx {
		out[j] = v[i]
	}
	return out
}

// apgdImage is one image's state in an APGD run.
type apgdImage struct {
	x0, x, old, best, g, gBest []float32
	step                       float32
	loss, lossBest, lastBest   float32
	reduced                    bool // the step size was halved at the last checkpoint
	ups                        int  // steps since the last checkpoint that raised the loss
	done                       bool
}

// apgdRun is one APGD run of c.Iters iterations on n correctly classified
// images: a random start, then momentum steps with the step size halved
// at the checkpoints where fewer than 75% of the steps since the last
// one raised the loss (the reference's "at most 75%"), or where it was
// not halved at the last one and the best loss did not improve; a halving
// restarts from the best point. The first step's predecessor is the start
// (the reference compares it with 0, an index running off the end of its
// loss history).
func apgdRun(e Evaluator, x0 []float32, labels, targets []int64, rs []*rand.Rand, c APGDConfig) ([]float32, []bool, error) {
	n := len(labels)
	sz := len(x0) / max(n, 1)
	eps := c.Eps
	im := make([]apgdImage, n)
	start := make([]float32, len(x0))
	for k := range im {
		s := start[k*sz : (k+1)*sz]
		var m float32
		for i := range s {
			s[i] = 2*rs[k].Float32() - 1
			m = max(m, abs32(s[i]))
		}
		xk := x0[k*sz : (k+1)*sz]
		for i := range s {
			s[i] = clamp01(xk[i] + eps*s[i]/(m+1e-12))
		}
		im[k] = apgdImage{x0: xk, x: s, step: 2 * eps, reduced: true}
	}
	broken := make([]bool, n)
	out := make([]float32, len(x0))
	// eval evaluates the images not done yet; fresh receives each one's
	// loss and gradient
	logits := make([]float32, n*c.Classes)
	loss := make([]float32, n)
	grad := make([]float32, len(x0))
	buf := make([]float32, len(x0))
	lab := make([]int64, n)
	tgt := make([]int64, n)
	eval := func(fresh func(k int, z []float32, l float32, g []float32)) error {
		var live []int
		for k := range im {
			if !im[k].done {
				copy(buf[len(live)*sz:], im[k].x)
				lab[len(live)], tgt[len(live)] = labels[k], targets[k]
				live = append(live, k)
			}
		}
		m := len(live)
		if m == 0 {
			return nil
		}
		if err := e.Eval(logits, loss, grad, buf[:m*sz], lab[:m], tgt[:m], m); err != nil {
			return err
		}
		for j, k := range live {
			z := logits[j*c.Classes : (j+1)*c.Classes]
			if !correct(z, labels[k]) {
				im[k].done, broken[k] = true, true
				copy(out[k*sz:], im[k].x)
				continue
			}
			fresh(k, z, loss[j], grad[j*sz:(j+1)*sz])
		}
		return nil
	}
	err := eval(func(k int, _ []float32, l float32, g []float32) {
		s := &im[k]
		s.g = append([]float32(nil), g...)
		s.gBest = append([]float32(nil), g...)
		s.best = append([]float32(nil), s.x...)
		s.old = append([]float32(nil), s.x...)
		s.loss, s.lossBest, s.lastBest = l, l, l
	})
	if err != nil {
		return nil, nil, err
	}
	checks, prev := Checkpoints(c.Iters), 0
	next := make([]float32, sz)
	for it := 0; it < c.Iters; it++ {
		a := float32(0.75)
		if it == 0 {
			a = 1
		}
		for k := range im {
			s := &im[k]
			if s.done {
				continue
			}
			for i, x := range s.x {
				lo, hi := s.x0[i]-eps, s.x0[i]+eps
				z := clamp01(min(max(x+s.step*sign(s.g[i]), lo), hi))
				next[i] = clamp01(min(max(x+(z-x)*a+(x-s.old[i])*(1-a), lo), hi))
			}
			copy(s.old, s.x)
			copy(s.x, next)
		}
		err := eval(func(k int, _ []float32, l float32, g []float32) {
			s := &im[k]
			copy(s.g, g)
			if l > s.loss {
				s.ups++
			}
			s.loss = l
			if l > s.lossBest {
				s.lossBest = l
				copy(s.best, s.x)
				copy(s.gBest, g)
			}
		})
		if err != nil {
			return nil, nil, err
		}
		if len(checks) == 0 || it+1 != checks[0] {
			continue
		}
		interval := checks[0] - prev
		prev, checks = checks[0], checks[1:]
		for k := range im {
			s := &im[k]
			if s.done {
				continue
			}
			halve := float64(s.ups) <= 0.75*float64(interval) || (!s.reduced && s.lastBest >= s.lossBest)
			s.reduced, s.lastBest, s.ups = halve, s.lossBest, 0
			if halve {
				s.step /= 2
				copy(s.x, s.best)
				copy(s.g, s.gBest)
			}
		}
	}
	return out, broken, nil
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// SquareConfig configures the Square attack (Andriushchenko et al. 2020)
// in l-infinity.
type SquareConfig struct {
	Eps     float32
	Queries int     // iterations after the start (5000 in AutoAttack)
	PInit   float32 // the first squares' share of the image (0.8)
	Classes int
	H, W    int
	Seed    uint64
}

// squareShare is the fraction of the image the square of iteration it
// covers: PInit halved at iterations 10, 50, 200, 500, 1000, 2000, 4000,
// 6000 and 8000, AutoAttack's schedule (not rescaled to the query budget).
func squareShare(p float32, it int) float32 {
	for _, at := range []int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if it <= at {
			break
		}
		p /= 2
	}
	return p
}

// Square attacks n images by random search, querying only their logits
// (e may fill logits alone): a start of vertical stripes of +-eps per
// channel, then per iteration a square of side sqrt(p H W) at a random
// place set to +-2 eps per channel (projected back onto the eps-ball),
// kept when it lowers the margin z_y - max_{i!=y} z_i. An image stops at
// its first misclassified iterate; images the model misclassifies already
// are returned as they are, not broken. Each image draws its own square
// positions (the reference draws one per batch).
func Square(e Evaluator, px []float32, labels []int64, ids []string, c SquareConfig) (Result, error) {
	n := len(ids)
	sz := len(px) / max(n, 1)
	ch := sz / (c.H * c.W)
	res := Result{Adv: append([]float32(nil), px...), Broken: make([]bool, n)}
	logits := make([]float32, n*c.Classes)
	if err := e.Eval(logits, nil, nil, px, labels, nil, n); err != nil {
		return res, err
	}
	type state struct {
		i      int // index in px
		r      *rand.Rand
		best   []float32
		margin float32
	}
	var live []*state
	for i := 0; i < n; i++ {
		if correct(logits[i*c.Classes:(i+1)*c.Classes], labels[i]) {
			live = append(live, &state{i: i, r: rng(c.Seed, ids[i], "square", float64(c.Eps))})
		}
	}
	buf := make([]float32, n*sz)
	lab := make([]int64, n)
	// query evaluates cand (one image per live state) and keeps the
	// candidates that lower the margin or break the image
	query := func(cand [][]float32, first bool) error {
		for j, s := range live {
			copy(buf[j*sz:], cand[j])
			lab[j] = labels[s.i]
		}
		m := len(live)
		if err := e.Eval(logits, nil, nil, buf[:m*sz], lab[:m], nil, m); err != nil {
			return err
		}
		var left []*state
		for j, s := range live {
			z := logits[j*c.Classes : (j+1)*c.Classes]
			mg := margin(z, labels[s.i])
			if !correct(z, labels[s.i]) {
				res.Broken[s.i] = true
				copy(res.Adv[s.i*sz:], cand[j])
				continue
			}
			if first || mg < s.margin {
				s.margin = mg
				s.best = append(s.best[:0], cand[j]...)
			}
			left = append(left, s)
		}
		live = left
		return nil
	}
	cand := make([][]float32, n)
	for j, s := range live {
		x := px[s.i*sz : (s.i+1)*sz]
		cand[j] = make([]float32, sz)
		for k := 0; k < ch; k++ {
			for w := 0; w < c.W; w++ {
				v := c.Eps * float32(2*s.r.IntN(2)-1)
				for h := 0; h < c.H; h++ {
					at := (k*c.H+h)*c.W + w
					cand[j][at] = clamp01(x[at] + v)
				}
			}
		}
	}
	if err := query(cand[:len(live)], true); err != nil {
		return res, err
	}
	for it := 0; it < c.Queries && len(live) > 0; it++ {
		p := squareShare(c.PInit, it)
		side := max(int(math.Round(math.Sqrt(float64(p)*float64(c.H*c.W)))), 1)
		for j, s := range live {
			x := px[s.i*sz : (s.i+1)*sz]
			nx := append(cand[j][:0], s.best...)
			top, left := s.r.IntN(max(c.H-side, 1)), s.r.IntN(max(c.W-side, 1))
			for k := 0; k < ch; k++ {
				v := 2 * c.Eps * float32(2*s.r.IntN(2)-1)
				for h := top; h < min(top+side, c.H); h++ {
					for w := left; w < min(left+side, c.W); w++ {
						at := (k*c.H+h)*c.W + w
						nx[at] = clamp01(min(max(nx[at]+v, x[at]-c.Eps), x[at]+c.Eps))
					}
				}
			}
			cand[j] = nx
		}
		if err := query(cand[:len(live)], false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// margin is z_y - max_{i!=y} z_i.
func margin(z []float32, y int64) float32 {
	other := float32(math.Inf(-1))
	for i, v := range z {
		if int64(i) != y {
			other = max(other, v)
		}
	}
	return z[y] - other
}
