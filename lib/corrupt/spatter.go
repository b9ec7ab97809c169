package corrupt

import (
	"math"

	"github.com/lk-robustness/lk/lib/vec"
)

// plane8 is a one-channel H x W image of 8-bit values held as float64
// (OpenCV's CV_8U steps of spatter) or of floats (CV_32F steps).
type plane8 struct {
	h, w int
	v    []float64
}

func (p plane8) at(y, x int) float64 { return p.v[y*p.w+x] }

// padded is p with a border of r by rule b (pad), stride p.w + 2r: 3x3
// filters then read every neighbour without tests.
func (p plane8) padded(r int, b border) []float64 { return pad(p.v, 1, p.h, p.w, r, b) }

// filter3 sets out's rows to the sums over a 3x3 neighbourhood of the
// padded plane pp (stride w+2) of w[k] * value, taps in row-major order
// (k = 3*row + column) with zero weights left out. With whole-number
// weights and 8-bit values every sum is exact.
func filter3(out, pp []float64, h, w int, wts [9]float64) {
	pw := w + 2
	var off []int
	var ws []float64
	for k, v := range wts {
		if v != 0 {
			off, ws = append(off, k/3*pw+k%3), append(ws, v)
		}
	}
	for y := 0; y < h; y++ {
		vec.Taps(out[y*w:(y+1)*w], pp[y*pw:], off, ws)
	}
}

// canny is OpenCV's Canny on an 8-bit plane with aperture 3 and the L1
// gradient: Sobel with replicated borders, non-maximum suppression along
// the gradient's quantised direction, hysteresis between low and high
// over 8-connected neighbours. Edges are 255.
func canny(p plane8, low, high float64) plane8 {
	h, w := p.h, p.w
	// Sobel on the plane with a replicated border of one: sums of small
	// integers, exact in any order
	pw := w + 2
	pp := p.padded(1, nearest)
	dx, dy := getFull(h*w), getFull(h*w)
	filter3(dx, pp, h, w, [9]float64{-1, 0, 1, -2, 0, 2, -1, 0, 1})
	filter3(dy, pp, h, w, [9]float64{-1, -2, -1, 0, 0, 0, 1, 2, 1})
	// mag with a border of one at 0: the suppression's neighbours outside
	// the image are 0
	mag := get((h + 2) * pw)
	defer put(pp, dx, dy, mag)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			mag[(y+1)*pw+x+1] = math.Abs(dx[y*w+x]) + math.Abs(dy[y*w+x])
		}
	}
	m := func(y, x int) float64 { return mag[(y+1)*pw+x+1] }
	const tg22 = 0.41421356237309503 // tan(22.5 degrees)
	const tg67 = 2.414213562373095   // tan(67.5 degrees)
	state := make([]uint8, h*w)      // 0 none, 1 weak, 2 strong
	var stack []int
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			v := m(y, x)
			if v <= low {
				continue
			}
			ax, ay := math.Abs(dx[i]), math.Abs(dy[i])
			var keep bool
			switch {
			case ay < ax*tg22: // horizontal gradient: compare left and right
				keep = v > m(y, x-1) && v >= m(y, x+1)
			case ay > ax*tg67: // vertical
				keep = v > m(y-1, x) && v >= m(y+1, x)
			default:
				s := 1
				if (dx[i] < 0) != (dy[i] < 0) {
					s = -1
				}
				keep = v > m(y-1, x-s) && v > m(y+1, x+s)
			}
			if !keep {
				continue
			}
			if v > high {
				state[i] = 2
				stack = append(stack, i)
			} else {
				state[i] = 1
			}
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		y, x := i/w, i%w
		for yy := max(y-1, 0); yy <= min(y+1, h-1); yy++ {
			for xx := max(x-1, 0); xx <= min(x+1, w-1); xx++ {
				if j := yy*w + xx; state[j] == 1 {
					state[j] = 2
					stack = append(stack, j)
				}
			}
		}
	}
	out := plane8{h, w, getFull(h * w)}
	edge := [4]float64{0, 0, 255, 0} // by state: weak and none are not edges
	for i, s := range state {
		out.v[i] = edge[s&3]
	}
	return out
}

