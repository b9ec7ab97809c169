// Package corrupt applies the ImageNet-C corruptions (Hendrycks &
// Dietterich 2019) at severities 1 to 5, parameter for parameter as the
// reference generators (hendrycks/robustness's ImageNet-C code; each
// function's comment gives its parameters), with the 224-pixel (ImageNet) or 32-pixel (CIFAR)
// parameter table.
//
// Results are truncated to 8-bit values as the reference's np.uint8 casts
// do. The released ImageNet-C was further saved as JPEG quality 85; lk
// does not re-encode, so it reproduces the in-memory corruption.
//
// Random corruptions draw from a PCG stream seeded by (seed, image id,
// corruption, severity): the same image gets the same corruption whatever
// the batch, the sharding or the other images. The draws follow the
// reference's distributions, not numpy's bit stream.
package corrupt

import (
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/vec"
)

// Table selects a parameter table.
type Table int

const (
	ImageNet Table = iota // 224-pixel images (make_imagenet_c.py)
	CIFAR                 // 32-pixel images (make_cifar_c.py)
)

// TableFor picks the table by image size: CIFAR's up to 64 pixels.
func TableFor(h, w int) Table {
	if max(h, w) <= 64 {
		return CIFAR
	}
	return ImageNet
}

// Config is what a corruption needs besides the image and severity.
type Config struct {
	Table Table
	Seed  uint64
	// FrostDir holds the reference's frost1.png ... frost5.jpg; without
	// it, frost uses a procedural texture (a documented substitute).
	FrostDir string
}

// corruption is one corruption's definition.
type corruption struct {
	random bool
	apply  func(m *Img, s int, cfg Config, r *rng) (*Img, error)
}

var corruptions = map[string]corruption{
	"gaussian_noise":    {true, gaussianNoise},
	"shot_noise":        {true, shotNoise},
	"impulse_noise":     {true, impulseNoise},
	"speckle_noise":     {true, speckleNoise},
	"gaussian_blur":     {false, gaussianBlur},
	"defocus_blur":      {false, defocusBlur},
	"zoom_blur":         {false, zoomBlur},
	"brightness":        {false, brightness},
	"contrast":          {false, contrast},
	"saturate":          {false, saturate},
	"pixelate":          {false, pixelate},
	"jpeg_compression":  {false, jpegCompression},
	"fog":               {true, fog},
	"glass_blur":        {true, glassBlur},
	"motion_blur":       {true, motionBlurCorruption},
	"snow":              {true, snow},
	"elastic_transform": {true, elastic},
	"frost":             {true, frost},
	"spatter":           {true, spatter},
}

