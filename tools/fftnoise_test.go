package tools_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// lk-fft-noise writes each image once per band with a freq column; the
// bytes do not depend on the record size; eps 0 leaves the images as they
// were.
func TestFFTNoise(t *testing.T) {
	tmp := t.TempDir()
	src := fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 %s", testutil.FashionMNIST(t))
	mustSh(t, src+" | lk-fft-noise --freqs 0,0.5,1 --eps 0.05 --seed 2 > "+tmp+"/a.arrow")
	mustSh(t, src+" --rows 7 | lk-fft-noise --freqs 0,0.5,1 --eps 0.05 --seed 2 > "+tmp+"/b.arrow")
	a, b := imagesBy(t, tmp+"/a.arrow", "freq"), imagesBy(t, tmp+"/b.arrow", "freq")
	if len(a) != 120 || len(b) != 120 {
		t.Fatalf("%d and %d images, want 120", len(a), len(b))
	}
	for k, v := range a {
		if fmt.Sprint(v) != fmt.Sprint(b[k]) {
			t.Fatalf("%s differs between record sizes", k)
		}
	}
	mustSh(t, src+" > "+tmp+"/clean.arrow")
	mustSh(t, "lk-fft-noise --freqs 0.3 --eps 0 < "+tmp+"/clean.arrow > "+tmp+"/zero.arrow")
	clean, zero := imagesBy(t, tmp+"/clean.arrow"), imagesBy(t, tmp+"/zero.arrow", "freq")
	for k, v := range clean {
		if fmt.Sprint(v) != fmt.Sprint(zero[k+" 0.3"]) {
			t.Fatalf("eps 0 changed %s", k)
		}
	}
	_, errOut, err := sh(t, "lk-fft-noise --freqs 2 < "+tmp+"/clean.arrow > /dev/null")
	if err == nil || !strings.Contains(errOut, "want values in [0,1]") {
		t.Errorf("freq 2: %v %q", err, errOut)
	}
}

// --heatmap moves each image by eps times a unit-norm basis image per
// channel: without clipping, every channel's change has L2 norm eps, and
// each image comes once per (fu, fv) of the strided grid.
func TestFFTNoiseHeatmap(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 3 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	mustSh(t, "lk-fft-noise --heatmap --eps 2 --step 8 --clip=false < "+tmp+"/x.arrow > "+tmp+"/h.arrow")
	clean := imagesBy(t, tmp+"/x.arrow")
	out := imagesBy(t, tmp+"/h.arrow", "fu", "fv")
	if len(out) != 3*4*4 { // fu, fv in -16, -8, 0, 8
		t.Fatalf("%d images, want 48", len(out))
	}
	for k, px := range out {
		id := strings.Fields(k)[0]
		for c := 0; c < 3; c++ {
			var ss float64
			for i := c * 1024; i < (c+1)*1024; i++ {
				d := float64(px[i] - clean[id][i])
				ss += d * d
			}
			if n := math.Sqrt(ss); math.Abs(n-2) > 1e-4 {
				t.Fatalf("%s channel %d: change of norm %v, want 2", k, c, n)
			}
		}
	}
}
