package imageio_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
)

// FuzzDecode feeds the decoders mutated images (JPEG through libjpeg-turbo,
// CMYK included; PNG, GIF, BMP, TIFF, WebP, netpbm through Go's): an
// image or an error, never a panic, and no allocation past what the pixel
// limit and the input allow.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"collage-gray-300x200.jpg", "collage-cmyk-260x180.jpg", "truncated.jpg", "collage-rgba-240x180.png"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/images", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("P5 2 2 255\n\x00\x01\x02\x03"))
	const maxPixels = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, err := imageio.Decode(data, maxPixels)
		if err == nil && (img.W*img.H > maxPixels || len(img.Pix) != img.W*img.H*img.C) {
			t.Fatalf("an image of %dx%dx%d with %d values", img.W, img.H, img.C, len(img.Pix))
		}
		runtime.ReadMemStats(&after)
		if got, most := after.TotalAlloc-before.TotalAlloc, uint64(64*len(data))+uint64(64*maxPixels)+uint64(16<<20); got > most {
			t.Fatalf("%d bytes of image made the decoder allocate %d bytes", len(data), got)
		}
	})
}
