package occlude

import (
	"fmt"
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
)

// The reference drops k N // 10 patches: 0, 19, 39, 58, 78, 98, 117, 137,
// 156, 176 of 196 (docs/protocols.md §7).
func TestCount(t *testing.T) {
	want := []int{0, 19, 39, 58, 78, 98, 117, 137, 156, 176}
	for k, w := range want {
		r := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}[k]
		if got := Count(r, 196); got != w {
			t.Errorf("ratio %v: %d patches, want %d", r, got, w)
		}
	}
}

func TestMostSalient(t *testing.T) {
	s := []float64{0.1, 0.4, 0.2, 0.3}
	cases := []struct {
		lambda float64
		want   string
	}{
		// sorted 0.1 0.2 0.3 0.4, running sums 0.1 0.3 0.6 1.0
		{0.5, "[false true false true]"},  // sums above 0.5: 0.6 (patch 3), 1.0 (patch 1)
		{0.1, "[false true false false]"}, // above 0.9: only 1.0
		{1, "[true true true true]"},      // above 0: all
		{0, "[false false false false]"},
	}
	for _, c := range cases {
		got, err := MostSalient(s, c.lambda)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("lambda %v: %v %v, want %s", c.lambda, got, err, c.want)
		}
	}
	if _, err := MostSalient([]float64{0, 0}, 0.5); err == nil {
		t.Error("zero saliency accepted")
	}
	if _, err := MostSalient([]float64{1, -1}, 0.5); err == nil {
		t.Error("negative saliency accepted")
	}
}

func TestApplyAndRandom(t *testing.T) {
	sh := stream.Shape{C: 2, H: 4, W: 6}
	g, err := NewGrid(sh, 2)
	if err != nil || g.GH != 2 || g.GW != 3 {
		t.Fatalf("grid %+v %v", g, err)
	}
	if _, err := NewGrid(sh, 4); err == nil {
		t.Error("patch 4 tiles 4x6")
	}
	src := make([]float32, sh.Size())
	for i := range src {
		src[i] = 1
	}
	marked := []bool{false, true, false, false, false, true} // patches (0,1) and (1,2)
	dst := make([]float32, len(src))
	Apply(dst, src, sh, g, marked, true)
	for i, v := range dst {
		y, x := i/6%4, i%6
		inMarked := y < 2 && x >= 2 && x < 4 || y >= 2 && x >= 4
		if (v == 0) != inMarked {
			t.Fatalf("pixel %d (y %d x %d) = %v", i, y, x, v)
		}
	}
	Apply(dst, src, sh, g, marked, false) // keep only the marked
	for i, v := range dst {
		y, x := i/6%4, i%6
		inMarked := y < 2 && x >= 2 && x < 4 || y >= 2 && x >= 4
		if (v == 1) != inMarked {
			t.Fatalf("keep: pixel %d = %v", i, v)
		}
	}
	hits := make([]int, 196)
	for k := 0; k < 2000; k++ {
		m := RandomPatches(196, 58, Source(1, fmt.Sprint("batch ", k), 0.3))
		n := 0
		for i, v := range m {
			if v {
				n++
				hits[i]++
			}
		}
		if n != 58 {
			t.Fatalf("%d patches drawn, want 58", n)
		}
	}
	for i, h := range hits { // 2000 * 58/196 = 592 expected, sd about 20
		if h < 500 || h > 690 {
			t.Errorf("patch %d drawn %d times of 2000", i, h)
		}
	}
}
