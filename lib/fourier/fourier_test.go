package fourier

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

// The spectrum equals the DFT's definition summed directly, and the
// inverse restores the plane.
func TestForwardIsTheDFT(t *testing.T) {
	for _, sz := range [][2]int{{6, 8}, {5, 7}, {1, 4}} {
		h, w := sz[0], sz[1]
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float64, h*w)
		for i := range x {
			x[i] = r.Float64()
		}
		p := NewPlan(h, w)
		s := p.Forward(nil, x)
		for u := 0; u < h; u++ {
			for v := 0; v <= w/2; v++ {
				var want complex128
				for y := 0; y < h; y++ {
					for xx := 0; xx < w; xx++ {
						want += complex(x[y*w+xx], 0) * cmplx.Exp(complex(0, -2*math.Pi*(float64(u*y)/float64(h)+float64(v*xx)/float64(w))))
					}
				}
				if cmplx.Abs(s[u*(w/2+1)+v]-want) > 1e-9 {
					t.Fatalf("%dx%d (%d,%d): %v, want %v", h, w, u, v, s[u*(w/2+1)+v], want)
				}
			}
		}
		back := p.Inverse(nil, s)
		for i := range x {
			if math.Abs(back[i]-x[i]) > 1e-12 {
				t.Fatalf("%dx%d: inverse[%d] = %v, want %v", h, w, i, back[i], x[i])
			}
		}
	}
}

// Correlate equals the direct sum.
func TestCorrelate(t *testing.T) {
	h, w, kh, kw := 20, 17, 5, 3
	r := rand.New(rand.NewPCG(3, 4))
	x, k := make([]float64, h*w), make([]float64, kh*kw)
	for i := range x {
		x[i] = r.Float64()
	}
	for i := range k {
		k[i] = r.NormFloat64()
	}
	p := NewPlan(h, w)
	got := p.Correlate(x, p.Kernel(k, kh, kw))
	ow := w - kw + 1
	for y := 0; y < h-kh+1; y++ {
		for xx := 0; xx < ow; xx++ {
			var s float64
			for j := 0; j < kh; j++ {
				for i := 0; i < kw; i++ {
					s += k[j*kw+i] * x[(y+j)*w+xx+i]
				}
			}
			if math.Abs(got[y*ow+xx]-s) > 1e-12 {
				t.Fatalf("(%d,%d): %v, want %v", y, xx, got[y*ow+xx], s)
			}
		}
	}
}