// distanceTransform is OpenCV's DIST_L2 with a 5x5 mask: the chamfer
// distance (1, 1.4, 2.1969) from each non-zero pixel to the nearest zero.
func distanceTransform(p plane8) plane8 {
	const a, b, c = 1.0, 1.4, 2.1969
	const inf = 1e9
	// The map is held with a border of 2 at inf, so the masks need no
	// bounds tests; a border cell is never written.
	h, w := p.h, p.w
	pw := w + 4
	d := getFull((h + 4) * pw)
	defer put(d)
	for i := range d[:2*pw+2] { // the border: two rows above, then each row's two each side
		d[i] = inf
	}
	zeroOr := [2]float64{inf, 0}
	for y := 0; y < h; y++ {
		row := d[(y+2)*pw+2 : (y+3)*pw+2] // the row and the border after it
		for x, v := range p.v[y*w : y*w+w] {
			var z int
			if v == 0 {
				z = 1
			}
			row[x] = zeroOr[z]
		}
		row[w], row[w+1], row[w+2], row[w+3] = inf, inf, inf, inf
	}
	for i := range d[(h+2)*pw+2:] {
		d[(h+2)*pw+2+i] = inf
	}
	// The forward mask takes four cells of the row above and of the one
	// above that ((-2,±1), (-1,-2..2)) and the cell to the left (-1,0);
	// the backward pass the same mirrored. The rows already done are
	// taken for a whole row at once (vec.MinPlus), then the cell beside,
	// left to right (right to left going back): each cell ends as the
	// minimum of the same candidates as OpenCV's, which no order changes.
	rows := [7]int{-2*pw - 1, -2*pw + 1, -pw - 2, -pw - 1, -pw, -pw + 1, -pw + 2}
	wts := []float64{c, c, c, b, a, b, c}
	var off [7]int
	for y := 0; y < h; y++ {
		start := (y+2)*pw + 2
		for k, o := range rows {
			off[k] = start + o
		}
		vec.MinPlus(d[start:start+w], d, off[:], wts)
		prev := d[start-1] // the cell beside, kept in a register
		for i := start; i < start+w; i++ {
			v := d[i]
			if t := prev + a; t < v {
				v = t
				d[i] = v
			}
			prev = v
		}
	}
	for y := h - 1; y >= 0; y-- {
		start := (y+2)*pw + 2
		for k, o := range rows {
			off[k] = start - o
		}
		vec.MinPlus(d[start:start+w], d, off[:], wts)
		prev := d[start+w]
		for i := start + w - 1; i >= start; i-- {
			v := d[i]
			if t := prev + a; t < v {
				v = t
				d[i] = v
			}
			prev = v
		}
	}
	out := getFull(h * w)
	for y := 0; y < h; y++ {
		copy(out[y*w:y*w+w], d[(y+2)*pw+2:])
	}
	return plane8{h, w, out}
}

// boxBlur3 is OpenCV's blur with a 3x3 box, border REFLECT_101; round
// gives the 8-bit result (an 8-bit input), else the float. Every pixel
// sums its nine neighbours in the same order, row by row, then divides.
func boxBlur3(p plane8, round bool) plane8 {
	out := plane8{p.h, p.w, getFull(len(p.v))}
	pp := p.padded(1, reflect101)
	defer put(pp)
	pw := p.w + 2
	off := []int{0, 1, 2, pw, pw + 1, pw + 2, 2 * pw, 2*pw + 1, 2*pw + 2}
	for y := 0; y < p.h; y++ {
		// one group of weight 1: the nine values' sum in order, times 1
		vec.GroupTaps(out.v[y*p.w:(y+1)*p.w], pp[y*pw:], off, []int{9}, []float64{1})
	}
	if !round {
		for i, s := range out.v {
			out.v[i] = s / 9
		}
		return out
	}
	for i, s := range out.v {
		// an 8-bit input's sums are whole numbers to 9*255: their rounded
		// ninths from a table of the same expression's values
		if k := int(s); float64(k) == s && k >= 0 && k < len(roundNinths) {
			out.v[i] = roundNinths[k]
		} else {
			out.v[i] = math.Round(s / 9)
		}
	}
	return out
}

