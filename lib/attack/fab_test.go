package attack

import (
	"math"
	"math/rand/v2"
	"testing"
)

// affine is the classifier z = W x + c, evaluated exactly: its margin
// z_t - z_y has the gradient W_t - W_y everywhere.
type affine struct {
	W     [][]float64 // classes x pixels
	C     []float64
	evals int
}

func (a *affine) Eval(logits, loss, grad, px []float32, labels, targets []int64, n int) error {
	k, d := len(a.W), len(a.W[0])
	a.evals++
	for i := 0; i < n; i++ {
		for c := 0; c < k; c++ {
			v := a.C[c]
			for j := 0; j < d; j++ {
				v += a.W[c][j] * float64(px[i*d+j])
			}
			logits[i*k+c] = float32(v)
		}
		y, t := labels[i], targets[i]
		loss[i] = logits[i*k+int(t)] - logits[i*k+int(y)]
		for j := 0; j < d; j++ {
			grad[i*d+j] = float32(a.W[t][j] - a.W[y][j])
		}
	}
	return nil
}

// The minimal l-infinity distance from x to the boundary z_t = z_y of an
// affine classifier, where the box does not bind: |z_t - z_y| / ||W_t -
// W_y||_1 (Hölder's dual norm).
func closedForm(a *affine, x []float32, y, t int) float64 {
	var m, l1 float64
	m = a.C[t] - a.C[y]
	for j := range x {
		dw := a.W[t][j] - a.W[y][j]
		m += dw * float64(x[j])
		l1 += math.Abs(dw)
	}
	return math.Abs(m) / l1
}

// On affine classifiers FAB-T finds the boundary: with two classes the
// perturbation it returns is within 1% above the closed-form minimum
// (Eta's overshoot and Beta's step back leave it just outside), and
// the image it returns is misclassified at that distance; a budget below
// the minimum breaks nothing.
func TestFABFindsTheAffineBoundary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d, n = 48, 20
	for _, k := range []int{2, 10} {
		a := &affine{C: make([]float64, k)}
		for c := 0; c < k; c++ {
			row := make([]float64, d)
			for j := range row {
				row[j] = r.NormFloat64()
			}
			a.W = append(a.W, row)
			a.C[c] = 0.3 * r.NormFloat64()
		}
		px := make([]float32, n*d)
		for i := range px {
			px[i] = float32(0.3 + 0.4*r.Float64()) // the box stays out of reach
		}
		labels := make([]int64, n)
		z := make([]float32, n*k)
		a.Eval(z, make([]float32, n), make([]float32, n*d), px, make([]int64, n), make([]int64, n), n)
		for i := range labels {
			labels[i] = int64(kthLargest(z[i*k:(i+1)*k], 1))
		}
		c := DefaultFAB(1, 100, k, min(9, k-1))
		res, err := FAB(a, a, px, labels, c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			x := px[i*d : (i+1)*d]
			least := math.Inf(1) // over every other class: a break may cross to any
			for cl := 0; cl < k; cl++ {
				if cl != int(labels[i]) {
					least = math.Min(least, closedForm(a, x, int(labels[i]), cl))
				}
			}
			if !res.Broken[i] {
				t.Fatalf("k %d image %d: not broken within eps 1 (closed-form distance %v)", k, i, least)
			}
			var got float64
			for j := range x {
				got = math.Max(got, math.Abs(float64(res.Adv[i*d+j]-x[j])))
			}
			adv := make([]float32, k)
			a.Eval(adv, make([]float32, 1), make([]float32, d), res.Adv[i*d:(i+1)*d], labels[i:i+1], labels[i:i+1], 1)
			if correct(adv, labels[i]) {
				t.Errorf("k %d image %d: the returned image is still classified %d", k, i, labels[i])
			}
			second := closedForm(a, x, int(labels[i]), kthLargest(z[i*k:(i+1)*k], 2))
			if got < least*(1-1e-5) || k == 2 && got > least*1.01 || k > 2 && got > second*1.01 {
				t.Errorf("k %d image %d: FAB's distance %.6f; closed form %.6f (to the 2nd class %.6f)", k, i, got, least, second)
			}
		}
		// a budget just below every image's minimum: nothing is broken
		lo := math.Inf(1)
		for i := 0; i < n; i++ {
			for cl := 0; cl < k; cl++ {
				if cl != int(labels[i]) {
					lo = math.Min(lo, closedForm(a, px[i*d:(i+1)*d], int(labels[i]), cl))
				}
			}
		}
		c.Eps = float32(lo * 0.99)
		res, err = FAB(a, a, px, labels, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range res.Broken {
			if b {
				t.Errorf("k %d image %d broken at eps %v, below the closed-form minimum %v", k, i, c.Eps, lo)
			}
		}
	}
}

// The projection is the box-constrained minimum: on random hyperplanes
// and points it lands on the plane (or as near as the box allows), never
// leaves the box, and no smaller l-infinity step reaches the plane
// (checked by the closed form of the reachable change at a smaller
// norm).
func TestProjectionIsMinimal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var p projector
	for trial := 0; trial < 500; trial++ {
		dim := 1 + r.IntN(30)
		x := make([]float32, dim)
		w := make([]float64, dim)
		for j := range x {
			x[j] = float32(r.Float64())
			if r.IntN(5) > 0 {
				w[j] = r.NormFloat64()
			}
		}
		var wx float64
		for j := range x {
			wx += w[j] * float64(x[j])
		}
		b := wx + r.NormFloat64()*float64(dim)/4
		d := make([]float64, dim)
		norm := p.project(d, x, w, b)
		var after, maxGain float64
		for j := range x {
			v := float64(x[j]) + d[j]
			if v < -1e-12 || v > 1+1e-12 {
				t.Fatalf("trial %d: coordinate %d leaves the box: %v", trial, j, v)
			}
			after += w[j] * v
			if (w[j] > 0) == (b > wx) {
				maxGain += math.Abs(w[j]) * (1 - float64(x[j]))
			} else {
				maxGain += math.Abs(w[j]) * float64(x[j])
			}
		}
		reachable := maxGain >= math.Abs(b-wx)
		if reachable && math.Abs(after-b) > 1e-9*math.Max(1, math.Abs(b)) {
			t.Fatalf("trial %d: w.(x+d) = %v, want %v", trial, after, b)
		}
		if !reachable {
			continue
		}
		// at a norm 0.1% smaller the largest reachable change falls short
		smaller := norm * 0.999
		var gain float64
		for j := range x {
			room := float64(x[j])
			if (w[j] > 0) == (b > wx) {
				room = 1 - float64(x[j])
			}
			gain += math.Abs(w[j]) * math.Min(smaller, room)
		}
		if gain >= math.Abs(b-wx)*(1-1e-12) && norm > 0 {
			t.Fatalf("trial %d: norm %v is not the smallest: %v reaches the plane", trial, norm, smaller)
		}
	}
}
