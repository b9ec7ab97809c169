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

// Filter with Band equals Park & Kim's procedure done literally: full
// complex DFT, roll the zero frequency to the centre, zero outside the
// square annulus, roll back, inverse DFT, real part.
func TestBandIsParkKim(t *testing.T) {
	for _, c := range []struct {
		h, w int
		f, s float64
	}{{16, 16, 0.5, 0.1}, {16, 16, 0, 0.1}, {16, 16, 1, 0.1}, {12, 10, 0.3, 0.2}} {
		h, w := c.h, c.w
		r := rand.New(rand.NewPCG(5, 6))
		x := make([]float64, h*w)
		for i := range x {
			x[i] = float64(2*r.IntN(2) - 1)
		}
		// the literal procedure
		dft := func(in []complex128, sign float64) []complex128 {
			out := make([]complex128, h*w)
			for u := 0; u < h; u++ {
				for v := 0; v < w; v++ {
					for y := 0; y < h; y++ {
						for xx := 0; xx < w; xx++ {
							out[u*w+v] += in[y*w+xx] * cmplx.Exp(complex(0, sign*2*math.Pi*(float64(u*y)/float64(h)+float64(v*xx)/float64(w))))
						}
					}
				}
			}
			return out
		}
		in := make([]complex128, h*w)
		for i, v := range x {
			in[i] = complex(v, 0)
		}
		spec := dft(in, -1)
		square := func(n int, rad float64) (lo, hi int) {
			l := min(max(2*int(math.Floor(rad*math.Pi*float64(n)/(2*math.Pi))), 0), n)
			return n/2 - l/2, n/2 - l/2 + l
		}
		oy0, oy1 := square(h, c.f+c.s)
		ox0, ox1 := square(w, c.f+c.s)
		iy0, iy1 := square(h, c.f-c.s)
		ix0, ix1 := square(w, c.f-c.s)
		for u := 0; u < h; u++ {
			for v := 0; v < w; v++ {
				cu, cv := (u+h/2)%h, (v+w/2)%w // rolled
				outer := cu >= oy0 && cu < oy1 && cv >= ox0 && cv < ox1
				inner := cu >= iy0 && cu < iy1 && cv >= ix0 && cv < ix1
				if !outer || inner {
					spec[u*w+v] = 0
				}
			}
		}
		back := dft(spec, 1)
		got := NewPlan(h, w).Filter(x, Band(h, w, c.f*math.Pi, c.s*math.Pi))
		for i := range x {
			want := real(back[i]) / float64(h*w)
			if math.Abs(got[i]-want) > 1e-9 {
				t.Fatalf("%+v: value %d is %v, want %v", c, i, got[i], want)
			}
		}
	}
}
