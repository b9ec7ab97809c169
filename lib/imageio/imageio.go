// Package imageio decodes image files into 8-bit pixels the way
// torchvision's default loader (Pillow, Image.convert("RGB")) sees them.
// JPEG goes through libjpeg-turbo, the library Pillow links, so decoded
// pixels match; PNG, GIF and the rest go through Go's decoders. Every file's
// header is checked against a pixel limit before any pixel is decoded, so a
// decompression bomb is refused cheaply.
package imageio

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // registered decoders
	_ "image/png"
	"os"
)

// DefaultMaxPixels is Pillow's decompression-bomb error threshold
// (2 x 89,478,485 pixels).
const DefaultMaxPixels = 178956970

// Image is an 8-bit image with interleaved channels (1 = grey, 3 = RGB).
type Image struct {
	W, H, C int
	Pix     []uint8
}

// ReadFile decodes the image file at path to RGB. maxPixels <= 0 means
// DefaultMaxPixels.
func ReadFile(path string, maxPixels int) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(data, maxPixels)
}

// Decode decodes an encoded image to RGB.
func Decode(data []byte, maxPixels int) (*Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	checkSize := func(w, h int) error {
		if w <= 0 || h <= 0 {
			return fmt.Errorf("header claims a %dx%d image", w, h)
		}
		if int64(w)*int64(h) > int64(maxPixels) {
			return &TooManyPixelsError{W: w, H: h, Limit: maxPixels}
		}
		return nil
	}
	if len(data) > 2 && data[0] == 0xff && data[1] == 0xd8 {
		w, h, cs, err := jpegHeader(data)
		if err != nil {
			return nil, err
		}
		if err := checkSize(w, h); err != nil {
			return nil, err
		}
		if cs == csCMYK || cs == csYCCK {
			pix, err := decodeCMYKJPEG(data, w, h)
			if err != nil {
				return nil, err
			}
			return &Image{W: w, H: h, C: 3, Pix: pix}, nil
		}
		pix, err := decodeJPEG(data, w, h)
		if err != nil {
			return nil, err
		}
		return &Image{W: w, H: h, C: 3, Pix: pix}, nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a readable image (JPEG, PNG, GIF, BMP, TIFF, WebP, PPM or PGM): %v", err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("corrupt %s: %v", format, err)
	}
	return toRGB(img), nil
}

// toRGB converts like Pillow's convert("RGB"): grey is replicated, alpha
// is dropped (not composited).
func toRGB(img image.Image) *Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	i := 0
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			for _, v := range m.Pix[y*m.Stride : y*m.Stride+w] {
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
				i += 3
			}
		}
		return out
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = row[4*x], row[4*x+1], row[4*x+2]
				i += 3
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := nrgba(img.At(x, y))
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c[0], c[1], c[2]
			i += 3
		}
	}
	return out
}

func nrgba(c interface{ RGBA() (r, g, b, a uint32) }) [3]uint8 {
	r, g, b, a := c.RGBA()
	if a == 0 {
		return [3]uint8{0, 0, 0}
	}
	if a != 0xffff { // un-premultiply
		r, g, b = r*0xffff/a, g*0xffff/a, b*0xffff/a
	}
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

// TooManyPixelsError is an image whose header claims more pixels than the
// caller's limit: decoding it could exhaust memory (a decompression bomb).
type TooManyPixelsError struct{ W, H, Limit int }

func (e *TooManyPixelsError) Error() string {
	return fmt.Sprintf("header claims %dx%d = %d pixels, over the limit of %d (a decompression bomb?)", e.W, e.H, int64(e.W)*int64(e.H), e.Limit)
}
