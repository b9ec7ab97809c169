package preprocess_test

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/preprocess"
)

// readPNG loads a reference written by Pillow (testdata/images/make_fixtures.py).
func readPNG(t *testing.T, path string) *imageio.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := &imageio.Image{W: b.Dx(), H: b.Dy(), C: 3, Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
			i += 3
		}
	}
	return out
}

func maxDiff(t *testing.T, got, want *imageio.Image) int {
	t.Helper()
	if got.W != want.W || got.H != want.H || got.C != want.C {
		t.Fatalf("size %dx%dx%d, Pillow's %dx%dx%d", got.W, got.H, got.C, want.W, want.H, want.C)
	}
	m := 0
	for i := range got.Pix {
		d := int(got.Pix[i]) - int(want.Pix[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

// The decoder and the resize+crop both match Pillow on the same file.
func TestMatchesPillow(t *testing.T) {
	fixtures, _ := filepath.Glob("../../testdata/images/collage-*.*g")
	var n int
	for _, f := range fixtures {
		if strings.Count(filepath.Base(f), ".") != 1 {
			continue // a reference output
		}
		n++
		base := strings.TrimSuffix(f, filepath.Ext(f))
		t.Run(filepath.Base(f), func(t *testing.T) {
			img, err := imageio.ReadFile(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, img, readPNG(t, base+".decoded.png")); d != 0 {
				t.Errorf("decoded pixels differ from Pillow's by up to %d", d)
			}
			for _, fl := range []preprocess.Filter{preprocess.Bilinear, preprocess.Bicubic} {
				w, h := preprocess.ResizedSize(img.W, img.H, 256)
				got := preprocess.CenterCrop(preprocess.Resize(img, w, h, fl), 224, 224)
				if d := maxDiff(t, got, readPNG(t, base+"."+fl.Name+".png")); d > 1 {
					t.Errorf("%s Resize(256)+CenterCrop(224) differs from Pillow by up to %d grey levels (limit 1)", fl.Name, d)
				} else if d != 0 {
					t.Logf("%s: max difference %d", fl.Name, d)
				}
				// lk-data's path, which resizes only the crop's window
				spec := preprocess.Spec{Resize: 256, CropW: 224, CropH: 224, Filter: fl}
				px, sh, err := spec.Apply(img, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range px {
					c, p := i/(sh.H*sh.W), i%(sh.H*sh.W)
					if want := float32(got.Pix[p*got.C+min(c, got.C-1)]) / 255; v != want {
						t.Fatalf("%s Spec.Apply value %d: %v, Resize+CenterCrop's %v", fl.Name, i, v, want)
					}
				}
			}
		})
	}
	if n < 5 {
		t.Fatalf("found %d fixtures, want 5 (run testdata/images/make_fixtures.py)", n)
	}
}

func TestResizedSizeAndCrop(t *testing.T) {
	cases := []struct{ w, h, size, ow, oh int }{
		{500, 375, 256, 341, 256}, // int(256*500/375) = 341
		{375, 500, 256, 256, 341},
		{256, 256, 256, 256, 256},
		{28, 28, 32, 32, 32},
	}
	for _, c := range cases {
		if ow, oh := preprocess.ResizedSize(c.w, c.h, c.size); ow != c.ow || oh != c.oh {
			t.Errorf("ResizedSize(%d,%d,%d) = %d,%d, want %d,%d", c.w, c.h, c.size, ow, oh, c.ow, c.oh)
		}
	}
	// 341 wide -> crop 224: torchvision's left offset is round(58.5) = 58 (half to even).
	img := &imageio.Image{W: 341, H: 224, C: 1, Pix: make([]uint8, 341*224)}
	for x := 0; x < 341; x++ {
		img.Pix[x] = uint8(x)
	}
	if got := preprocess.CenterCrop(img, 224, 224).Pix[0]; got != 58 {
		t.Errorf("crop starts at column %d, want 58", got)
	}
	// 28x28 -> CenterCrop(32) pads 2 pixels of zeros on each side.
	small := &imageio.Image{W: 28, H: 28, C: 1, Pix: make([]uint8, 28*28)}
	for i := range small.Pix {
		small.Pix[i] = 200
	}
	out := preprocess.CenterCrop(small, 32, 32)
	if out.Pix[0] != 0 || out.Pix[2*32+2] != 200 || out.Pix[29*32+29] != 200 || out.Pix[30*32+30] != 0 {
		t.Errorf("padding of 28x28 to 32x32 is not 2 zero pixels on each side")
	}
}

func TestToCHW(t *testing.T) {
	img := &imageio.Image{W: 2, H: 1, C: 3, Pix: []uint8{255, 0, 51, 0, 255, 102}}
	dst := make([]float32, 6)
	preprocess.ToCHW(img, 3, dst)
	want := []float32{1, 0, 0, 1, 0.2, 0.4}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("ToCHW = %v, want %v", dst, want)
		}
	}
}

// BenchmarkImagePath times lk-data's per-image work on a 500x375 photo:
// the JPEG decode, and Resize(256) + CenterCrop(224) + float CHW
// (make bench section 3 compares the whole tool with Pillow).
func BenchmarkImagePath(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "collage-500x375.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	img, err := imageio.Decode(data, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			if _, err := imageio.Decode(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, f := range []preprocess.Filter{preprocess.Bilinear, preprocess.Bicubic} {
		spec := preprocess.Spec{Resize: 256, CropW: 224, CropH: 224, Filter: f}
		dst := make([]float32, 3*224*224)
		b.Run("resize-crop-chw/"+f.Name, func(b *testing.B) {
			for range b.N {
				if _, _, err := spec.Apply(img, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
