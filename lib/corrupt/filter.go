package corrupt

import (
	"math"
	"slices"

	"github.com/lk-robustness/lk/lib/vec"
)

// Img is an H x W x 3 image of float64 values, row-major, channels last,
// in [0,1] (the layout the reference code computes in).
type Img struct {
	H, W int
	Pix  []float64
	// eightBit: every value is already k/255 (an 8-bit image's), so the
	// conversion to 8 bits that ends a corruption leaves it as it is
	eightBit bool
}

// newImg is a zeroed image from the scratch pool (see release).
func newImg(h, w int) *Img { return &Img{H: h, W: w, Pix: get(h * w * 3)} }

// fullImg is newImg for a caller that writes every value before reading
// any: not zeroed (its values are an earlier image's until written).
func fullImg(h, w int) *Img { return &Img{H: h, W: w, Pix: getFull(h * w * 3)} }

func (m *Img) clone() *Img {
	c := &Img{H: m.H, W: m.W, Pix: getFull(len(m.Pix))}
	copy(c.Pix, m.Pix)
	return c
}

// release gives an image's buffer back to the scratch pool once nothing
// reads it (lk-corrupt's images after conversion to the output stream).
func release(m *Img) {
	put(m.Pix)
	m.Pix = nil
}

func (m *Img) at(y, x, c int) float64 { return m.Pix[(y*m.W+x)*3+c] }

// clip01 is min(max(v, 0), 1), NaN and -0 included, written
// out so that it inlines: it runs on every value of every corruption.
func clip01(v float64) float64 {
	switch {
	case v > 1:
		return 1
	case v > 0:
		return v
	case v != v: // NaN stays NaN, as with math.Min and math.Max
		return v
	}
	return 0
}

// levels[k] is k/255: the values of an 8-bit image.
var levels = func() (l [256]float64) {
	for k := range l {
		l[k] = float64(k) / 255
	}
	return l
}()

// quantize is math.Floor(clip01(v)*255) / 255, numpy's
// np.uint8(np.clip(x, 0, 1) * 255) back in [0, 1], by table.
func quantize(v float64) float64 {
	v = clip01(v)
	if v != v {
		return v
	}
	return levels[int(v*255)]
}

// gaussTaps are scipy.ndimage's gaussian_filter1d weights: radius
// int(truncate*sigma + 0.5), exp(-x^2/2 sigma^2) normalised to sum 1.
func gaussTaps(sigma, truncate float64) []float64 {
	r := int(truncate*sigma + 0.5)
	taps := make([]float64, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		v := vec.Exp(-0.5 * float64(i*i) / (sigma * sigma))
		taps[i+r] = v
		sum += v
	}
	for i := range taps {
		taps[i] /= sum
	}
	return taps
}

// border maps an out-of-range index into [0, n) by a border rule.
type border func(i, n int) int

// nearest replicates the edge (scipy mode 'nearest').
func nearest(i, n int) int { return min(max(i, 0), n-1) }

// reflect101 mirrors without repeating the edge (OpenCV's default,
// d c b | a b c d).
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*n - 2 - i
		}
	}
	return i
}

// plane returns channel c of m as an H x W plane padded by r on every
// side with border rule b, so that filters run without bounds checks.
// Its stride is m.W + 2r; the plane is scratch, for put when done.
func plane(m *Img, c, r int, b border) []float64 {
	return pad(m.Pix[c:], 3, m.H, m.W, r, b)
}

// pad is the h x w plane whose values are every step-th of v (a channel
// of an interleaved image, or step 1), padded by r on every side with
// border rule b, in scratch (put it back when done): its stride is w + 2r.
func pad(v []float64, step, h, w, r int, b border) []float64 {
	stride := w + 2*r
	p := getFull((h + 2*r) * stride)
	for y := -r; y < h+r; y++ {
		src := v[b(y, h)*w*step:]
		row := p[(y+r)*stride : (y+r+1)*stride]
		for x := -r; x < 0; x++ {
			row[x+r] = src[b(x, w)*step]
		}
		if step == 1 { // the interior needs no border rule
			copy(row[r:r+w], src[:w])
		} else {
			for x := 0; x < w; x++ {
				row[x+r] = src[x*step]
			}
		}
		for x := w; x < w+r; x++ {
			row[x+r] = src[b(x, w)*step]
		}
	}
	return p
}

