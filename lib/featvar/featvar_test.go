package featvar_test

import (
	"math"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/featvar"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestParkKim(t *testing.T) {
	// two images, two channels, 2x2 maps
	data := []float32{
		1, 2, 3, 4, // image 0 channel 0: unbiased variance 5/3
		0, 0, 0, 0, // image 0 channel 1: 0
		2, 2, 2, 6, // image 1 channel 0: mean 3, ss 1+1+1+9=12, var 4
		1, 3, 1, 3, // image 1 channel 1: mean 2, ss 4, var 4/3
	}
	s := &featvar.Stat{Layer: featvar.Layer{Name: "l"}}
	if err := s.Add([]int64{2, 2, 2, 2}, data); err != nil {
		t.Fatal(err)
	}
	v, n, _ := s.Result()
	want := (5.0/3 + 0 + 4 + 4.0/3) / 4
	if !near(v, want) || n != 2 {
		t.Errorf("variance %g over %d images, want %g over 2", v, n, want)
	}
}

// Tokens: the class token is dropped, the rest are the grid's positions.
func TestTokens(t *testing.T) {
	// one image, 1 + 4 tokens, width 2; token-major as (N, tokens, width)
	data := []float32{
		1000, -1000, // class token
		1, 0,
		2, 0,
		3, 0,
		4, 0,
	}
	s := &featvar.Stat{Layer: featvar.Layer{Name: "tokens"}}
	if err := s.Add([]int64{1, 5, 2}, data); err != nil {
		t.Fatal(err)
	}
	v, _, _ := s.Result()
	if want := (5.0/3 + 0) / 2; !near(v, want) {
		t.Errorf("variance %g, want %g", v, want)
	}
	// no class token: 4 tokens are a 2x2 grid
	s = &featvar.Stat{Layer: featvar.Layer{Name: "grid"}}
	if err := s.Add([]int64{1, 4, 2}, data[2:]); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Result(); !near(v, 5.0/6) {
		t.Errorf("variance %g, want %g", v, 5.0/6)
	}
}

// Batch-mean: maps are averaged over each group first.
func TestBatchMean(t *testing.T) {
	s := &featvar.Stat{Layer: featvar.Layer{Name: "l"}, Group: 2}
	// one channel, 1x2 maps; images (0,2), (2,0) average to (1,1): variance 0;
	// the third image (0,4) alone is a partial group: variance 8
	for _, img := range [][]float32{{0, 2}, {2, 0}, {0, 4}} {
		if err := s.Add([]int64{1, 1, 1, 2}, img); err != nil {
			t.Fatal(err)
		}
	}
	v, n, partial := s.Result()
	if !near(v, 4) || n != 3 || partial != 1 {
		t.Errorf("variance %g images %d partial %d; want 4, 3, 1", v, n, partial)
	}
}

func TestBadShapes(t *testing.T) {
	cases := []struct {
		shape []int64
		want  string
	}{
		{[]int64{1, 7, 2}, "7 tokens are neither"},
		{[]int64{1, 2}, "neither a feature map"},
		{[]int64{1, 2, 1, 1}, "one position per channel"},
	}
	for _, c := range cases {
		s := &featvar.Stat{Layer: featvar.Layer{Name: "x"}}
		err := s.Add(c.shape, make([]float32, 64))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "layer x") {
			t.Errorf("%v: %v, want %q", c.shape, err, c.want)
		}
	}
}