var roundNinths = func() (t [9*255 + 1]float64) {
	for k := range t {
		t[k] = math.Round(float64(k) / 9)
	}
	return t
}()

// equalizeHist is OpenCV's: the cumulative histogram from the first
// occupied level, scaled to 0..255 and rounded.
func equalizeHist(p plane8) plane8 {
	var hist [256]int
	for _, v := range p.v {
		hist[int(v)]++
	}
	i0 := 0
	for hist[i0] == 0 {
		i0++
	}
	total := len(p.v)
	out := plane8{p.h, p.w, getFull(len(p.v))}
	if hist[i0] == total {
		for i := range out.v {
			out.v[i] = float64(i0)
		}
		return out
	}
	var lut [256]float64
	scale := 255.0 / float64(total-hist[i0])
	sum := 0
	for i := i0 + 1; i < 256; i++ {
		sum += hist[i]
		lut[i] = min(255, math.Round(float64(sum)*scale))
	}
	for i, v := range p.v {
		out.v[i] = lut[int(v)]
	}
	return out
}

// emboss is filter2D with [[-2,-1,0],[-1,1,1],[0,1,2]] into 8 bits
// (rounded, saturated), border REFLECT_101.
func emboss(p plane8) plane8 {
	pp := p.padded(1, reflect101)
	defer put(pp)
	out := plane8{p.h, p.w, getFull(len(p.v))}
	filter3(out.v, pp, p.h, p.w, [9]float64{-2, -1, 0, -1, 1, 1, 0, 1, 2})
	// the sums of whole weights times 8-bit values are whole numbers:
	// OpenCV's rounding leaves them, its saturation clips them
	for i, s := range out.v {
		if s < 0 {
			out.v[i] = 0
		} else if s > 255 {
			out.v[i] = 255
		}
	}
	return out
}

// spatter: a thresholded smooth random field makes either water drops
// (mode 0: their embossed, equalised edge-distance pattern in pale
// turquoise) or mud (mode 1: the field blurred, thresholded at 0.8, as
// brown paint).
func spatter(m *Img, s int, cfg Config, r *rng) (*Img, error) {
	p := pick(cfg.Table, s,
		[][6]float64{{.65, .3, 4, .69, .6, 0}, {.65, .3, 3, .68, .6, 0}, {.65, .3, 2, .68, .5, 0}, {.65, .3, 1, .65, 1.5, 1}, {.67, .4, 1, .65, 1.5, 1}},
		[][6]float64{{.62, .1, .7, .7, .5, 0}, {.65, .1, .8, .7, .5, 0}, {.65, .3, 1, .69, .5, 0}, {.65, .1, .7, .69, .6, 1}, {.65, .1, .5, .68, .6, 1}})
	loc, scale, sigma, thr, intensity, mode := p[0], p[1], p[2], p[3], p[4], p[5]
	h, w := m.H, m.W
	liq := liquid(h, w, loc, scale, sigma, thr, r)
	defer put(liq)
	if mode == 0 {
		return water(m, liq, intensity), nil
	}
	out := m.clone()
	mask, blurred := get(h*w), get(h*w)
	defer put(mask, blurred)
	for i, v := range liq {
		if v > thr {
			mask[i] = 1
		}
	}
	gaussianPlane(blurred, mask, h, w, intensity)
	color := [3]float64{63.0 / 255, 42.0 / 255, 20.0 / 255}
	for i := 0; i < h*w; i++ {
		mv := blurred[i]
		if mv < 0.8 {
			mv = 0
		}
		for c := 0; c < 3; c++ {
			out.Pix[3*i+c] = out.Pix[3*i+c]*(1-mv) + mv*color[c]
		}
	}
	return out, nil
}

