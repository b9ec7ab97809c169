// Package render makes the deterministic image variants of the embedded
// twins of ImageNet-R and ImageNet-9: renditions of an image (edge
// drawings, silhouettes, inverted and posterised images: the same object
// in a different style) and background swaps (the object kept, its
// surroundings taken from another image of the same or of a random class).
//
// Images are CHW float32 in [0,1]. The object is told from its background
// by the border: a pixel is foreground when some channel differs from the
// median of the image's border pixels by more than Threshold. That suits
// centred objects on plain backgrounds (Fashion-MNIST, product photos);
// ImageNet-9's own masks come from bounding boxes and are read with
// lk-data instead.
package render

import (
	"fmt"
	"math"
	"slices"

	"github.com/lk-robustness/lk/lib/stream"
)

// Threshold is the per-channel distance from the border's median colour
// above which a pixel belongs to the object.
const Threshold = 0.1

// Renditions lists the rendition styles, in a fixed order.
var Renditions = []string{"edges", "silhouette", "invert", "posterize"}

// Variants lists the ImageNet-9 background variants Backgrounds makes.
var Variants = []string{"original", "only_fg", "mixed_same", "mixed_rand"}

// Mask marks the object's pixels (H*W) of the CHW image px.
func Mask(px []float32, sh stream.Shape) []bool {
	hw := sh.H * sh.W
	bg := make([]float32, sh.C)
	border := make([]float32, 0, 2*(sh.H+sh.W))
	for c := 0; c < sh.C; c++ {
		border = border[:0]
		ch := px[c*hw : (c+1)*hw]
		for x := 0; x < sh.W; x++ {
			border = append(border, ch[x], ch[(sh.H-1)*sh.W+x])
		}
		for y := 1; y < sh.H-1; y++ {
			border = append(border, ch[y*sh.W], ch[y*sh.W+sh.W-1])
		}
		slices.Sort(border)
		bg[c] = border[len(border)/2]
	}
	m := make([]bool, hw)
	for c := 0; c < sh.C; c++ {
		for i, v := range px[c*hw : (c+1)*hw] {
			if math.Abs(float64(v-bg[c])) > Threshold {
				m[i] = true
			}
		}
	}
	return m
}

// Render writes the rendition style of src to dst (both CHW of shape sh).
func Render(style string, dst, src []float32, sh stream.Shape) error {
	hw := sh.H * sh.W
	switch style {
	case "invert":
		for i, v := range src {
			dst[i] = 1 - v
		}
	case "posterize": // four levels per channel, as a flat-shaded drawing
		for i, v := range src {
			dst[i] = float32(math.Round(float64(v)*3) / 3)
		}
	case "silhouette": // a black object on white
		for i, fg := range Mask(src, sh) {
			v := float32(1)
			if fg {
				v = 0
			}
			for c := 0; c < sh.C; c++ {
				dst[c*hw+i] = v
			}
		}
	case "edges": // dark Sobel edges of the luminance on white
		g := edges(luma(src, sh), sh.H, sh.W)
		top := float32(0)
		for _, v := range g {
			top = max(top, v)
		}
		for i, v := range g {
			e := float32(1)
			if top > 0 {
				e = 1 - v/top
			}
			for c := 0; c < sh.C; c++ {
				dst[c*hw+i] = e
			}
		}
	default:
		return fmt.Errorf("rendition %q: want one of %v", style, Renditions)
	}
	return nil
}

// luma is ITU-R 601 luminance (the channel itself for grey images).
func luma(px []float32, sh stream.Shape) []float32 {
	hw := sh.H * sh.W
	if sh.C < 3 {
		return px[:hw]
	}
	y := make([]float32, hw)
	for i := range y {
		y[i] = 0.299*px[i] + 0.587*px[hw+i] + 0.114*px[2*hw+i]
	}
	return y
}

// edges is the Sobel gradient magnitude, borders replicated.
func edges(y []float32, h, w int) []float32 {
	at := func(r, c int) float32 {
		return y[min(max(r, 0), h-1)*w+min(max(c, 0), w-1)]
	}
	g := make([]float32, h*w)
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			gx := at(r-1, c+1) + 2*at(r, c+1) + at(r+1, c+1) - at(r-1, c-1) - 2*at(r, c-1) - at(r+1, c-1)
			gy := at(r+1, c-1) + 2*at(r+1, c) + at(r+1, c+1) - at(r-1, c-1) - 2*at(r-1, c) - at(r-1, c+1)
			g[r*w+c] = float32(math.Hypot(float64(gx), float64(gy)))
		}
	}
	return g
}