// separable filters every channel with taps along rows then columns
// (correlation, centred taps), with border rule b. It works a channel at
// a time on planar rows: each source row padded once, the row-filtered
// plane padded vertically by copying rows, and the column pass adding
// whole rows, so inner loops run over contiguous memory (vec's kernels).
// Symmetric taps (all of lk's) are folded, halving the multiplications.
func separable(m *Img, taps []float64, b border) *Img {
	// the channels as planes, filtered, then interleaved again: one pass
	// each way instead of strided reads and writes in every row of each
	n := m.H * m.W
	in, res := getFull(3*n), getFull(3*n)
	defer put(in, res)
	for i := 0; i < n; i++ {
		p := m.Pix[3*i : 3*i+3 : 3*i+3]
		in[i], in[n+i], in[2*n+i] = p[0], p[1], p[2]
	}
	for c := 0; c < 3; c++ {
		separable1(res[c*n:(c+1)*n], in[c*n:(c+1)*n], m.H, m.W, taps, b)
	}
	out := fullImg(m.H, m.W)
	for i := 0; i < n; i++ {
		q := out.Pix[3*i : 3*i+3 : 3*i+3]
		q[0], q[1], q[2] = res[i], res[n+i], res[2*n+i]
	}
	return out
}

// separable1 filters one H x W plane, src into dst.
func separable1(dst, src []float64, h, w int, taps []float64, b border) {
	r := len(taps) / 2
	sym := true
	for k := range taps {
		sym = sym && taps[k] == taps[len(taps)-1-k]
	}
	// every value of these is written before it is read: unzeroed scratch
	row := getFull(w + 2*r)
	tmp := getFull((h + 2*r) * w) // row-filtered plane, r rows of padding above and below
	defer put(row, tmp)
	for y := 0; y < h; y++ {
		s := src[y*w : (y+1)*w]
		for x := -r; x < 0; x++ {
			row[x+r] = s[b(x, w)]
		}
		copy(row[r:r+w], s)
		for x := w; x < w+r; x++ {
			row[x+r] = s[b(x, w)]
		}
		d := tmp[(y+r)*w : (y+r+1)*w]
		if sym {
			vec.SymmetricRow(d, row, taps)
			continue
		}
		for x := range d {
			var s float64
			for k, t := range row[x : x+len(taps)] {
				s += taps[k] * t
			}
			d[x] = s
		}
	}
	for y := -r; y < 0; y++ {
		copy(tmp[(y+r)*w:(y+r+1)*w], tmp[(b(y, h)+r)*w:(b(y, h)+r+1)*w])
	}
	for y := h; y < h+r; y++ {
		copy(tmp[(y+r)*w:(y+r+1)*w], tmp[(b(y, h)+r)*w:(b(y, h)+r+1)*w])
	}
	// the vertical pass: the taps over rows w apart, in tap order (the
	// offsets made once: a buffer per row went to the heap, 448 an image
	// in elastic)
	cols := make([]int, len(taps))
	for k := range cols {
		cols[k] = k * w
	}
	for y := 0; y < h; y++ {
		vec.Taps(dst[y*w:(y+1)*w], tmp[y*w:], cols, taps)
	}
}

// gaussian is skimage's gaussian(img, sigma, multichannel=True): scipy's
// gaussian_filter per channel, mode nearest, truncate 4.
func gaussian(m *Img, sigma float64) *Img {
	if sigma == 0 {
		return m.clone()
	}
	return separable(m, gaussTaps(sigma, 4), nearest)
}

// gaussianPlane is gaussian on one H x W plane.
func gaussianPlane(dst, src []float64, h, w int, sigma float64) {
	if sigma == 0 {
		copy(dst, src)
		return
	}
	separable1(dst, src, h, w, gaussTaps(sigma, 4), nearest)
}

