package attack

import (
	"math"
	"slices"
	"testing"
)

// The checkpoints are the paper's w_j = ceil(p_j N), p_0 = 0, p_1 = 0.22,
// p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), up to N.
func TestCheckpointsFollowTheFormula(t *testing.T) {
	for _, n := range []int{100, 200, 1000} {
		var want []int
		prev, p := 0.0, 0.22
		for p <= 1+1e-9 {
			want = append(want, int(math.Ceil(p*float64(n)-1e-9)))
			prev, p = p, p+max(p-prev-0.03, 0.06)
		}
		if got := Checkpoints(n); !slices.Equal(got, want) {
			t.Errorf("%d iterations: checkpoints %v, formula %v", n, got, want)
		}
	}
	if got, want := Checkpoints(100), []int{22, 41, 57, 70, 80, 87, 93, 99}; !slices.Equal(got, want) {
		t.Errorf("100 iterations: %v, want %v", got, want)
	}
}

// Square's squares cover p_init of the image, halved after iterations 10,
// 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 (AutoAttack's schedule).
func TestSquareShare(t *testing.T) {
	for _, c := range []struct {
		it   int
		want float32
	}{{0, 0.8}, {10, 0.8}, {11, 0.4}, {50, 0.4}, {51, 0.2}, {200, 0.2}, {201, 0.1}, {1001, 0.8 / 32}, {3000, 0.8 / 64}, {4999, 0.8 / 128}, {9000, 0.8 / 512}} {
		if got := squareShare(0.8, c.it); math.Abs(float64(got-c.want)) > 1e-7 {
			t.Errorf("iteration %d: p %g, want %g", c.it, got, c.want)
		}
	}
}

// kthLargest orders ties by index, as the clean check's top-1 does.
func TestKthLargest(t *testing.T) {
	z := []float32{0.1, 0.7, 0.3, 0.7, -1}
	for k, want := range []int{1, 3, 2, 0, 4} {
		if got := kthLargest(z, k+1); got != want {
			t.Errorf("rank %d: class %d, want %d", k+1, got, want)
		}
	}
}
