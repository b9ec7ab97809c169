package corrupt

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/lk-robustness/lk/lib/vec"
)

// A perturbation turns an image into a sequence of frames (ImageNet-P,
// Hendrycks & Dietterich 2019): frame 0 the start, each next one a little
// further along (noise: fresh noise on the clean image; geometry: a
// growing shift, angle or scale). Sequences follow make_imagenet_p.py
// (224 px) and make_cifar_p.py (32 px); geometric ones act on the
// stream's image itself and fill with black, where the reference worked on
// the 256-pixel image before its centre crop.
type perturbation struct {
	noise  bool // its difficulty picks the noise level, and frames compare with frame 0
	frames func(t Table) int
	frame  func(m *Img, i, d int, t Table, r *rng) *Img
	// whole makes all frames at once, for sequences that share a random
	// layer (snow, spatter); frame is nil then
	whole func(m *Img, t Table, r *rng) []*Img
}

var perturbations = map[string]perturbation{
	"gaussian_noise": {noise: true, frames: n31, frame: func(m *Img, i, d int, t Table, r *rng) *Img {
		if i == 0 {
			return m.clone()
		}
		s := pick(t, d, []float64{.03, .05, .08}, []float64{.02, .04, .06})
		return addNoise(m, s, r)
	}},
	"shot_noise": {noise: true, frames: n31, frame: func(m *Img, i, d int, t Table, r *rng) *Img {
		if i == 0 {
			return m.clone()
		}
		l := pick(t, d, []float64{300, 120, 60}, []float64{700, 400, 200})
		return poissonNoise(m, l, r)
	}},
	"speckle_noise": {noise: true, frames: n31, frame: func(m *Img, i, d int, t Table, r *rng) *Img {
		if i == 0 {
			return m.clone()
		}
		s := pick(t, d, []float64{.05, .10, .15}, []float64{.05, .07, .1})
		return speckle(m, s, r)
	}},
	"brightness": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		step := pick(t, 1, []float64{.02}, []float64{.015})
		c := float64(i-15) * step
		return hsvMap(m, func(h, s, v float64) (float64, float64, float64) { return h, s, clip01(v + c) })
	}},
	"gaussian_blur": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		s := pick(t, 1, []float64{.25 + .035*float64(i)}, []float64{.3 + .015*float64(i)})
		tr := pick(t, 1, []float64{6}, []float64{7})
		return separable(m, gaussTaps(s, tr), nearest)
	}},
	"translate": {frames: func(t Table) int { return pick(t, 1, []int{41}, []int{16}) }, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		shift := float64(i - pick(t, 1, []int{20}, []int{7}))
		return warp(m, [4]float64{1, 0, 0, 1}, [2]float64{shift, 0}, true)
	}},
	"snow":    {frames: n31, whole: snowSequence},
	"spatter": {frames: n31, whole: spatterSequence},
	"rotate": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		a := float64(i-15) * math.Pi / 180
		return warp(m, [4]float64{math.Cos(a), -math.Sin(a), math.Sin(a), math.Cos(a)}, [2]float64{}, false)
	}},
	"scale": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		s := pick(t, 1, []float64{(2.5*float64(i) + 40) / 100}, []float64{(2*float64(i) + 70) / 100})
		return warp(m, [4]float64{s, 0, 0, s}, [2]float64{}, false)
	}},
	"shear": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		sh := math.Tan(float64(i-15) * math.Pi / 180)
		return warp(m, [4]float64{1, -sh, 0, 1}, [2]float64{}, false)
	}},
	"zoom_blur": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		// the cumulative mean of the image zoomed by 1 + 0.004 k, k = 0..i
		acc := m.clone()
		for k := 1; k <= i; k++ {
			s := 1 + 0.004*float64(k)
			z := warp(m, [4]float64{s, 0, 0, s}, [2]float64{}, false)
			for j, v := range z.Pix {
				acc.Pix[j] += v
			}
		}
		for j := range acc.Pix {
			acc.Pix[j] /= float64(i + 1)
		}
		return acc
	}},
	"tilt": {frames: n31, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		deg := pick(t, 1, []float64{float64(i - 15)}, []float64{0.75 * float64(i-15)})
		return tiltFrame(m, deg*math.Pi/180)
	}},
	"motion_blur": {frames: func(t Table) int { return pick(t, 1, []int{31}, []int{21}) }, frame: func(m *Img, i, d int, t Table, _ *rng) *Img {
		if t == CIFAR {
			return motionBlur(m, 6, 1.8, float64(i-20)*9, 3)
		}
		return motionBlur(m, 10, 3, float64(i-30)*4, 3)
	}},
}

