package attack_test

import (
	"math"
	"testing"

	"github.com/lk-robustness/lk/lib/attack"
)

// linear is the gradient of sum_i w_i x_i: constant, so every step of an
// attack is known in closed form.
type linear struct{ w []float32 }

func (l linear) Grad(dst, px []float32, labels []int64, n int) error {
	for i := range px {
		dst[i] = l.w[i%len(l.w)]
	}
	return nil
}

func TestFGSM(t *testing.T) {
	x := []float32{0.5, 0.99, 0.01, 0.5}
	got, err := attack.FGSM(linear{[]float32{1, 1, -1, 0}}, x, []int64{0}, 1, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.6, 1, 0, 0.5} // clamped to [0,1]; a zero gradient does not move
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("FGSM %v, want %v", got, want)
		}
	}
}

// PGD without a random start walks alpha per step until the eps-ball stops
// it; the snapshots are the iterates after each requested step count.
func TestPGDProjection(t *testing.T) {
	x := []float32{0.5, 0.5}
	snaps, err := attack.PGD(linear{[]float32{1, -1}}, x, []int64{0}, []string{"a"},
		attack.PGDConfig{Eps: 0.1, Alpha: 0.03, Steps: []int{0, 1, 2, 5}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0.5, 0.5}, {0.53, 0.47}, {0.56, 0.44}, {0.6, 0.4}}
	for k := range want {
		for i := range want[k] {
			if math.Abs(float64(snaps[k][i]-want[k][i])) > 1e-6 {
				t.Fatalf("steps %d: %v, want %v", []int{0, 1, 2, 5}[k], snaps[k], want[k])
			}
		}
	}
}

// The random start is drawn per image id: the same image gets the same
// start alone or beside others, and stays in the eps-ball.
func TestPGDRandomStartPerImage(t *testing.T) {
	g := linear{[]float32{0}} // no gradient: only the start moves
	one, _ := attack.PGD(g, []float32{0.5, 0.5}, []int64{0}, []string{"b"}, attack.PGDConfig{Eps: 0.2, Steps: []int{0}, RandomStart: true, Seed: 3})
	two, _ := attack.PGD(g, []float32{0.5, 0.5, 0.5, 0.5}, []int64{0, 0}, []string{"a", "b"}, attack.PGDConfig{Eps: 0.2, Steps: []int{0}, RandomStart: true, Seed: 3})
	if one[0][0] != two[0][2] || one[0][1] != two[0][3] || one[0][0] == two[0][0] {
		t.Errorf("start of b alone %v, beside a %v", one[0], two[0])
	}
	for _, v := range two[0] {
		if v < 0.3 || v > 0.7 {
			t.Errorf("start %v outside the eps-ball", v)
		}
	}
}

// TAIG steps against the sign of the integrated gradient and rounds to
// 8-bit values.
func TestTAIG(t *testing.T) {
	x := []float32{100.0 / 255, 100.0 / 255}
	got, err := attack.TAIG(linear{[]float32{1, -1}}, x, []int64{0}, []string{"a"},
		attack.TAIGConfig{Eps: 4.0 / 255, Alpha: 1.0 / 255, Iters: 6, Points: 4})
	if err != nil {
		t.Fatal(err)
	}
	// IG = (x_last - x_first) * w has the sign of w (x > eps): steps of -sign(w), stopped at eps
	if got[0] != 96.0/255 || got[1] != 104.0/255 {
		t.Errorf("TAIG %v, want %v", []float64{float64(got[0]) * 255, float64(got[1]) * 255}, []float64{96, 104})
	}
}
