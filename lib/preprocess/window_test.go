package preprocess

import (
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
)

// A window of the resized image, computed alone, equals that window cut
// from the whole resized image, for every filter, channel count, scale
// (down and up, either axis unchanged) and window position; the whole
// image's pixels are checked against Pillow in TestMatchesPillow.
func TestResizeWindowIsTheCrop(t *testing.T) {
	for _, ch := range []int{1, 3, 4} {
		img := &imageio.Image{W: 37, H: 29, C: ch, Pix: make([]uint8, 37*29*ch)}
		for i := range img.Pix {
			img.Pix[i] = uint8(i*131 + i/7)
		}
		for _, f := range []Filter{Bilinear, Bicubic, Box} {
			for _, size := range [][2]int{{20, 15}, {37, 15}, {20, 29}, {61, 44}, {5, 3}} {
				w, h := size[0], size[1]
				whole := Resize(img, w, h, f)
				for _, win := range [][4]int{{0, 0, w, h}, {1, 2, w - 2, h - 3}, {w - 1, h - 1, 1, 1}, {w / 3, 0, w / 2, h}} {
					x0, y0, cw, chh := win[0], win[1], win[2], win[3]
					got := resizeWindow(img, w, h, f, x0, y0, cw, chh)
					for y := 0; y < chh; y++ {
						for i := 0; i < cw*ch; i++ {
							if g, want := got.Pix[(y*cw)*ch+i], whole.Pix[((y+y0)*w+x0)*ch+i]; g != want {
								t.Fatalf("%d channels, %s, %dx%d, window %v: row %d byte %d is %d, the crop's %d", ch, f.Name, w, h, win, y, i, g, want)
							}
						}
					}
				}
			}
		}
	}
}

// EnlargeIndex's copies are Resize's pixels wherever it gives them (a box
// enlarging, by any factor), and it gives none where outputs mix inputs.
func TestEnlargeIndexIsResize(t *testing.T) {
	img := &imageio.Image{W: 29, H: 17, C: 3, Pix: make([]uint8, 29*17*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i*131 + i/7)
	}
	for _, size := range [][2]int{{29, 17}, {30, 18}, {58, 34}, {224, 224}, {31, 100}} {
		w, h := size[0], size[1]
		ix, iy := EnlargeIndex(img.W, w, Box), EnlargeIndex(img.H, h, Box)
		if ix == nil || iy == nil {
			t.Fatalf("box %dx%d to %dx%d: no index", img.W, img.H, w, h)
		}
		want := Resize(img, w, h, Box)
		for y, sy := range iy {
			for x, sx := range ix {
				for c := 0; c < 3; c++ {
					if g, r := img.Pix[(sy*img.W+sx)*3+c], want.Pix[(y*w+x)*3+c]; g != r {
						t.Fatalf("box to %dx%d at (%d,%d,%d): copy %d, Resize %d", w, h, x, y, c, g, r)
					}
				}
			}
		}
	}
	for _, c := range []struct {
		n, m int
		f    Filter
	}{{29, 20, Box}, {29, 58, Bilinear}, {29, 58, Bicubic}} {
		if EnlargeIndex(c.n, c.m, c.f) != nil {
			t.Errorf("%s %d to %d: an index, but outputs mix inputs", c.f.Name, c.n, c.m)
		}
	}
}