// disk is the reference's defocus kernel: a disk of the given radius on
// a 17x17 grid (larger radii: (2r+1)^2), normalised, then smoothed by
// OpenCV's GaussianBlur with a 3x3 (radius above 8: 5x5) kernel of
// sigma alias, border REFLECT_101. The reference builds it in float32,
// and so does this: the last bits decide 8-bit levels of the result.
func disk(radius, alias float64) (k []float64, size int) {
	var half int
	ks := 3
	if radius <= 8 {
		half = 8
	} else {
		half = int(radius)
		ks = 5
	}
	size = 2*half + 1
	mask := make([]float32, size*size)
	var sum float32
	for y := -half; y <= half; y++ {
		for x := -half; x <= half; x++ {
			if float64(x*x+y*y) <= radius*radius {
				mask[(y+half)*size+x+half] = 1
				sum++
			}
		}
	}
	for i := range mask {
		mask[i] /= sum
	}
	// OpenCV's Gaussian taps for ksize and sigma: exp(-i^2/2s^2)
	// normalised in double, then float32
	r := ks / 2
	dt := make([]float64, ks)
	var ts float64
	for i := -r; i <= r; i++ {
		dt[i+r] = vec.Exp(-float64(i*i) / (2 * alias * alias))
		ts += dt[i+r]
	}
	taps := make([]float32, ks)
	for i := range taps {
		taps[i] = float32(dt[i] / ts)
	}
	tmp := make([]float32, len(mask))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var s float32
			for j, t := range taps {
				s += t * mask[y*size+reflect101(x+j-r, size)]
			}
			tmp[y*size+x] = s
		}
	}
	k = make([]float64, len(mask))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var s float32
			for j, t := range taps {
				s += t * tmp[reflect101(y+j-r, size)*size+x]
			}
			k[y*size+x] = float64(s)
		}
	}
	return k, size
}

// filter2D is OpenCV's filter2D on each channel: correlation with the
// kernel centred, border REFLECT_101. Zero taps (most of a small disk's
// 17x17 grid) are skipped; the rest are summed directly, a row of outputs
// at a time, taps of one weight added before their weight multiplies them
// (vec.GroupTaps: defocus's disk at severity 3 has 169 taps and 17
// weights). OpenCV switches to a DFT for kernels of 11x11 and more, and
// so did lk until the direct sums were vectorised: they cost less at every
// defocus severity (61 to 429 non-zero taps) and gave the same 8-bit values
// on every photo fixture (docs/tools/lk-corrupt.md).
func filter2D(m *Img, k []float64, size int) *Img {
	r := size / 2
	out := fullImg(m.H, m.W)
	row := make([]float64, m.W)
	stride := m.W + 2*r
	// the non-zero taps, grouped by weight (in order of first appearance)
	type tap struct {
		w   float64
		off []int
	}
	var taps []tap
	for j := 0; j < size; j++ {
		for i := 0; i < size; i++ {
			v := k[j*size+i]
			if v == 0 {
				continue
			}
			g := slices.IndexFunc(taps, func(t tap) bool { return t.w == v })
			if g < 0 {
				g = len(taps)
				taps = append(taps, tap{w: v})
			}
			taps[g].off = append(taps[g].off, j*stride+i)
		}
	}
	var off, ends []int
	var w []float64
	for _, t := range taps {
		off = append(off, t.off...)
		ends, w = append(ends, len(off)), append(w, t.w)
	}
	for c := 0; c < 3; c++ {
		p := plane(m, c, r, reflect101)
		for y := 0; y < m.H; y++ {
			vec.GroupTaps(row, p[y*stride:], off, ends, w)
			for x, v := range row {
				out.Pix[(y*m.W+x)*3+c] = v
			}
		}
		put(p)
	}
	return out
}

// clippedZoom is the reference's clipped_zoom of a square image: the
// central ceil(h/z) square, zoomed by z with scipy.ndimage.zoom order 1
// (corners aligned, output side round(ch*z)), then the central h x h.
func clippedZoom(m *Img, z float64) *Img {
	res := fullImg(m.H, m.H)
	zoomInto(res.Pix, m, z, false)
	return res
}

