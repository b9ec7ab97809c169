package attack

import (
	"fmt"
	"math"
	"sort"
)

// FABConfig configures FAB-T, the targeted Fast Adaptive Boundary attack
// in l-infinity (Croce and Hein 2020, "Minimally Distorted Adversarial
// Examples with a Fast Adaptive Boundary Attack"), with AutoAttack's
// standard settings: one run per target, no random restart.
type FABConfig struct {
	// Eps is the budget: an adversarial image counts as a break when its
	// l-infinity distance to the clean one is at most Eps (FAB itself
	// looks for the smallest perturbation, whatever the budget).
	Eps      float32
	Iters    int // per target (100 in AutoAttack)
	Classes  int
	Targets  int     // the 2nd to (Targets+1)th largest clean logits, one run each (9)
	AlphaMax float64 // the largest step back towards the clean image (0.1)
	Eta      float64 // the overshoot of each projection (1.05)
	Beta     float64 // the step back after a success (0.9)
}

// DefaultFAB are AutoAttack's FAB-T constants (fab_base.py's defaults).
func DefaultFAB(eps float32, iters, classes, targets int) FABConfig {
	return FABConfig{Eps: eps, Iters: iters, Classes: classes, Targets: targets, AlphaMax: 0.1, Eta: 1.05, Beta: 0.9}
}

// FAB attacks the images the model classifies correctly, target by
// target, each target run on the images the ones before left unbroken.
// grad must evaluate the margin z_t - z_y and its gradient (grad.Margin);
// logits gives the model's logits (a logits-only session). An image is
// broken when the smallest adversarial perturbation found is within Eps;
// Adv holds that image. FAB draws no random numbers.
func FAB(grad, logits Evaluator, px []float32, labels []int64, c FABConfig) (Result, error) {
	n := len(labels)
	sz := len(px) / max(n, 1)
	res := Result{Adv: append([]float32(nil), px...), Broken: make([]bool, n)}
	clean := make([]float32, n*c.Classes)
	if err := logits.Eval(clean, make([]float32, n), make([]float32, len(px)), px, labels, labels, n); err != nil {
		return res, err
	}
	var todo []int
	for i := 0; i < n; i++ {
		if correct(clean[i*c.Classes:(i+1)*c.Classes], labels[i]) {
			todo = append(todo, i)
		}
	}
	for rank := 2; rank <= c.Targets+1 && len(todo) > 0; rank++ {
		if rank > c.Classes {
			return res, fmt.Errorf("FAB-T: target rank %d of %d classes", rank, c.Classes)
		}
		targets := make([]int64, len(todo))
		for j, i := range todo {
			targets[j] = int64(kthLargest(clean[i*c.Classes:(i+1)*c.Classes], rank))
		}
		x0 := gather(px, todo, sz)
		adv, dist, err := fabRun(grad, logits, x0, gatherI(labels, todo), targets, c)
		if err != nil {
			return res, err
		}
		broken := make([]bool, len(todo))
		for j := range todo {
			broken[j] = dist[j] <= float64(c.Eps)
		}
		todo = res.keep(todo, broken, adv, sz)
	}
	return res, nil
}

