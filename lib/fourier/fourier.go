// Package fourier is the 2-D discrete Fourier transform of real planes,
// built from gonum's 1-D transforms (a real FFT along each row, a complex
// FFT down each column: gonum has no 2-D API), and what lk computes with
// it: band-limited noise (Fourier-noise robustness, the Fourier heat map).
package fourier

import (
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Plan transforms H x W real planes. A Plan is not safe for concurrent
// use; make one per goroutine.
type Plan struct {
	H, W int
	rows *fourier.FFT
	cols *fourier.CmplxFFT
	row  []complex128
	col  []complex128
	buf  []float64
}

// NewPlan prepares transforms of H x W planes.
func NewPlan(h, w int) *Plan {
	return &Plan{H: h, W: w, rows: fourier.NewFFT(w), cols: fourier.NewCmplxFFT(h),
		row: make([]complex128, w/2+1), col: make([]complex128, h), buf: make([]float64, w)}
}

// Spectrum is the half spectrum of a real H x W plane: H rows of W/2+1
// coefficients (the other half is the conjugate mirror), row-major.
type Spectrum []complex128

// Forward returns the spectrum of plane (H*W values, row-major), unscaled:
// coefficient (u, v) = sum over (y, x) of plane(y, x) exp(-2 pi i (uy/H + vx/W)).
func (p *Plan) Forward(dst Spectrum, plane []float64) Spectrum {
	hw := p.W/2 + 1
	if len(dst) != p.H*hw {
		dst = make(Spectrum, p.H*hw)
	}
	for y := 0; y < p.H; y++ {
		p.rows.Coefficients(dst[y*hw:(y+1)*hw], plane[y*p.W:(y+1)*p.W])
	}
	for v := 0; v < hw; v++ {
		for y := 0; y < p.H; y++ {
			p.col[y] = dst[y*hw+v]
		}
		p.cols.Coefficients(p.col, p.col)
		for u := 0; u < p.H; u++ {
			dst[u*hw+v] = p.col[u]
		}
	}
	return dst
}

// Inverse writes the plane of spectrum s to dst, scaled by 1/(H W) so that
// Inverse(Forward(x)) = x. s is overwritten.
func (p *Plan) Inverse(dst []float64, s Spectrum) []float64 {
	hw := p.W/2 + 1
	if len(dst) != p.H*p.W {
		dst = make([]float64, p.H*p.W)
	}
	for v := 0; v < hw; v++ {
		for u := 0; u < p.H; u++ {
			p.col[u] = s[u*hw+v]
		}
		p.cols.Sequence(p.col, p.col)
		for y := 0; y < p.H; y++ {
			s[y*hw+v] = p.col[y]
		}
	}
	scale := 1 / float64(p.H*p.W)
	for y := 0; y < p.H; y++ {
		row := dst[y*p.W : (y+1)*p.W]
		p.rows.Sequence(row, s[y*hw:(y+1)*hw])
		for i := range row {
			row[i] *= scale
		}
	}
	return dst
}

// Band is Park & Kim's square frequency annulus for an H x W spectrum in
// the half-spectrum layout: the frequencies whose centred index lies in
// the centred square of side 2 floor((f+s) n / 2 pi) but not in that of
// side 2 floor((f-s) n / 2 pi) (n = H down the rows, W across, sides
// clipped to [0, n]), f and s in radians, pi being Nyquist. Their noise is
// the real part of the inverse transform of the masked spectrum; for a
// real plane that equals masking with the mask averaged with its mirror
// image M(-u, -v), which Band returns, so its values are 0, 1/2 or 1.
func Band(h, w int, f, s float64) []float64 {
	side := func(r float64, n int) int {
		return min(max(2*int(math.Floor(r*float64(n)/(2*math.Pi))), 0), n)
	}
	in := func(k, n, l int) bool { // centred index of frequency k inside the centred square of side l
		c := (k%n + n + n/2) % n
		return c >= n/2-l/2 && c < n/2-l/2+l
	}
	mask := func(u, v int) float64 {
		if in(u, h, side(f+s, h)) && in(v, w, side(f+s, w)) && !(in(u, h, side(f-s, h)) && in(v, w, side(f-s, w))) {
			return 1
		}
		return 0
	}
	hw := w/2 + 1
	out := make([]float64, h*hw)
	for u := 0; u < h; u++ {
		for v := 0; v < hw; v++ {
			out[u*hw+v] = (mask(u, v) + mask(-u, -v)) / 2
		}
	}
	return out
}

// Filter multiplies the spectrum of plane by mask (half-spectrum layout)
// and returns the resulting plane.
func (p *Plan) Filter(plane, mask []float64) []float64 {
	s := p.Forward(nil, plane)
	for i := range s {
		s[i] *= complex(mask[i], 0)
	}
	return p.Inverse(nil, s)
}