// Names lists the implemented corruptions, sorted.
func Names() []string {
	var n []string
	for k := range corruptions {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Apply corrupts an image (H x W x 3, values in [0,1]) at severity 1-5.
func Apply(name string, m *Img, severity int, cfg Config, id string) (*Img, error) {
	c, ok := corruptions[name]
	if !ok {
		return nil, fmt.Errorf("corruption %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	if severity < 1 || severity > 5 {
		return nil, fmt.Errorf("severity %d: want 1 to 5", severity)
	}
	var r *rng
	if c.random {
		r = newRNG(cfg.Seed, fnvHash(id, name, severity))
	}
	out, err := c.apply(m, severity, cfg, r)
	if err != nil {
		return nil, err
	}
	if !out.eightBit { // np.uint8(clip(x, 0, 1) * 255) truncates
		vec.Quantize(out.Pix, out.Pix)
	}
	out.eightBit = false
	return out, nil
}

// fnvHash keys an image's random stream by its id, what is applied and
// its level.
func fnvHash(id, what string, level int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", id, what, level)
	return h.Sum64()
}

// pick returns the severity's parameter from the table's list.
func pick[T any](t Table, s int, imagenet, cifar []T) T {
	if t == CIFAR {
		return cifar[s-1]
	}
	return imagenet[s-1]
}

// gaussian_noise: x + N(0, c).
func gaussianNoise(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	c := pick(cfg.Table, s, []float64{.08, .12, .18, .26, .38}, []float64{.04, .06, .08, .09, .10})
	return addNoise(m, c, r), nil
}

// shot_noise: Poisson(x c) / c.
func shotNoise(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	c := pick(cfg.Table, s, []float64{60, 25, 12, 5, 3}, []float64{500, 250, 100, 75, 50})
	return poissonNoise(m, c, r), nil
}

// impulse_noise: salt and pepper per element, skimage >= 0.19's way: an
// element is hit with probability amount, then salt or pepper evenly.
func impulseNoise(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	amount := pick(cfg.Table, s, []float64{.03, .06, .09, .17, .27}, []float64{.01, .02, .03, .05, .07})
	out := fullImg(m.H, m.W)
	src := *r.src // in registers for the loop (see rng)
	var u uint64
	hit, salt := below(amount), below(0.5) // unit(u) < amount, unit(u) < 0.5
	for i, v := range m.Pix {
		if src, u = src.next(); u<<11>>11 < hit {
			v = 0
			if src, u = src.next(); u<<11>>11 < salt {
				v = 1
			}
		}
		out.Pix[i] = v // clipped by the quantisation every caller does
	}
	*r.src = src
	return out, nil
}

// speckle_noise: x + x N(0, c).
func speckleNoise(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	c := pick(cfg.Table, s, []float64{.15, .2, .35, .45, .6}, []float64{.06, .1, .12, .16, .2})
	return speckle(m, c, r), nil
}

// The noises draw one value per element in the image's order; loops are
// written out (no function value per element) since they run on every
// element of every noisy image.

// The noises leave their values unclipped: they are quantized after (by
// Apply's vec.Quantize, or in addNoise's own pass; both clip to [0, 1] as
// clip01 does, NaN included), and the per-value branch of a clip here cost
// a third of gaussian noise's time.

// addNoise is x + N(0, c).
func addNoise(m *Img, c float64, r *rng) *Img {
	out := fullImg(m.H, m.W)
	r.normals(out.Pix)
	vec.QuantizeAddScaled(out.Pix, m.Pix, out.Pix, c, 1, 1) // x + c z, times 1, over 1: exact
	out.eightBit = true
	return out
}

// speckle is x + x N(0, c).
func speckle(m *Img, c float64, r *rng) *Img {
	out := fullImg(m.H, m.W)
	r.normals(out.Pix)
	for i, v := range m.Pix {
		out.Pix[i] = v + v*c*out.Pix[i]
	}
	return out
}

// poissonNoise is Poisson(x c) / c. An image's values are mostly the
// 256 levels of an 8-bit image, whose per-lambda constants (Knuth's
// exp(-lambda), PTRS's) are computed once per level: the same arguments go
// to the same functions, so the draws are the same.
func poissonNoise(m *Img, c float64, r *rng) *Img {
	out := fullImg(m.H, m.W)
	var exps [256]float64 // exp(-levels[k] c); 0 until computed
	var ptrs [256]*ptrsConst
	src := *r.src // the stream's state in registers for the loop
	for i, v := range m.Pix {
		lam := v * c
		var x float64
		if k := int(v*255 + 0.5); lam > 0 && k >= 0 && k < 256 && levels[k] == v {
			if lam < 10 {
				if exps[k] == 0 {
					exps[k] = vec.Exp(-lam)
				}
				x, src = poissonMult(src, exps[k])
			} else {
				if ptrs[k] == nil {
					ptrs[k] = newPTRS(lam)
				}
				x, src = ptrs[k].draw(src)
			}
		} else {
			x, src = poisson(src, lam)
		}
		out.Pix[i] = x / c
	}
	*r.src = src
	return out
}

// poisson draws from Poisson(lambda) with the stream r, returning the
// count and the stream after it: Knuth's product method below 10,
// Hörmann's transformed rejection (PTRS, 1993) above, exact both.
func poisson(r pcg, lambda float64) (float64, pcg) {
	switch {
	case lambda != lambda: // NaN: no count to draw (the product method would never stop)
		return lambda, r
	case lambda <= 0:
		return 0, r
	}
	if lambda >= 10 {
		return newPTRS(lambda).draw(r)
	}
	return poissonMult(r, vec.Exp(-lambda))
}

// poissonMult is Knuth's product method given l = exp(-lambda): the
// number of uniforms whose running product stays above l.
func poissonMult(r pcg, l float64) (float64, pcg) {
	k, p := 0.0, 1.0
	for {
		var u uint64
		r, u = r.next()
		if p *= unit(u); p <= l {
			return k, r
		}
		k++
	}
}

// ptrsConst holds PTRS's constants for one lambda.
type ptrsConst struct {
	lam, loglam, a, b, vr, logInvAlpha float64
}

func newPTRS(lam float64) *ptrsConst {
	slam := math.Sqrt(lam)
	b := 0.931 + 2.53*slam
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	return &ptrsConst{lam: lam, loglam: math.Log(lam), a: -0.059 + 0.02483*b, b: b,
		vr: 0.9277 - 3.6224/(b-2), logInvAlpha: math.Log(invAlpha)}
}

func (p *ptrsConst) draw(r pcg) (float64, pcg) {
	a, b, lam := p.a, p.b, p.lam
	for {
		var a1, a2 uint64
		r, a1 = r.next()
		r, a2 = r.next()
		u, v := unit(a1)-0.5, unit(a2)
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= p.vr {
			return k, r
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		if math.Log(v)+p.logInvAlpha-math.Log(a/(us*us)+b) <= -lam+k*p.loglam-lgammaInt(k+1) {
			return k, r
		}
	}
}

// lgammaInt is math.Lgamma at a positive integer n, from a table of
// math.Lgamma's own values for the counts PTRS meets most.
func lgammaInt(n float64) float64 {
	if n < float64(len(lgammaTable)) {
		return lgammaTable[int(n)]
	}
	lg, _ := math.Lgamma(n)
	return lg
}

var lgammaTable = func() (t [1024]float64) {
	for n := 1; n < len(t); n++ {
		t[n], _ = math.Lgamma(float64(n))
	}
	return t
}()

// gaussian_blur: skimage gaussian with sigma per severity.
func gaussianBlur(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	return gaussian(m, pick(t, s, []float64{1, 2, 3, 4, 6}, []float64{.4, .6, .7, .8, 1})), nil
}

// defocus_blur: filter2D with the disk kernel.
func defocusBlur(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s, [][2]float64{{3, .1}, {4, .5}, {6, .5}, {8, .5}, {10, .5}},
		[][2]float64{{.3, .4}, {.4, .5}, {.5, .6}, {1, .2}, {1.5, .1}})
	k, size := disk(p[0], p[1])
	return filter2D(m, k, size), nil
}

// zoomFactors reproduces numpy's arange(1, stop, step): start + i*step for
// i < ceil((stop-start)/step), in floating point.
func zoomFactors(stop, step float64) []float64 {
	n := int(math.Ceil((stop - 1) / step))
	z := make([]float64, n)
	for i := range z {
		z[i] = 1 + float64(i)*step
	}
	return z
}

// zoom_blur: the mean of the image and its clipped zooms (z = 1 included,
// so the image counts twice).
func zoomBlur(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	if m.H != m.W {
		return nil, fmt.Errorf("zoom_blur needs a square image (the reference's clipped_zoom), got %dx%d", m.H, m.W)
	}
	p := pick(t, s, [][2]float64{{1.11, .01}, {1.16, .01}, {1.21, .02}, {1.26, .02}, {1.31, .03}},
		[][2]float64{{1.06, .01}, {1.11, .01}, {1.16, .01}, {1.21, .01}, {1.26, .01}})
	zs := zoomFactors(p[0], p[1])
	// the reference works in float32
	x := m.clone()
	for i, v := range x.Pix {
		x.Pix[i] = float64(float32(v))
	}
	acc := x.clone()
	for _, z := range zs {
		zoomInto(acc.Pix, x, z, true)
	}
	for i := range acc.Pix {
		acc.Pix[i] /= float64(len(zs) + 1)
	}
	return acc, nil
}

// brightness: V + c in HSV.
func brightness(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	c := pick(t, s, []float64{.1, .2, .3, .4, .5}, []float64{.05, .1, .15, .2, .3})
	return hsvMap(m, func(h, sat, v float64) (float64, float64, float64) { return h, sat, clip01(v + c) }), nil
}

// saturate: S mul + add in HSV.
func saturate(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s, [][2]float64{{.3, 0}, {.1, 0}, {2, 0}, {5, .1}, {20, .2}},
		[][2]float64{{.3, 0}, {.1, 0}, {1.5, 0}, {2, .1}, {2.5, .2}})
	return hsvMap(m, func(h, sat, v float64) (float64, float64, float64) { return h, clip01(sat*p[0] + p[1]), v }), nil
}

func hsvMap(m *Img, f func(h, s, v float64) (float64, float64, float64)) *Img {
	out := m.clone()
	for i := 0; i < len(out.Pix); i += 3 {
		h, s, v := rgb2hsv(out.Pix[i], out.Pix[i+1], out.Pix[i+2])
		h, s, v = f(h, s, v)
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = hsv2rgb(h, s, v)
	}
	return out
}

// contrast: (x - mean) c + mean, with the per-channel mean.
func contrast(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	c := pick(t, s, []float64{.4, .3, .2, .1, .05}, []float64{.75, .5, .4, .3, .15})
	var s0, s1, s2 float64 // in registers: the sums' order is the image's
	for i := 0; i+2 < len(m.Pix); i += 3 {
		s0 += m.Pix[i]
		s1 += m.Pix[i+1]
		s2 += m.Pix[i+2]
	}
	n := float64(m.H * m.W)
	mu := [3]float64{s0 / n, s1 / n, s2 / n}
	out := fullImg(m.H, m.W)
	vec.QuantizeScaleAbout3(out.Pix, m.Pix, mu, c)
	out.eightBit = true
	return out, nil
}

// pixelate: Pillow BOX resize to int(side c) (224 c or 32 c in the
// reference; the image's width here), then back.
func pixelate(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	c := pick(t, s, []float64{.6, .5, .4, .3, .25}, []float64{.95, .9, .85, .75, .65})
	n := int(float64(m.W) * c) // the reference's int(224 c), int(32 c)
	small := preprocess.Resize(toBytes(m), n, n, preprocess.Box)
	ix, iy := preprocess.EnlargeIndex(n, m.W, preprocess.Box), preprocess.EnlargeIndex(n, m.H, preprocess.Box)
	if ix == nil || iy == nil {
		return fromBytes(preprocess.Resize(small, m.W, m.H, preprocess.Box)), nil
	}
	// enlarging by a box copies pixels: gathered straight into the output's
	// levels (fromBytes's values, k/255) without the 8-bit image between
	out := fullImg(m.H, m.W)
	out.eightBit = true
	for y, sy := range iy {
		row, o := small.Pix[sy*n*3:(sy+1)*n*3], out.Pix[y*m.W*3:(y+1)*m.W*3]
		for x, sx := range ix {
			p, q := row[sx*3:sx*3+3:sx*3+3], o[x*3:x*3+3:x*3+3]
			q[0], q[1], q[2] = levels[p[0]], levels[p[1]], levels[p[2]]
		}
	}
	return out, nil
}

// toBytes converts an image to 8-bit RGB, each value to its nearest level
// (values are k/255 in streams from lk-data; rounding recovers k).
func toBytes(m *Img) *imageio.Image {
	img := &imageio.Image{W: m.W, H: m.H, C: 3, Pix: make([]uint8, len(m.Pix))}
	vec.ToLevels(img.Pix, m.Pix)
	return img
}

// fromBytes is an 8-bit image's values k/255.
func fromBytes(img *imageio.Image) *Img {
	out := fullImg(img.H, img.W)
	vec.FromLevels(out.Pix, img.Pix)
	out.eightBit = true
	return out
}

// jpeg_compression: encoded at a quality per severity (Pillow's defaults:
// 4:2:0, accurate DCT, through libjpeg-turbo as Pillow) and decoded.
func jpegCompression(m *Img, s int, cfg Config, _ *rng) (*Img, error) {
	t := cfg.Table
	q := pick(t, s, []int{25, 18, 15, 10, 7}, []int{80, 65, 58, 50, 40})
	b, err := imageio.EncodeJPEG(toBytes(m), q)
	if err != nil {
		return nil, err
	}
	img, err := imageio.DecodeJPEG(b)
	if err != nil {
		return nil, err
	}
	return fromBytes(img), nil
}

// plasma is the reference's plasma_fractal: diamond-square on a toroidal
// mapsize x mapsize grid, each new point the mean of its four neighbours
// plus wibble * U(-wibble, wibble), wibble divided by decay per level;
// rescaled to [0,1].
func plasma(size int, decay float64, r *rng) []float64 {
	m, lo, span := plasmaMap(size, decay, r)
	vec.SubDiv(m, m, lo, span)
	return m
}

// plasmaMap is plasma before its rescaling, (m - lo) / span: fog does it
// in its blend. Rounding is monotone, so the largest of the rounded
// differences m - lo is the rounded difference of the largest.
func plasmaMap(size int, decay float64, r *rng) (m []float64, lo, span float64) {
	m = getFull(size * size) // every point is written but the first corner, 0
	m[0] = 0
	if size&(size-1) != 0 {
		panic("plasma: the map's side must be a power of two") // every caller's is
	}
	wibble := 100.0
	src := *r.src // in registers for the loops (see rng)
	hi := math.NaN()
	for step := size; step >= 2; step /= 2 {
		ok := false
		if plasmaLevel != nil {
			lo, hi, ok = plasmaLevel(m, size, step, wibble, &src)
		}
		if !ok {
			src, lo, hi = plasmaLevelScalar(m, size, step, wibble, src), math.NaN(), math.NaN()
		}
		wibble /= decay
	}
	*r.src = src
	// the last level's extremes where it found them, as MinFrom and
	// MaxFrom would: a zero could be either sign, so it is found again
	if lo == 0 || hi == 0 || lo != lo || hi != hi {
		lo, hi = vec.MinFrom(math.Inf(1), m), vec.MaxFrom(math.Inf(-1), m)
	}
	return m, lo, hi - lo
}

// plasmaLevelScalar computes the points of one level of the fractal, the
// cells of side step, with the stream src: the squares' centres, then the
// top edges' midpoints, then the left edges', each in row order, one draw
// a point. It returns the stream after them.
func plasmaLevelScalar(m []float64, size, step int, wibble float64, src pcg) pcg {
	mask := size - 1 // indices wrap around the torus by masking
	var u uint64
	h := step / 2
	n := size / step
	lo, w2 := -wibble, 2*wibble
	// each new point: a/4 + wibble * U(-wibble, wibble), U drawn as
	// 2 wibble u - wibble from one uniform u (float64(): each product
	// rounded, never fused into a multiply-add, whatever the build)
	noise := func(u uint64) float64 { return wibble * (float64(w2*unit(u)) + lo) }
	// squares: the centre of each cell from its four corners
	for i := 0; i < n; i++ {
		y0, y1 := i*step*size, ((i+1)*step&mask)*size
		for j := 0; j < n; j++ {
			x0, x1 := j*step, (j+1)*step&mask
			s := m[y0+x0] + m[y1+x0] + m[y0+x1] + m[y1+x1]
			src, u = src.next()
			m[y0+h*size+x0+h] = s/4 + noise(u)
		}
	}
	// diamonds: the top edge midpoints, then the left edge midpoints
	for i := 0; i < n; i++ {
		yc := i * step
		up, mid := ((yc-h)&mask)*size, (yc+h)*size
		for j := 0; j < n; j++ {
			xc := j * step
			s := m[mid+xc+h] + m[up+xc+h] + m[yc*size+xc] + m[yc*size+(xc+step)&mask]
			src, u = src.next()
			m[yc*size+xc+h] = s/4 + noise(u)
		}
	}
	for i := 0; i < n; i++ {
		yc := i * step
		mid, down := (yc+h)*size, ((yc+step)&mask)*size
		for j := 0; j < n; j++ {
			xc := j * step
			s := m[mid+xc+h] + m[mid+(xc-h)&mask] + m[yc*size+xc] + m[down+xc]
			src, u = src.next()
			m[mid+xc] = s/4 + noise(u)
		}
	}
	return src
}

// plasmaLevel, where the vector build sets it, is plasmaLevelScalar for
// the levels it takes (ok reports which), advancing *src: the same
// points. Where it has seen every point of the map (the last level), lo
// and hi are their extremes, found as the vector instructions do (NaN
// and signed zeros aside, as math.Min and math.Max); elsewhere NaN.
var plasmaLevel func(m []float64, size, step int, wibble float64, src *pcg) (lo, hi float64, ok bool)

// fog: the clean image plus t times a plasma fractal (the same in the
// three channels), rescaled by the clean image's maximum.
func fog(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s, [][2]float64{{1.5, 2}, {2, 2}, {2.5, 1.7}, {2.5, 1.5}, {3, 1.4}},
		[][2]float64{{.2, 3}, {.5, 3}, {.75, 2.5}, {1, 2}, {1.5, 1.75}})
	size := 256
	if t == CIFAR {
		size = 32
	}
	for size < max(m.H, m.W) { // larger images: the next power of two, as bethgelab's port
		size *= 2
	}
	f, lo, span := plasmaMap(size, p[1], r)
	maxVal := vec.MaxFrom(0, m.Pix)
	out := fullImg(m.H, m.W)
	vec.QuantizeBlend3(out.Pix, m.Pix, m.W, f, size, lo, span, p[0], maxVal, maxVal+p[0])
	out.eightBit = true
	put(f)
	return out, nil
}

// glass_blur: blur, truncate to 8 bits, then for each pixel from the
// bottom-right corner up (iterations times) copy in the pixel at a random
// offset in [-d, d) (the reference's "swap" is a copy: numpy views), and
// blur again.
func glassBlur(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s, [][3]float64{{.7, 1, 2}, {.9, 2, 1}, {1, 2, 3}, {1.1, 3, 2}, {1.5, 4, 2}},
		[][3]float64{{.05, 1, 1}, {.25, 1, 1}, {.4, 1, 1}, {.25, 1, 2}, {.4, 1, 2}})
	sigma, d, iters := p[0], int(p[1]), int(p[2])
	x := gaussian(m, sigma)
	vec.Quantize(x.Pix, x.Pix)
	for it := 0; it < iters; it++ {
		for h := m.H - d; h > d; h-- {
			for w := m.W - d; w > d; w-- {
				dx := r.IntN(2*d) - d
				dy := r.IntN(2*d) - d
				hp, wp := h+dy, w+dx
				copy(x.Pix[(h*m.W+w)*3:(h*m.W+w)*3+3], x.Pix[(hp*m.W+wp)*3:(hp*m.W+wp)*3+3])
			}
		}
	}
	return gaussian(x, sigma), nil
}

