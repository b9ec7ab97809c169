package corrupt

import (
	"fmt"
	"math"
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/testutil"
)

// frostPhotos are three real photographs Debian ships, resized to 256 and
// centre-cropped to 224 as ImageNet's validation images are.
func frostPhotos(t *testing.T) []*Img {
	t.Helper()
	var out []*Img
	for _, p := range [][2]string{
		{"/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg", "python3-sklearn"},
		{"/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg", "python3-sklearn"},
		{"/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg", "python3-matplotlib"},
	} {
		img, err := imageio.ReadFile(testutil.DebianFile(t, p[0], p[1]), 0)
		if err != nil {
			t.Fatal(err)
		}
		w, h := preprocess.ResizedSize(img.W, img.H, 256)
		img = preprocess.CenterCrop(preprocess.Resize(img, w, h, preprocess.Bilinear), 224, 224)
		m := newImg(224, 224)
		for i, v := range img.Pix {
			m.Pix[i] = float64(v) / 255
		}
		out = append(out, m)
	}
	return out
}

// TestFrostMatchesReference: without the reference's photographs, frost
// must change real photos as much as it does with them. The reference
// figures were measured with imagecorruptions' frost files on these three
// photos over 8 seeds (issue 16): the mean absolute change and the mean
// level, in 8-bit levels, at severities 1-5. Within 15% of both.
func TestFrostMatchesReference(t *testing.T) {
	photos := frostPhotos(t)
	change := []float64{53, 63, 77, 72, 83}
	level := []float64{157, 166, 179, 171, 184}
	for s := 1; s <= 5; s++ {
		var dsum, lsum, n float64
		for seed := uint64(1); seed <= 8; seed++ {
			for k, x := range photos {
				y, err := Apply("frost", x, s, Config{Table: ImageNet, Seed: seed}, fmt.Sprint(k))
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range y.Pix {
					dsum += math.Abs(v-x.Pix[i]) * 255
					lsum += v * 255
					n++
				}
			}
		}
		d, l := dsum/n, lsum/n
		t.Logf("severity %d: mean change %.1f (reference %.0f), mean level %.1f (reference %.0f)", s, d, change[s-1], l, level[s-1])
		if math.Abs(d-change[s-1]) > 0.15*change[s-1] {
			t.Errorf("severity %d: mean change %.1f, reference %.0f: more than 15%% apart", s, d, change[s-1])
		}
		if math.Abs(l-level[s-1]) > 0.15*level[s-1] {
			t.Errorf("severity %d: mean level %.1f, reference %.0f: more than 15%% apart", s, l, level[s-1])
		}
	}
}