func n31(Table) int { return 31 }

// warp maps each output pixel p to the input at A^-1 (p - c - t) + c,
// c the image centre: an affine transform about the centre, bilinear (or
// nearest) with black outside, as torchvision's affine.
func warp(m *Img, A [4]float64, t [2]float64, nearestNeighbour bool) *Img {
	det := A[0]*A[3] - A[1]*A[2]
	ia, ib, ic, id := A[3]/det, -A[1]/det, -A[2]/det, A[0]/det
	cx, cy := float64(m.W)/2, float64(m.H)/2
	out := newImg(m.H, m.W)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			px, py := float64(x)+0.5-cx-t[0], float64(y)+0.5-cy-t[1]
			sx := ia*px + ib*py + cx - 0.5
			sy := ic*px + id*py + cy - 0.5
			for c := 0; c < 3; c++ {
				var v float64
				if nearestNeighbour {
					xi, yi := int(math.Round(sx)), int(math.Round(sy))
					if xi >= 0 && xi < m.W && yi >= 0 && yi < m.H {
						v = m.at(yi, xi, c)
					}
				} else {
					v = bilinear0(m, sy, sx, c)
				}
				out.Pix[(y*m.W+x)*3+c] = v
			}
		}
	}
	return out
}

// bilinear0 samples with black outside the image.
func bilinear0(m *Img, y, x float64, c int) float64 {
	y0, x0 := math.Floor(y), math.Floor(x)
	fy, fx := y-y0, x-x0
	get := func(yy, xx int) float64 {
		if yy < 0 || yy >= m.H || xx < 0 || xx >= m.W {
			return 0
		}
		return m.at(yy, xx, c)
	}
	iy, ix := int(y0), int(x0)
	return (1-fy)*((1-fx)*get(iy, ix)+fx*get(iy, ix+1)) + fy*((1-fx)*get(iy+1, ix)+fx*get(iy+1, ix+1))
}