// motionBlur is ImageMagick's MotionBlur on 8-bit values (the reference
// round-trips through PNG): a one-sided kernel exp(-i^2 / 2 sigma^2),
// i = 0..2 radius, normalised, its taps at (ceil(i sin a - 0.5),
// ceil(i cos a - 0.5)) from each pixel, edges replicated; rounded to 8 bits.
// Only the first channels channels are blurred (the rest stay 0): snow
// blurs a layer whose three channels are one.
func motionBlur(m *Img, radius, sigma, angle float64, channels int) *Img {
	width := int(2*radius + 1)
	k := make([]float64, width)
	var sum float64
	for i := range k {
		k[i] = vec.Exp(-float64(i*i) / (2 * sigma * sigma))
		sum += k[i]
	}
	a := angle * math.Pi / 180
	dy := make([]int, width)
	dx := make([]int, width)
	for i := range k {
		k[i] /= sum
		dy[i] = int(math.Ceil(float64(i)*math.Sin(a) - 0.5))
		dx[i] = int(math.Ceil(float64(i)*math.Cos(a) - 0.5))
	}
	// each channel's 8-bit levels round(clip(v) * 255) once, on a plane
	// padded by width with the nearest pixel, so that a tap is an offset
	// and a row of outputs one vec.Taps (the same sums in the same order)
	r := width
	stride := m.W + 2*r
	p := get((m.H + 2*r) * stride)
	defer put(p)
	off := make([]int, width)
	for i := range off {
		off[i] = (r+dy[i])*stride + r + dx[i]
	}
	row := make([]float64, m.W)
	out := newImg(m.H, m.W)
	for c := 0; c < channels; c++ {
		for y := -r; y < m.H+r; y++ {
			src := m.Pix[nearest(y, m.H)*m.W*3:]
			dst := p[(y+r)*stride : (y+r+1)*stride]
			for x := range dst {
				dst[x] = math.Round(clip01(src[nearest(x-r, m.W)*3+c]) * 255)
			}
		}
		for y := 0; y < m.H; y++ {
			vec.Taps(row, p[y*stride:], off, k)
			o := out.Pix[y*m.W*3:]
			for x, s := range row {
				o[x*3+c] = math.Round(s) / 255
			}
		}
	}
	return out
}

