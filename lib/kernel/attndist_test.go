package kernel_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/lk-robustness/lk/lib/kernel"
)

func TestScore(t *testing.T) {
	d5 := kernel.Distances(5)
	centre := make([]float32, 25)
	centre[12] = 3
	corners := make([]float32, 25)
	corners[0], corners[4], corners[20], corners[24] = 1, -1, 2, -2
	edge := make([]float32, 25)
	edge[2] = 1 // top middle: distance R / (R*sqrt 2) = 1/sqrt 2
	mixed := make([]float32, 25)
	mixed[12], mixed[0] = 1, 1 // half the mass at 0, half at 1
	cases := []struct {
		name      string
		w         []float32
		normalise bool
		want      float64
	}{
		{"centre", centre, true, 0},
		{"corners", corners, true, 1},
		{"edge", edge, true, 1 / math.Sqrt2},
		{"mixed", mixed, true, 0.5},
		{"corners, unnormalised", corners, false, 6}, // sum of |w| at distance 1
		{"zero kernel", make([]float32, 25), true, 0},
	}
	for _, c := range cases {
		if got := kernel.Score(c.w, d5, c.normalise); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// the normalised score does not change with the kernel's scale (a folded BatchNorm)
	scaled := make([]float32, 25)
	for i, v := range mixed {
		scaled[i] = 7.5 * v
	}
	if kernel.Score(scaled, d5, true) != kernel.Score(mixed, d5, true) {
		t.Error("normalised score depends on scale")
	}
}

func TestDistancesOfRepLKNetKernels(t *testing.T) {
	// the radii of RepLKNet-31B's kernels 31, 29, 27, 13 are 15, 14, 13, 6
	for _, k := range []int{31, 29, 27, 13} {
		d := kernel.Distances(k)
		r := (k - 1) / 2
		if d[r*k+r] != 0 || math.Abs(d[0]-1) > 1e-12 || math.Abs(d[r]-1/math.Sqrt2) > 1e-12 {
			t.Errorf("k=%d: centre %v, corner %v, edge %v", k, d[r*k+r], d[0], d[r])
		}
	}
}

func ExampleMerge() {
	large := make([]float32, 25) // 5x5
	small := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	kernel.Merge(large, 5, small, 3)
	for j := 0; j < 5; j++ {
		fmt.Println(large[j*5 : j*5+5])
	}
	// Output:
	// [0 0 0 0 0]
	// [0 1 2 3 0]
	// [0 4 5 6 0]
	// [0 7 8 9 0]
	// [0 0 0 0 0]
}