// PerturbationNames lists the implemented perturbations, sorted.
func PerturbationNames() []string {
	var n []string
	for k := range perturbations {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// IsNoise reports whether a perturbation's frames are compared with the
// first (noise) rather than with the previous one.
func IsNoise(name string) bool { return perturbations[name].noise }

// Sequence returns the frames of a perturbation of an image at difficulty
// 1-3 (for noise, the noise level; for the others the stride is applied
// when scoring, and the frames are the same), truncated to 8-bit levels.
func Sequence(name string, m *Img, difficulty int, cfg Config, id string) ([]*Img, error) {
	p, ok := perturbations[name]
	if !ok {
		return nil, fmt.Errorf("perturbation %q: want one of %s", name, strings.Join(PerturbationNames(), ", "))
	}
	if difficulty < 1 || difficulty > 3 {
		return nil, fmt.Errorf("difficulty %d: want 1 to 3", difficulty)
	}
	h := fnvHash(id, "p:"+name, difficulty)
	r := newRNG(cfg.Seed, h)
	n := p.frames(cfg.Table)
	frames := make([]*Img, n)
	var whole []*Img
	if p.whole != nil {
		whole = p.whole(m, cfg.Table, r)
	}
	for i := range frames {
		var f *Img
		if whole != nil {
			f = whole[i]
		} else {
			f = p.frame(m, i, difficulty, cfg.Table, r)
		}
		vec.Quantize(f.Pix, f.Pix)
		frames[i] = f
	}
	return frames, nil
}

// tiltFrame rotates the image plane about both in-plane axes by phi and
// projects it back (the reference's P2 T RX RY P1 homography), bilinear
// with black outside, as cv2.warpPerspective.
func tiltFrame(m *Img, phi float64) *Img {
	w, h := float64(m.W), float64(m.H)
	f := math.Hypot(w, h)
	mul := func(a, b [][]float64) [][]float64 {
		out := make([][]float64, len(a))
		for i := range a {
			out[i] = make([]float64, len(b[0]))
			for j := range b[0] {
				for k := range b {
					out[i][j] += a[i][k] * b[k][j]
				}
			}
		}
		return out
	}
	c, s := math.Cos(phi), math.Sin(phi)
	p1 := [][]float64{{1, 0, -w / 2}, {0, 1, -h / 2}, {0, 0, 0}, {0, 0, 1}}
	rx := [][]float64{{1, 0, 0, 0}, {0, c, -s, 0}, {0, s, c, 0}, {0, 0, 0, 1}}
	ry := [][]float64{{c, 0, -s, 0}, {0, 1, 0, 0}, {s, 0, c, 0}, {0, 0, 0, 1}}
	t := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, f}, {0, 0, 0, 1}}
	p2 := [][]float64{{f, 0, w / 2, 0}, {0, f, h / 2, 0}, {0, 0, 1, 0}}
	M := mul(p2, mul(t, mul(rx, mul(ry, p1))))
	inv := invert3(M)
	out := newImg(m.H, m.W)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			X, Y := float64(x), float64(y)
			z := inv[2][0]*X + inv[2][1]*Y + inv[2][2]
			sx := (inv[0][0]*X + inv[0][1]*Y + inv[0][2]) / z
			sy := (inv[1][0]*X + inv[1][1]*Y + inv[1][2]) / z
			for ch := 0; ch < 3; ch++ {
				out.Pix[(y*m.W+x)*3+ch] = bilinear0(m, sy, sx, ch)
			}
		}
	}
	return out
}

func invert3(m [][]float64) [3][3]float64 {
	a, b, c := m[0][0], m[0][1], m[0][2]
	d, e, f := m[1][0], m[1][1], m[1][2]
	g, h, i := m[2][0], m[2][1], m[2][2]
	det := a*(e*i-f*h) - b*(d*i-f*g) + c*(d*h-e*g)
	return [3][3]float64{
		{(e*i - f*h) / det, (c*h - b*i) / det, (b*f - c*e) / det},
		{(f*g - d*i) / det, (a*i - c*g) / det, (c*d - a*f) / det},
		{(d*h - e*g) / det, (b*g - a*h) / det, (a*e - b*d) / det},
	}
}

// snowSequence is ImageNet-P's snow: one snow layer per sequence
// (N(.05, .3), zoomed, thresholded at .5), motion-blurred at an angle
// turning 4 degrees per frame from -150, over the brightened image.
func snowSequence(m *Img, t Table, r *rng) []*Img {
	zoom, mbR, mbS := 3.0, 14.0, 4.0
	if t == CIFAR {
		zoom, mbR, mbS = 2, 10, 2
	}
	layer := newImg(m.H, m.W)
	z := getFull(m.H * m.W)
	r.normals(z)
	for i, n := range z {
		v := 0.05 + 0.3*n
		layer.Pix[3*i], layer.Pix[3*i+1], layer.Pix[3*i+2] = v, v, v
	}
	put(z)
	if m.H == m.W {
		layer = clippedZoom(layer, zoom)
	}
	for i, v := range layer.Pix {
		if v < .5 {
			v = 0
		}
		layer.Pix[i] = quantize(v)
	}
	frames := make([]*Img, 31)
	n := m.H * m.W
	for k := range frames {
		l := motionBlur(layer, mbR, mbS, float64(4*k-150), 1) // channel 0: the one read below
		out := m.clone()
		for i := 0; i < n; i++ {
			px := out.Pix[3*i : 3*i+3]
			gray := .299*px[0] + .587*px[1] + .114*px[2]
			for c := 0; c < 3; c++ {
				v := .85*px[c] + .15*max(px[c], gray*1.5+.5)
				px[c] = v + l.Pix[3*i] + l.Pix[3*(n-1-i)]
			}
		}
		frames[k] = out
	}
	return frames
}