// motion_blur: ImageMagick's MotionBlur at an angle drawn from U(-45, 45).
func motionBlurCorruption(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s, [][2]float64{{10, 3}, {15, 5}, {15, 8}, {15, 12}, {20, 15}},
		[][2]float64{{6, 1}, {6, 1.5}, {6, 2}, {8, 2}, {9, 2.5}})
	angle := -45 + 90*r.Float64()
	return motionBlur(m, p[0], p[1], angle, 3), nil
}

// snow: a field N(loc, scale) zoomed, thresholded, motion-blurred at an
// angle from U(-135, -45), over an image brightened toward its grey; the
// layer is added with its 180-degree rotation.
func snow(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	t := cfg.Table
	if m.H != m.W {
		return nil, fmt.Errorf("snow needs a square image (the reference's clipped_zoom), got %dx%d", m.H, m.W)
	}
	p := pick(t, s,
		[][7]float64{{.1, .3, 3, .5, 10, 4, .8}, {.2, .3, 2, .5, 12, 4, .7}, {.55, .3, 4, .9, 12, 8, .7}, {.55, .3, 4.5, .85, 12, 8, .65}, {.55, .3, 2.5, .85, 12, 12, .55}},
		[][7]float64{{.1, .2, 1, .6, 8, 3, .95}, {.1, .2, 1, .5, 10, 4, .9}, {.15, .3, 1.75, .55, 10, 4, .9}, {.25, .3, 2.25, .6, 12, 6, .85}, {.3, .3, 1.25, .65, 14, 12, .8}})
	loc, scale, zoom, thresh, mbR, mbS, blend := p[0], p[1], p[2], p[3], p[4], p[5], p[6]
	layer := newImg(m.H, m.W) // one channel, kept in all three
	z := getFull(m.H * m.W)
	r.normals(z)
	for i, n := range z {
		v := loc + scale*n
		layer.Pix[3*i], layer.Pix[3*i+1], layer.Pix[3*i+2] = v, v, v
	}
	put(z)
	layer = clippedZoom(layer, zoom)
	for i, v := range layer.Pix {
		if v < thresh {
			v = 0
		}
		layer.Pix[i] = quantize(v) // to uint8, truncating
	}
	layer = motionBlur(layer, mbR, mbS, -135+90*r.Float64(), 1) // channel 0: the one read below
	out := m.clone()
	n := m.H * m.W
	for i := 0; i < n; i++ {
		px := out.Pix[3*i : 3*i+3]
		gray := float64(float32(.299*px[0] + .587*px[1] + .114*px[2]))
		rot := layer.Pix[3*(n-1-i)]
		for c := 0; c < 3; c++ {
			v := blend*px[c] + (1-blend)*max(px[c], gray*1.5+0.5)
			px[c] = v + layer.Pix[3*i] + rot
		}
	}
	return out, nil
}