// Compose writes fg's object (mask) over bg to dst; a nil bg is black, as
// ImageNet-9's only_fg.
func Compose(dst, fg, bg []float32, mask []bool, sh stream.Shape) {
	hw := sh.H * sh.W
	for c := 0; c < sh.C; c++ {
		for i, m := range mask {
			switch {
			case m:
				dst[c*hw+i] = fg[c*hw+i]
			case bg == nil:
				dst[c*hw+i] = 0
			default:
				dst[c*hw+i] = bg[c*hw+i]
			}
		}
	}
}

// Donor picks, for image i of a set with these labels, the image whose
// background it gets: for mixed_same another image of its class, for
// mixed_rand an image of a class drawn uniformly from all classes present
// (its own included, as ImageNet-9's Mixed-Rand), never i itself. The draw
// depends only on seed, the image's id and the variant. It returns -1 when
// no other image qualifies.
func Donor(variant string, i int, ids []string, labels []int32, byClass map[int32][]int, classes []int32, seed uint64) int {
	h := hash(seed, ids[i], variant)
	pool := byClass[labels[i]]
	if variant == "mixed_rand" {
		pool = byClass[classes[h%uint64(len(classes))]]
		h = hash(h, ids[i], "image")
	}
	if len(pool) == 0 || len(pool) == 1 && pool[0] == i {
		return -1
	}
	for {
		j := pool[h%uint64(len(pool))]
		if j != i {
			return j
		}
		h = hash(h, ids[i], "again")
	}
}

// TextureDonor picks, for image i, the image whose texture fills its
// silhouette in a cue-conflict image: a class drawn uniformly from the
// classes present other than i's, then an image of it; the draw depends
// only on seed and the image's id. It returns -1 when no other class is
// present.
func TextureDonor(i int, ids []string, labels []int32, byClass map[int32][]int, classes []int32, seed uint64) int {
	var others []int32
	for _, c := range classes {
		if c != labels[i] {
			others = append(others, c)
		}
	}
	if len(others) == 0 {
		return -1
	}
	h := hash(seed, ids[i], "cue_conflict")
	pool := byClass[others[h%uint64(len(others))]]
	return pool[hash(h, ids[i], "image")%uint64(len(pool))]
}

// CueConflict writes to dst the silhouette shape (a mask) filled with the
// texture of the image tex: the middle half of tex's object (its mask's
// bounding box, at least 2 pixels a side) tiled over the image, mirrored
// at every repeat so that no seam makes an edge; outside the silhouette
// black. The object's outline comes from one image, every pattern inside
// it from another (Geirhos et al.'s cue conflict, without style transfer).
func CueConflict(dst []float32, shape []bool, tex []float32, texMask []bool, sh stream.Shape) {
	y0, y1, x0, x1 := sh.H, -1, sh.W, -1
	for i, m := range texMask {
		if m {
			y, x := i/sh.W, i%sh.W
			y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
		}
	}
	if y1 < 0 { // no object: the whole image is the texture
		y0, y1, x0, x1 = 0, sh.H-1, 0, sh.W-1
	}
	inner := func(lo, hi, n int) (int, int) {
		l := hi - lo + 1
		a, b := lo+l/4, hi-l/4
		if b <= a { // too small: two pixels from lo
			a = max(0, min(lo, n-2))
			b = a + 1
		}
		return a, b
	}
	ty0, ty1 := inner(y0, y1, sh.H)
	tx0, tx1 := inner(x0, x1, sh.W)
	mirror := func(v, a, b int) int { // v's position in [a, b], reflected at each end
		n := b - a + 1
		p := v % (2 * n)
		if p >= n {
			p = 2*n - 1 - p
		}
		return a + p
	}
	hw := sh.H * sh.W
	for c := 0; c < sh.C; c++ {
		for y := 0; y < sh.H; y++ {
			for x := 0; x < sh.W; x++ {
				i := y*sh.W + x
				if !shape[i] {
					dst[c*hw+i] = 0
					continue
				}
				dst[c*hw+i] = tex[c*hw+mirror(y, ty0, ty1)*sh.W+mirror(x, tx0, tx1)]
			}
		}
	}
}

// hash is FNV-1a over the seed and strings, then a splitmix64 finaliser.
func hash(seed uint64, parts ...string) uint64 {
	h := uint64(14695981039346656037) ^ seed
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}