// zoomInto writes clippedZoom(m, z) into dst, or adds it (zoom blur's
// sum) with add. A column's source columns and weight, and a row's, are
// found once; every value is the same expression as one pixel at a time.
func zoomInto(dst []float64, m *Img, z float64, add bool) {
	h := m.H
	ch := int(math.Ceil(float64(h) / z))
	top := (h - ch) / 2
	out := int(math.Round(float64(ch) * z))
	trim := (out - h) / 2
	scale := 0.0
	if out > 1 {
		scale = float64(ch-1) / float64(out-1)
	}
	x0s, x1s, fxs := make([]int, h), make([]int, h), make([]float64, h)
	for ox := 0; ox < h; ox++ {
		sx := float64(ox+trim) * scale
		x0 := int(math.Floor(sx))
		x0s[ox], x1s[ox], fxs[ox] = (top+x0)*3, (top+min(x0+1, ch-1))*3, sx-float64(x0)
	}
	for oy := 0; oy < h; oy++ {
		sy := float64(oy+trim) * scale
		y0 := int(math.Floor(sy))
		fy := sy - float64(y0)
		y1 := min(y0+1, ch-1)
		r0, r1 := m.Pix[(top+y0)*m.W*3:(top+y0+1)*m.W*3], m.Pix[(top+y1)*m.W*3:(top+y1+1)*m.W*3]
		d := dst[oy*h*3 : (oy+1)*h*3]
		for ox := 0; ox < h; ox++ {
			fx, a, b := fxs[ox], x0s[ox], x1s[ox]
			for c := 0; c < 3; c++ {
				v := (1-fy)*((1-fx)*r0[a+c]+fx*r0[b+c]) + fy*((1-fx)*r1[a+c]+fx*r1[b+c])
				if add {
					d[ox*3+c] += v
				} else {
					d[ox*3+c] = v
				}
			}
		}
	}
}

// rgb2hsv and hsv2rgb follow skimage: V = max, S = (max-min)/max, H in [0,1).
func rgb2hsv(r, g, b float64) (h, s, v float64) {
	mx := max(r, max(g, b))
	mn := min(r, min(g, b))
	v = mx
	d := mx - mn
	if mx != 0 {
		s = d / mx
	}
	if d == 0 {
		return 0, s, v
	}
	switch {
	case r == mx:
		h = (g - b) / d
	case g == mx:
		h = 2 + (b-r)/d
	default:
		h = 4 + (r-g)/d
	}
	h = math.Mod(h/6, 1)
	if h < 0 {
		h++
	}
	return h, s, v
}

