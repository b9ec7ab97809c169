package freqnoise

import (
	"math"
	"math/cmplx"
	"testing"

	"github.com/lk-robustness/lk/lib/fourier"
	"github.com/lk-robustness/lk/lib/stream"
)

// A band covering every frequency passes the sign noise unchanged: every
// value is +-eps (times the channel's std).
func TestFullBandIsSignNoise(t *testing.T) {
	sh := stream.Shape{C: 3, H: 16, W: 16}
	plan := fourier.NewPlan(16, 16)
	all := fourier.Band(16, 16, 0.5*math.Pi, math.Pi) // outer side clipped to 16, inner side 0
	n := Noise(plan, sh, all, 0.1, []float64{1, 2, 0.5}, 1, "img")
	pos := 0
	for i, v := range n {
		e := 0.1 * []float64{1, 2, 0.5}[i/256]
		if math.Abs(math.Abs(float64(v))-e) > 1e-6 {
			t.Fatalf("value %d = %v, want +-%v", i, v, e)
		}
		if v > 0 {
			pos++
		}
	}
	if pos < 300 || pos > 468 { // 768 fair signs
		t.Errorf("%d of 768 positive", pos)
	}
}

// The noise has no energy outside its band (the transform itself is
// checked against the DFT in package fourier), and the same id gives the
// same noise.
func TestNoiseStaysInBand(t *testing.T) {
	sh := stream.Shape{C: 1, H: 32, W: 32}
	plan := fourier.NewPlan(32, 32)
	band := fourier.Band(32, 32, 0.5*math.Pi, 0.1*math.Pi)
	n := Noise(plan, sh, band, 1, nil, 7, "a")
	x := make([]float64, len(n))
	var energy float64
	for i, v := range n {
		x[i] = float64(v)
		energy += x[i] * x[i]
	}
	if energy == 0 {
		t.Fatal("no noise in the band")
	}
	s := plan.Forward(nil, x)
	for i, c := range s {
		if band[i] == 0 && cmplx.Abs(c) > 1e-4 {
			t.Fatalf("coefficient %d outside the band is %v", i, c)
		}
	}
	again := Noise(plan, sh, band, 1, nil, 7, "a")
	other := Noise(plan, sh, band, 1, nil, 7, "b")
	same, diff := true, false
	for i := range n {
		same = same && n[i] == again[i]
		diff = diff || n[i] != other[i]
	}
	if !same || !diff {
		t.Errorf("noise not a function of (seed, id): same %v, differs by id %v", same, diff)
	}
}

// Basis images have unit norm and are orthogonal across frequencies that
// are not mirror images of each other.
func TestBasis(t *testing.T) {
	dot := func(a, b []float64) (s float64) {
		for i := range a {
			s += a[i] * b[i]
		}
		return
	}
	for _, f := range [][2]int{{0, 0}, {3, -5}, {-8, 0}, {8, 8}, {1, 1}} {
		b := Basis(16, 16, f[0], f[1])
		if math.Abs(dot(b, b)-1) > 1e-12 {
			t.Errorf("(%d,%d): norm^2 %v", f[0], f[1], dot(b, b))
		}
	}
	if d := dot(Basis(16, 16, 3, -5), Basis(16, 16, 1, 1)); math.Abs(d) > 1e-12 {
		t.Errorf("(3,-5).(1,1) = %v", d)
	}
	if d := dot(Basis(16, 16, 3, -5), Basis(16, 16, -3, 5)); math.Abs(d-1) > 1e-12 {
		t.Errorf("(3,-5) and its mirror: %v, want 1 (cosines are even)", d)
	}
}
