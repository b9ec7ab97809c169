package preprocess

import (
	"fmt"
	"math"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/stream"
)

// Spec is a preprocessing recipe: torchvision's
// Resize(Resize, Filter) -> CenterCrop(CropH, CropW) -> ToTensor, with an
// optional grey-to-three-channel copy. Zero Resize or Crop skips that step.
type Spec struct {
	Resize       int // target length of the shorter side
	CropH, CropW int
	Filter       Filter
	Gray3        bool // copy a single grey channel to three
	// Trim cuts this many pixels off every side before resizing
	// (ObjectNet's 1-pixel border, which its authors' evaluation removes).
	Trim int
}

// ResizedSize is torchvision's output size for Resize(size) on a w x h
// image: the shorter side becomes size, the longer int(size*long/short).
func ResizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// Apply runs the recipe on img and returns its float32 CHW pixels in
// [0,1]: written over dst when its capacity holds them (every value is
// written: a recycled buffer serves), else into a new slice.
func (s Spec) Apply(img *imageio.Image, dst []float32) ([]float32, stream.Shape, error) {
	if s.Trim > 0 {
		if img.W <= 2*s.Trim || img.H <= 2*s.Trim {
			return nil, stream.Shape{}, fmt.Errorf("image of %dx%d pixels: nothing is left after trimming %d from every side", img.W, img.H, s.Trim)
		}
		img = CenterCrop(img, img.W-2*s.Trim, img.H-2*s.Trim)
	}
	crop := s.CropH > 0 && s.CropW > 0
	if s.Resize > 0 {
		w, h := ResizedSize(img.W, img.H, s.Resize)
		if crop && s.CropW <= w && s.CropH <= h && (w != img.W || h != img.H) {
			// the crop of the resized image, resizing only what it keeps
			top, left := cropOffset(h, s.CropH), cropOffset(w, s.CropW)
			img = resizeWindow(img, w, h, s.Filter, left, top, s.CropW, s.CropH)
		} else {
			img = Resize(img, w, h, s.Filter)
		}
	}
	if crop {
		img = CenterCrop(img, s.CropW, s.CropH)
	}
	c := img.C
	if s.Gray3 && c == 1 {
		c = 3
	}
	shape := stream.Shape{C: c, H: img.H, W: img.W}
	if cap(dst) < shape.Size() {
		dst = make([]float32, shape.Size())
	}
	dst = dst[:shape.Size()]
	ToCHW(img, c, dst)
	return dst, shape, nil
}

// CenterCrop crops the centre w x h region, zero-padding first where the
// image is smaller, with torchvision's offsets (Python's round, half to even).
func CenterCrop(img *imageio.Image, w, h int) *imageio.Image {
	if img.W == w && img.H == h {
		return img
	}
	if img.W < w || img.H < h {
		pw, ph := max(w, img.W), max(h, img.H)
		left, top := (pw-img.W)/2, (ph-img.H)/2
		padded := &imageio.Image{W: pw, H: ph, C: img.C, Pix: make([]uint8, pw*ph*img.C)}
		for y := 0; y < img.H; y++ {
			copy(padded.Pix[((y+top)*pw+left)*img.C:], img.Pix[y*img.W*img.C:(y+1)*img.W*img.C])
		}
		img = padded
	}
	top, left := cropOffset(img.H, h), cropOffset(img.W, w)
	out := &imageio.Image{W: w, H: h, C: img.C, Pix: make([]uint8, w*h*img.C)}
	for y := 0; y < h; y++ {
		src := img.Pix[((y+top)*img.W+left)*img.C:]
		copy(out.Pix[y*w*img.C:(y+1)*w*img.C], src[:w*img.C])
	}
	return out
}

// cropOffset is where a centred crop of n from size starts: torchvision's
// round((size - n) / 2), half to even.
func cropOffset(size, n int) int { return int(math.RoundToEven(float64(size-n) / 2)) }

// levels32[k] is float32(k) / 255, a division done once per level.
var levels32 = func() (l [256]float32) {
	for k := range l {
		l[k] = float32(k) / 255
	}
	return l
}()

// ToCHW writes img as c planes of float32 v/255 (ToTensor). A one-channel
// image fills every plane when c > 1.
func ToCHW(img *imageio.Image, c int, dst []float32) {
	plane := img.W * img.H
	for ch := 0; ch < c; ch++ {
		src := ch
		if img.C == 1 {
			src = 0
		}
		d := dst[ch*plane : (ch+1)*plane]
		for i := range d {
			d[i] = levels32[img.Pix[i*img.C+src]]
		}
	}
}
