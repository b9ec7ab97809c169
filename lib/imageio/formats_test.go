package imageio_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/imageio"
)

// pattern is a small RGB image whose every pixel differs from its
// neighbours, so that a decoder that swaps channels, flips rows or drops
// a column is caught.
func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.NRGBA{uint8(37*x + 11*y), uint8(91*y + 5*x + 3), uint8(x*y + 200), 255})
		}
	}
	return m
}

// Every extension lk-data lists decodes (losslessly encoded files give the
// pixels back exactly); BMP and TIFF are written by x/image's encoders,
// netpbm by hand from the format's definition.
func TestListedFormatsDecode(t *testing.T) {
	const w, h = 7, 5
	src := pattern(w, h)
	files := map[string][]byte{}
	var b bytes.Buffer
	if err := bmp.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	files[".bmp"] = append([]byte{}, b.Bytes()...)
	b.Reset()
	if err := tiff.Encode(&b, src, nil); err != nil {
		t.Fatal(err)
	}
	files[".tiff"] = append([]byte{}, b.Bytes()...)
	var p6, p3 bytes.Buffer
	fmt.Fprintf(&p6, "P6\n# a comment\n%d %d\n255\n", w, h)
	fmt.Fprintf(&p3, "P3 %d %d 255\n", w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := src.NRGBAAt(x, y)
			p6.Write([]byte{c.R, c.G, c.B})
			fmt.Fprintf(&p3, "%d %d %d\n", c.R, c.G, c.B)
		}
	}
	files[".ppm"], files[".pnm-plain"] = p6.Bytes(), p3.Bytes()
	for ext, data := range files {
		img, err := imageio.Decode(data, 0)
		if err != nil {
			t.Errorf("%s: %v", ext, err)
			continue
		}
		if img.W != w || img.H != h || img.C != 3 {
			t.Fatalf("%s: %dx%dx%d", ext, img.W, img.H, img.C)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := src.NRGBAAt(x, y)
				got := img.Pix[(y*w+x)*3 : (y*w+x)*3+3]
				if got[0] != c.R || got[1] != c.G || got[2] != c.B {
					t.Fatalf("%s: pixel (%d,%d) is %v, want %v", ext, x, y, got, c)
				}
			}
		}
	}
	// a grey PGM is replicated to RGB
	img, err := imageio.Decode([]byte("P5 2 1 255\n\x10\xf0"), 0)
	if err != nil || !bytes.Equal(img.Pix, []byte{16, 16, 16, 240, 240, 240}) {
		t.Errorf("P5: %v %v", img, err)
	}
	// 16-bit netpbm is refused, not rescaled by a guess
	if _, err := imageio.Decode([]byte("P5 1 1 65535\n\x00\x01"), 0); err == nil || !strings.Contains(err.Error(), "maxval 65535") {
		t.Errorf("16-bit PGM: %v", err)
	}
	// a cut file is an error
	if _, err := imageio.Decode(files[".ppm"][:30], 0); err == nil {
		t.Error("a cut PPM decodes")
	}
	for _, ext := range dataset.ImageExts {
		if _, ok := map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true, ".ppm": true, ".pgm": true}[ext]; !ok {
			t.Errorf("lk-data lists %s, which no decoder here reads", ext)
		}
	}
}