func hsv2rgb(h, s, v float64) (r, g, b float64) {
	i := math.Floor(h * 6)
	f := h*6 - i
	p := v * (1 - s)
	q := v * (1 - f*s)
	t := v * (1 - (1-f)*s)
	switch int(i) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

// reflectHalf mirrors with the edge repeated (scipy mode 'reflect',
// d c b a | a b c d).
func reflectHalf(i, n int) int {
	for i < 0 || i >= n {
		if i < 0 {
			i = -i - 1
		}
		if i >= n {
			i = 2*n - 1 - i
		}
	}
	return i
}

// bilinearRow finds where bilinear sampling of m at the points (ys[x],
// xs[x]) reads, with border rule b: for each point the four neighbours'
// offsets into m.Pix (at[4x:4x+4]) and the weights down and across
// (f[2x:2x+2]), for vec.Bilinear3, which computes each channel as
// (1-fy)((1-fx) v00 + fx v01) + fy((1-fx) v10 + fx v11). A row at a
// time: the border rule is called only for points near the edge. Where
// the vector build sets bilinearRowVec, it runs instead (the same
// offsets and weights: TestBilinearRowVector).
func bilinearRow(at []int, f []float64, m *Img, ys, xs []float64, b border) {
	if bilinearRowVec != nil {
		bilinearRowVec(at, f, m, ys, xs, b)
		return
	}
	bilinearRowScalar(at, f, m, ys, xs, b)
}

var bilinearRowVec func(at []int, f []float64, m *Img, ys, xs []float64, b border)

func bilinearRowScalar(at []int, f []float64, m *Img, ys, xs []float64, b border) {
	for x, xv := range xs {
		y := ys[x]
		y0, x0 := math.Floor(y), math.Floor(xv)
		iy, ix := int(y0), int(x0)
		r0, r1, c0, c1 := iy*m.W, (iy+1)*m.W, ix, ix+1
		if iy < 0 || iy+1 >= m.H || ix < 0 || ix+1 >= m.W { // inside, every border rule is the identity
			r0, r1 = b(iy, m.H)*m.W, b(iy+1, m.H)*m.W
			c0, c1 = b(ix, m.W), b(ix+1, m.W)
		}
		a := at[4*x : 4*x+4 : 4*x+4]
		a[0], a[1], a[2], a[3] = (r0+c0)*3, (r0+c1)*3, (r1+c0)*3, (r1+c1)*3
		w := f[2*x : 2*x+2 : 2*x+2]
		w[0], w[1] = y-y0, xv-x0
	}
}

// warpRow sets sx and sy to where output row y samples the source under
// the inverse map c = [a b c; d e f]: (a x + b y + c, d x + e y + f),
// each product and sum rounded in that order, quantised to 1/32 (half
// away from zero, math.Round). The vector build's warpRowVec, where it
// runs, gives the same points (TestWarpRowVector).
func warpRow(sx, sy []float64, c *[6]float64, y int) {
	if warpRowVec != nil {
		warpRowVec(sx, sy, c, y)
		return
	}
	warpRowScalar(sx, sy, c, y, 0)
}

var warpRowVec func(sx, sy []float64, c *[6]float64, y int)

// warpRowScalar is warpRow for the points from x = from on.
func warpRowScalar(sx, sy []float64, c *[6]float64, y, from int) {
	for x := from; x < len(sx); x++ {
		sx[x] = math.Round(float64(float64(c[0]*float64(x))+float64(c[1]*float64(y))+c[2])*32) / 32
		sy[x] = math.Round(float64(float64(c[3]*float64(x))+float64(c[4]*float64(y))+c[5])*32) / 32
	}
}

// affine solves for the 2x3 matrix mapping the three points src to dst
// (OpenCV's getAffineTransform); points are (x, y).
func affine(src, dst [3][2]float64) [6]float64 {
	// rows: [x y 1] . [a b c] = dst.x, [x y 1] . [d e f] = dst.y
	det := src[0][0]*(src[1][1]-src[2][1]) - src[0][1]*(src[1][0]-src[2][0]) + (src[1][0]*src[2][1] - src[2][0]*src[1][1])
	solve := func(v [3]float64) (a, b, c float64) {
		a = (v[0]*(src[1][1]-src[2][1]) - src[0][1]*(v[1]-v[2]) + (v[1]*src[2][1] - v[2]*src[1][1])) / det
		b = (src[0][0]*(v[1]-v[2]) - v[0]*(src[1][0]-src[2][0]) + (src[1][0]*v[2] - src[2][0]*v[1])) / det
		c = (src[0][0]*(src[1][1]*v[2]-src[2][1]*v[1]) - src[0][1]*(src[1][0]*v[2]-src[2][0]*v[1]) + v[0]*(src[1][0]*src[2][1]-src[2][0]*src[1][1])) / det
		return
	}
	a, b, c := solve([3]float64{dst[0][0], dst[1][0], dst[2][0]})
	d, e, f := solve([3]float64{dst[0][1], dst[1][1], dst[2][1]})
	return [6]float64{a, b, c, d, e, f}
}

// warpAffine is OpenCV's warpAffine with bilinear interpolation and
// REFLECT_101 border: each output pixel samples the source at the inverse
// map of its position, quantised to 1/32 pixel as OpenCV's fixed point.
func warpAffine(m *Img, M [6]float64) *Img {
	// inverse of [a b c; d e f]
	det := M[0]*M[4] - M[1]*M[3]
	ia, ib, id, ie := M[4]/det, -M[1]/det, -M[3]/det, M[0]/det
	ic := -(ia*M[2] + ib*M[5])
	iff := -(id*M[2] + ie*M[5])
	out := fullImg(m.H, m.W)
	at, f := make([]int, 4*m.W), make([]float64, 2*m.W)
	sy, sx := make([]float64, m.W), make([]float64, m.W)
	inv := [6]float64{ia, ib, ic, id, ie, iff}
	for y := 0; y < m.H; y++ {
		warpRow(sx, sy, &inv, y)
		bilinearRow(at, f, m, sy, sx, reflect101)
		vec.Bilinear3(out.Pix[y*m.W*3:(y+1)*m.W*3], m.Pix, at, f)
	}
	return out
}