// elastic_transform: a random affine warp of the image's three control
// points, then a displacement field of uniform noise smoothed by a
// Gaussian (sigma, truncate 3, mirrored border) and scaled by alpha,
// sampled bilinearly with mirrored borders. (The reference's parameters
// are multiples of 244 where 224 was meant; kept.)
func elastic(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	t := cfg.Table
	p := pick(t, s,
		[][3]float64{{244 * 2, 244 * .7, 244 * .1}, {244 * 2, 244 * .08, 244 * .2}, {244 * .05, 244 * .01, 244 * .02}, {244 * .07, 244 * .01, 244 * .02}, {244 * .12, 244 * .01, 244 * .02}},
		[][3]float64{{0, 0, 32 * .08}, {32 * .05, 32 * .2, 32 * .07}, {32 * .08, 32 * .06, 32 * .06}, {32 * .1, 32 * .04, 32 * .05}, {32 * .1, 32 * .03, 32 * .03}})
	alpha, sigma, am := p[0], p[1], p[2]
	c0, c1 := float64(m.H/2), float64(m.W/2)
	sq := float64(min(m.H, m.W) / 3)
	src := [3][2]float64{{c0 + sq, c1 + sq}, {c0 + sq, c1 - sq}, {c0 - sq, c1 - sq}}
	var dst [3][2]float64
	for i := range src {
		for j := range src[i] {
			dst[i][j] = float64(float32(src[i][j] + am*(2*r.Float64()-1)))
		}
	}
	warped := warpAffine(m, affine(src, dst))
	field := func() []float64 {
		f := getFull(m.H * m.W)
		defer put(f)
		p := *r.src // in registers for the loop (see rng)
		for i := range f {
			var u uint64
			p, u = p.next()
			f[i] = 2*unit(u) - 1
		}
		*r.src = p
		out := getFull(m.H * m.W)
		if sigma > 0 { // scipy's gaussian_filter, mode reflect, truncate 3
			separable1(out, f, m.H, m.W, gaussTaps(sigma, 3), reflectHalf)
		} else {
			copy(out, f)
		}
		for i, v := range out {
			out[i] = float64(float32(v * alpha))
		}
		return out
	}
	dx := field()
	dy := field()
	defer put(dx, dy)
	out := fullImg(m.H, m.W)
	at, f := make([]int, 4*m.W), make([]float64, 2*m.W)
	for y := 0; y < m.H; y++ {
		ys, xs := dy[y*m.W:(y+1)*m.W], dx[y*m.W:(y+1)*m.W]
		for x := range xs { // the points sampled, in place of the displacements
			ys[x] += float64(y)
			xs[x] += float64(x)
		}
		bilinearRow(at, f, warped, ys, xs, reflectHalf)
		vec.Bilinear3(out.Pix[y*m.W*3:(y+1)*m.W*3], warped.Pix, at, f)
	}
	release(warped)
	return out, nil
}

