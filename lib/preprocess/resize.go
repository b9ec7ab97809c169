// Package preprocess is lk's one preprocessing path: resize the shorter
// side, centre-crop, pad, and convert 8-bit pixels to float32 CHW in [0,1],
// as torchvision's Resize / CenterCrop / ToTensor do on a Pillow image.
//
// Resizing reproduces Pillow's ImagingResample for 8-bit images: a
// separable filter whose support widens with the scale factor (the
// antialiasing), coefficients in 22-bit fixed point, a horizontal pass then a
// vertical one, each rounded and clipped to 8 bits. On the same decoded
// pixels the output equals Pillow's.
package preprocess

import (
	"fmt"
	"math"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/vec"
)

// Filter is a resampling kernel.
type Filter struct {
	Name    string
	Support float64
	Kernel  func(x float64) float64
}

// Bilinear and Bicubic are Pillow's BILINEAR and BICUBIC (a = -0.5).
var (
	Bilinear = Filter{"bilinear", 1, func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}}
	Bicubic = Filter{"bicubic", 2, func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}}
)

// Box is Pillow's BOX: each output pixel the mean of the input pixels
// its footprint covers (ImageNet-C's pixelate).
var Box = Filter{"box", 0.5, func(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}}

// FilterByName returns bilinear or bicubic.
func FilterByName(name string) (Filter, error) {
	switch name {
	case "bilinear":
		return Bilinear, nil
	case "bicubic":
		return Bicubic, nil
	}
	return Filter{}, fmt.Errorf("interpolation %q: want bilinear or bicubic", name)
}

const precisionBits = 32 - 8 - 2

// coeffs are the fixed-point filter taps of one resampling pass.
type coeffs struct {
	ksize  int
	bounds []int // per output pixel: first input index, count
	k      []int32
	// copies: every output pixel is one input pixel at full weight (a box
	// enlarging, as pixelate's second resize): EnlargeIndex's gather gives
	// the same bytes as the sums, since (p<<22 + half)>>22 is p.
	copies bool
}

func precompute(inSize, outSize int, f Filter) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := math.Max(scale, 1)
	support := f.Support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5) // truncation, as the C cast
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = f.Kernel((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				c.k[xx*ksize+x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				c.k[xx*ksize+x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		// taps of weight zero add nothing: left out, the sums are the same
		k := c.k[xx*ksize : xx*ksize+xmax]
		lead := 0
		for lead < len(k) && k[lead] == 0 {
			lead++
		}
		k = k[lead:]
		for len(k) > 0 && k[len(k)-1] == 0 {
			k = k[:len(k)-1]
		}
		copy(c.k[xx*ksize:], k)
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin+lead, len(k)
	}
	c.copies = true
	for xx := 0; xx < outSize; xx++ {
		if c.bounds[2*xx+1] != 1 || c.k[xx*ksize] != 1<<precisionBits {
			c.copies = false
			break
		}
	}
	return c
}

// rgbTaps are the pass's taps for vec.ResampleRGB.
func (c coeffs) rgbTaps() *vec.RGBTaps {
	m := len(c.bounds) / 2
	from, k := make([]int, m), make([][]int32, m)
	for j := range m {
		from[j] = c.bounds[2*j]
		k[j] = c.k[j*c.ksize : j*c.ksize+c.bounds[2*j+1]]
	}
	return vec.NewRGBTaps(from, k, precisionBits)
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// horizontal is the horizontal pass for any channel count, outputs x0...
func horizontal(o, in []uint8, c coeffs, ch, x0 int) {
	for j := 0; j < len(o)/ch; j++ {
		xx := x0 + j
		xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
		k := c.k[xx*c.ksize : xx*c.ksize+n]
		for b := 0; b < ch; b++ {
			ss := int32(1 << (precisionBits - 1))
			for x, kv := range k {
				ss += int32(in[(xmin+x)*ch+b]) * kv
			}
			o[j*ch+b] = clip8(ss)
		}
	}
}

// EnlargeIndex is, for resizing n pixels to m along one axis with filter
// f, the input pixel each output pixel is a copy of, when every output is
// one input pixel at full weight (a box filter enlarging: pixelate's
// second resize); nil otherwise. A caller can then gather instead of
// resizing, with the same bytes.
func EnlargeIndex(n, m int, f Filter) []int {
	c := precompute(n, m, f)
	if !c.copies {
		return nil
	}
	idx := make([]int, m)
	for i := range idx {
		idx[i] = c.bounds[2*i]
	}
	return idx
}

// Resize resamples img to w x h with filter f, exactly as Pillow's
// Image.resize does for 8-bit images.
func Resize(img *imageio.Image, w, h int, f Filter) *imageio.Image {
	if w == img.W && h == img.H {
		return img
	}
	return resizeWindow(img, w, h, f, 0, 0, w, h)
}

// resizeWindow is the cw x ch window at (x0, y0) of Resize(img, w, h, f),
// computing only what the window needs: its columns of the horizontal
// pass, on the input rows its vertical taps read, and its rows of the
// vertical pass. Every output pixel is its own sum of its own taps, so the
// window's pixels equal those of the whole resized image.
func resizeWindow(img *imageio.Image, w, h int, f Filter, x0, y0, cw, chh int) *imageio.Image {
	ch := img.C
	if cw <= 0 || chh <= 0 {
		return &imageio.Image{W: max(cw, 0), H: max(chh, 0), C: ch}
	}
	// the input rows the window's vertical taps read
	r0, r1 := y0, y0+chh
	var cv coeffs
	if h != img.H {
		cv = precompute(img.H, h, f)
		r0, r1 = cv.bounds[2*y0], 0
		for yy := y0; yy < y0+chh; yy++ {
			r0 = min(r0, cv.bounds[2*yy])
			r1 = max(r1, cv.bounds[2*yy]+cv.bounds[2*yy+1])
		}
	}
	// horizontal pass (or the window's columns as they are) on rows r0..r1-1
	cur := &imageio.Image{W: cw, H: r1 - r0, C: ch, Pix: make([]uint8, cw*(r1-r0)*ch)}
	var chz coeffs
	var rgb *vec.RGBTaps // RGB rows: the three channels of a pixel summed together
	if w != img.W {
		chz = precompute(img.W, w, f)
		if ch == 3 {
			rgb = chz.rgbTaps()
		}
	}
	for y := r0; y < r1; y++ {
		o := cur.Pix[(y-r0)*cw*ch : (y-r0+1)*cw*ch]
		in := img.Pix[y*img.W*ch : (y+1)*img.W*ch]
		switch {
		case w == img.W:
			copy(o, in[x0*ch:(x0+cw)*ch])
		case rgb != nil:
			vec.ResampleRGB(o, in, rgb, x0)
		default:
			horizontal(o, in, chz, ch, x0)
		}
	}
	if h == img.H {
		return cur
	}
	out := &imageio.Image{W: cw, H: chh, C: ch, Pix: make([]uint8, cw*chh*ch)}
	stride := cw * ch
	acc := make([]int32, stride)
	for yy := y0; yy < y0+chh; yy++ {
		ymin, n := cv.bounds[2*yy], cv.bounds[2*yy+1]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, kv := range cv.k[yy*cv.ksize : yy*cv.ksize+n] {
			vec.MulAddBytes(acc, cur.Pix[(ymin-r0+y)*stride:(ymin-r0+y+1)*stride], kv)
		}
		vec.ShiftClip(out.Pix[(yy-y0)*stride:(yy-y0+1)*stride], acc, precisionBits)
	}
	return out
}