// fabRun is one FAB-T run towards targets: at each iteration the decision
// boundary between label and target is linearised at the iterate x1,
// both x1 and the clean x0 are projected onto it within the image box,
// and the next iterate is their convex combination, overshooting by Eta,
// weighted towards x0 by alpha = min(|d1| / (|d1| + |d2|), AlphaMax).
// When the iterate is adversarial it is kept if closer than the best so
// far, and pulled back towards x0 by Beta. It returns each image's
// closest adversarial image and its l-infinity distance (+Inf: none).
func fabRun(grad, logits Evaluator, x0 []float32, labels, targets []int64, c FABConfig) ([]float32, []float64, error) {
	n := len(labels)
	sz := len(x0) / max(n, 1)
	x1 := append([]float32(nil), x0...)
	best := append([]float32(nil), x0...)
	dist := make([]float64, n)
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	z := make([]float32, n*c.Classes)
	df := make([]float32, n)
	dg := make([]float32, len(x0))
	w, d1, d2 := make([]float64, sz), make([]float64, sz), make([]float64, sz)
	var p projector
	for it := 0; it < c.Iters; it++ {
		if err := grad.Eval(z, df, dg, x1, labels, targets, n); err != nil {
			return nil, nil, err
		}
		for i := 0; i < n; i++ {
			xi, oi := x1[i*sz:(i+1)*sz], x0[i*sz:(i+1)*sz]
			// the boundary's linearisation at x1: w.z = b, w the margin's
			// gradient, b = w.x1 - margin(x1)
			b := -float64(df[i])
			for j := range w {
				w[j] = float64(dg[i*sz+j])
				b += w[j] * float64(xi[j])
			}
			a1 := math.Max(p.project(d1, xi, w, b), 1e-8)
			a2 := math.Max(p.project(d2, oi, w, b), 1e-8)
			alpha := math.Min(math.Max(a1/(a1+a2), 0), c.AlphaMax)
			for j := range xi {
				v := (float64(xi[j])+c.Eta*d1[j])*(1-alpha) + (float64(oi[j])+c.Eta*d2[j])*alpha
				xi[j] = float32(math.Min(math.Max(v, 0), 1))
			}
		}
		if err := logits.Eval(z, df, dg, x1, labels, targets, n); err != nil {
			return nil, nil, err
		}
		for i := 0; i < n; i++ {
			if correct(z[i*c.Classes:(i+1)*c.Classes], labels[i]) {
				continue
			}
			xi, oi := x1[i*sz:(i+1)*sz], x0[i*sz:(i+1)*sz]
			var t float64
			for j := range xi {
				t = math.Max(t, math.Abs(float64(xi[j])-float64(oi[j])))
			}
			if t < dist[i] {
				dist[i] = t
				copy(best[i*sz:(i+1)*sz], xi)
			}
			for j := range xi {
				xi[j] = float32(float64(oi[j]) + (float64(xi[j])-float64(oi[j]))*c.Beta)
			}
		}
	}
	return best, dist, nil
}

// projector holds the scratch space of project.
type projector struct {
	order []int
	room  []float64
}

// project writes into d the smallest l-infinity step from x onto the
// hyperplane w.z = b that stays in the box [0,1], and returns its norm.
// Moving coordinate j by up to lambda towards the side that raises (or
// lowers) w.z changes it by |w_j| min(lambda, room_j), room_j the
// distance to the box's face in that direction; the smallest lambda that
// covers the gap is found along the sorted rooms. A hyperplane the box
// cannot reach gets the step that goes as far as the box allows.
func (p *projector) project(d []float64, x []float32, w []float64, b float64) float64 {
	gap := b
	for j, v := range x {
		gap -= w[j] * float64(v)
	}
	up := gap > 0 // raise w.z
	need := math.Abs(gap)
	p.order, p.room = p.order[:0], p.room[:0]
	for j := range x {
		d[j] = 0
		r := 0.0
		if (w[j] > 0) == up {
			r = 1 - float64(x[j]) // raise coordinate j
		} else {
			r = float64(x[j])
		}
		p.room = append(p.room, r)
		if w[j] != 0 && r > 0 {
			p.order = append(p.order, j)
		}
	}
	if need == 0 || len(p.order) == 0 {
		return 0
	}
	sort.Slice(p.order, func(a, b int) bool { return p.room[p.order[a]] < p.room[p.order[b]] })
	var slope float64 // sum of |w| of the coordinates not yet at their face
	for _, j := range p.order {
		slope += math.Abs(w[j])
	}
	lambda, done := 0.0, 0.0 // done: the change of the saturated coordinates
	reached := false
	for _, j := range p.order {
		r := p.room[j]
		if done+slope*r >= need {
			lambda, reached = (need-done)/slope, true
			break
		}
		done += math.Abs(w[j]) * r
		slope -= math.Abs(w[j])
	}
	if !reached { // beyond the box: every coordinate to its face
		lambda = p.room[p.order[len(p.order)-1]]
	}
	var norm float64
	for _, j := range p.order {
		step := math.Min(lambda, p.room[j])
		if (w[j] > 0) != up {
			step = -step
		}
		d[j] = step
		norm = math.Max(norm, math.Abs(step))
	}
	return norm
}