// water renders spatter's water drops of a liquid layer (H x W values)
// over the image: the layer's edges (Canny) give a distance map that is
// truncated, blurred, equalised and embossed into drop rims, tinted pale
// turquoise and scaled to intensity.
func water(m *Img, liq []float64, intensity float64) *Img {
	h, w := m.H, m.W
	l8 := plane8{h, w, getFull(h * w)}
	defer put(l8.v)
	for i, v := range liq {
		l8.v[i] = float64(int(v*255) & 255) // numpy's uint8 cast wraps
	}
	edges := canny(l8, 50, 150)
	for i, v := range edges.v {
		edges.v[i] = 255 - v
	}
	dist := distanceTransform(edges)
	put(edges.v)
	for i, v := range dist.v {
		dist.v[i] = min(v, 20)
	}
	blurred := boxBlur3(dist, false)
	put(dist.v)
	for i, v := range blurred.v {
		// astype(uint8): the distances are non-negative, so truncation
		// is the floor (without math.Floor's call per value)
		blurred.v[i] = float64(int64(v))
	}
	eq := equalizeHist(blurred)
	put(blurred.v)
	em := emboss(eq)
	put(eq.v)
	rims := boxBlur3(em, true)
	put(em.v)
	defer put(rims.v)
	mk := getFull(h * w)
	defer put(mk)
	for i := range mk {
		mk[i] = float64(float32(l8.v[i] * rims.v[i]))
	}
	mx := vec.MaxFrom(0, mk)
	color := [3]float64{175.0 / 255, 238.0 / 255, 238.0 / 255}
	out := fullImg(h, w)
	for i, v := range mk {
		if mx > 0 {
			v = v / mx * intensity
		} else {
			v = 0
		}
		p, o := m.Pix[3*i:3*i+3:3*i+3], out.Pix[3*i:3*i+3:3*i+3]
		o[0], o[1], o[2] = p[0]+v*color[0], p[1]+v*color[1], p[2]+v*color[2]
	}
	return out
}

// liquid is spatter's liquid layer: N(loc, scale) per pixel, smoothed by
// a gaussian of sigma, values below thr set to 0.
func liquid(h, w int, loc, scale, sigma, thr float64, r *rng) []float64 {
	field := getFull(h * w)
	defer put(field)
	r.normals(field)
	for i, n := range field {
		field[i] = loc + scale*n
	}
	liq := getFull(h * w)
	gaussianPlane(liq, field, h, w, sigma)
	for i, v := range liq {
		if v < thr {
			liq[i] = 0
		}
	}
	return liq
}

// spatterSequence is ImageNet-P's spatter: one liquid layer, its water
// drops rendered on every frame, the layer then running down each column
// (numpy's convolve, mode same, with the reference's kernel).
func spatterSequence(m *Img, t Table, r *rng) []*Img {
	loc, scale, sigma, thr := .65, .27, 3.7, .69
	kernel := []float64{.05, .1, .15, .7}
	if t == CIFAR {
		loc, scale, sigma, thr = .6, .265, 1.75, .7
		kernel = []float64{.2, .8}
	}
	h, w := m.H, m.W
	liq := liquid(h, w, loc, scale, sigma, thr, r)
	off := (len(kernel) - 1) / 2
	frames := make([]*Img, 31)
	for k := range frames {
		frames[k] = water(m, liq, .6)
		next := make([]float64, h*w)
		for x := 0; x < w; x++ {
			for y := 0; y < h; y++ {
				var s float64
				for j, kv := range kernel { // same[y] = full[y + off] = sum_j a[y + off - j] k[j]
					if yy := y + off - j; yy >= 0 && yy < h {
						s += liq[yy*w+x] * kv
					}
				}
				next[y*w+x] = s
			}
		}
		liq = next
	}
	return frames
}
