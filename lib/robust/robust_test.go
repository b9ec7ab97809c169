package robust

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// docs/protocols.md §14's formula checks.
func TestTop5Distance(t *testing.T) {
	ref := []float32{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}
	cases := []struct {
		other []float32
		want  int
	}{
		{ref, 0},
		{[]float32{8, 9, 7, 6, 5, 4, 3, 2, 1, 0}, 2},                  // ranks 1 and 2 swapped
		{[]float32{-1, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 5 + 1 + 1 + 1 + 1}, // the top class falls out of the top 5
	}
	for _, c := range cases {
		if got := Top5Distance(ref, c.other); got != c.want {
			t.Errorf("T5D %v: %d, want %d", c.other, got, c.want)
		}
	}
	// ties rank by index
	if r := Ranking([]float32{1, 3, 3, 0}); r[0] != 1 || r[1] != 2 {
		t.Errorf("ranking %v", r)
	}
}

func TestFlips(t *testing.T) {
	if f, n := Flips([]int{4, 4, 4, 4}, false, 1); f != 0 || n != 3 {
		t.Errorf("constant predictor: %d flips of %d", f, n)
	}
	// noise: every frame against the first
	if f, n := Flips([]int{1, 2, 1, 2}, true, 1); f != 2 || n != 3 {
		t.Errorf("noise: %d of %d", f, n)
	}
	// stride 2: pairs (0,2) (2,4) and (1,3)
	if f, n := Flips([]int{1, 5, 1, 6, 2}, false, 2); f != 2 || n != 3 {
		t.Errorf("stride 2: %d of %d", f, n)
	}
}

func TestCE(t *testing.T) {
	m, err := MeanCE(AlexNet, AlexNet, Standard)
	if err != nil || math.Abs(m-1) > 1e-12 {
		t.Errorf("AlexNet's own mCE %v %v, want 1", m, err)
	}
	errs := map[string]float64{"fog": 0.5}
	if _, err := MeanCE(errs, AlexNet, Standard); err == nil {
		t.Error("a partial sweep gave an mCE")
	}
	if v := RelativeCE(0.5, 0.2, 0.8, 0.4); math.Abs(v-0.75) > 1e-12 {
		t.Errorf("relative CE %v", v)
	}
}

// AUPR and AUROC equal scikit-learn's, FPR at 95% recall the reference
// code's, on random fixtures with and without tied scores.
func TestDetectionMatchesSklearn(t *testing.T) {
	var cases []struct {
		Labels []int     `json:"labels"`
		Scores []float64 `json:"scores"`
		AUPR   float64   `json:"aupr"`
		AUROC  float64   `json:"auroc"`
		FPR95  float64   `json:"fpr95"`
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/robust/ood.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil || len(cases) != 3 {
		t.Fatal(err, len(cases))
	}
	for i, c := range cases {
		pos := make([]bool, len(c.Labels))
		for k, l := range c.Labels {
			pos[k] = l == 1
		}
		if got := AUPR(c.Scores, pos); math.Abs(got-c.AUPR) > 1e-12 {
			t.Errorf("case %d AUPR %v, sklearn %v", i, got, c.AUPR)
		}
		if got := AUROC(c.Scores, pos); math.Abs(got-c.AUROC) > 1e-12 {
			t.Errorf("case %d AUROC %v, sklearn %v", i, got, c.AUROC)
		}
		if got := FPRAtRecall(c.Scores, pos, 0.95); math.Abs(got-c.FPR95) > 1e-12 {
			t.Errorf("case %d FPR95 %v, reference %v", i, got, c.FPR95)
		}
	}
}

// ImageNet-9's mapping has the released per-superclass counts; BG-Gap is
// Mixed-Same - Mixed-Rand (ResNet-50: 86.2 - 78.9 = 7.3).
func TestIN9(t *testing.T) {
	var counts [9]int
	unmapped := 0
	for c := 0; c < 1000; c++ {
		if k := IN9(c); k >= 0 {
			counts[k]++
		} else {
			unmapped++
		}
	}
	want := [9]int{116, 52, 42, 36, 35, 27, 26, 20, 16}
	if counts != want || unmapped != 630 {
		t.Errorf("counts %v (unmapped %d), want %v (630)", counts, unmapped, want)
	}
	if g := BGGap(86.2, 78.9); math.Abs(g-7.3) > 1e-9 {
		t.Errorf("BG-Gap %v", g)
	}
}

// The top-5 lists give the full rankings' distance.
func TestTop5Lists(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for trial := 0; trial < 200; trial++ {
		a, b := make([]float32, 12), make([]float32, 12)
		for i := range a {
			a[i], b[i] = float32(r.IntN(6)), float32(r.IntN(6)) // ties
		}
		if got, want := Top5DistanceLists(Top5(a), Top5(b)), Top5Distance(a, b); got != want {
			t.Fatalf("%v %v: %d, want %d", a, b, got, want)
		}
	}
}