var frostFiles = []string{"frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"}

// textures caches frost textures by file or procedural index and table.
var textures sync.Map

// frostTexture returns frost texture idx (0-4) as 8-bit RGB: the
// reference's file from dir (for CIFAR reduced to a fifth, as the
// reference's cv2.resize(fx=fy=0.2)), or without dir a procedural one.
func frostTexture(dir string, idx int, t Table) (*imageio.Image, error) {
	key := fmt.Sprintf("%s\x00%d\x00%d", dir, idx, t)
	if v, ok := textures.Load(key); ok {
		return v.(*imageio.Image), nil
	}
	var tex *imageio.Image
	if dir != "" {
		path := filepath.Join(dir, frostFiles[idx])
		img, err := imageio.ReadFile(path, 0)
		if err != nil {
			return nil, fmt.Errorf("frost images: %v (the folder needs %s)", err, strings.Join(frostFiles, ", "))
		}
		tex = img
	} else {
		tex = proceduralFrost(idx)
	}
	if t == CIFAR {
		tex = preprocess.Resize(tex, int(float64(tex.W)*0.2+0.5), int(float64(tex.H)*0.2+0.5), preprocess.Bilinear)
	}
	textures.Store(key, tex)
	return tex, nil
}

// frost: a * x + b * a random crop of one of five frost textures.
func frost(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	p := pick(cfg.Table, s, [][2]float64{{1, .4}, {.8, .6}, {.7, .7}, {.65, .7}, {.6, .75}},
		[][2]float64{{1, .2}, {1, .3}, {.9, .4}, {.85, .4}, {.75, .45}})
	tex, err := frostTexture(cfg.FrostDir, r.IntN(5), cfg.Table)
	if err != nil {
		return nil, err
	}
	if tex.H < m.H || tex.W < m.W {
		return nil, fmt.Errorf("frost texture %dx%d is smaller than the %dx%d image", tex.W, tex.H, m.W, m.H)
	}
	// the reference's randint(0, fh - h) excludes its upper bound
	y0 := r.IntN(max(1, tex.H-m.H))
	x0 := r.IntN(max(1, tex.W-m.W))
	out := newImg(m.H, m.W)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			for c := 0; c < 3; c++ {
				f := float64(tex.Pix[((y0+y)*tex.W+x0+x)*3+c])
				i := (y*m.W+x)*3 + c
				out.Pix[i] = (p[0]*m.Pix[i]*255 + p[1]*f) / 255
			}
		}
	}
	return out, nil
}
