package render

import (
	"fmt"
	"math"
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
)

// a 3x8x8 image: background (0.5, 0.2, 0.1), a 3x3 object of (0.9, 0.9, 0.9) at rows 2-4, columns 3-5
func square() ([]float32, stream.Shape) {
	sh := stream.Shape{C: 3, H: 8, W: 8}
	px := make([]float32, sh.Size())
	for c, v := range []float32{0.5, 0.2, 0.1} {
		for i := 0; i < 64; i++ {
			y, x := i/8, i%8
			px[c*64+i] = v
			if y >= 2 && y <= 4 && x >= 3 && x <= 5 {
				px[c*64+i] = 0.9
			}
		}
	}
	return px, sh
}

func TestMaskAndSilhouette(t *testing.T) {
	px, sh := square()
	m := Mask(px, sh)
	sil := make([]float32, sh.Size())
	if err := Render("silhouette", sil, px, sh); err != nil {
		t.Fatal(err)
	}
	for i, fg := range m {
		y, x := i/8, i%8
		want := y >= 2 && y <= 4 && x >= 3 && x <= 5
		if fg != want || (sil[i] == 0) != want || sil[64+i] != sil[i] {
			t.Fatalf("pixel (%d,%d): mask %v silhouette %v, want object %v", y, x, fg, sil[i], want)
		}
	}
}

// Sobel on a unit step: |gx| = 1+2+1 = 4 on the two columns beside the
// step and 0 elsewhere, so the drawing is 0 (black) there and 1 elsewhere.
func TestEdgesOfAStep(t *testing.T) {
	sh := stream.Shape{C: 1, H: 5, W: 6}
	px := make([]float32, 30)
	for i := range px {
		if i%6 >= 3 {
			px[i] = 1
		}
	}
	g := edges(px, 5, 6)
	out := make([]float32, 30)
	Render("edges", out, px, sh)
	for i := range px {
		want := float32(0)
		if x := i % 6; x == 2 || x == 3 {
			want = 4
		}
		if g[i] != want || out[i] != 1-want/4 {
			t.Fatalf("column %d: gradient %v drawing %v, want %v", i%6, g[i], out[i], want)
		}
	}
}

func TestInvertPosterize(t *testing.T) {
	sh := stream.Shape{C: 1, H: 1, W: 4}
	px := []float32{0, 0.2, 0.5, 0.9}
	inv, post := make([]float32, 4), make([]float32, 4)
	Render("invert", inv, px, sh)
	Render("posterize", post, px, sh)
	for i, want := range []float32{1, 0.8, 0.5, 0.1} {
		if math.Abs(float64(inv[i]-want)) > 1e-7 {
			t.Errorf("invert %v = %v", px[i], inv[i])
		}
	}
	for i, want := range []float32{0, 1. / 3, 2. / 3, 1} { // round(3x)/3: 0, 0.6, 1.5, 2.7
		if math.Abs(float64(post[i]-want)) > 1e-7 {
			t.Errorf("posterize %v = %v, want %v", px[i], post[i], want)
		}
	}
	if err := Render("cubism", inv, px, sh); err == nil {
		t.Error("unknown style accepted")
	}
}

// Mixed-Same donors share the class and are never the image itself;
// Mixed-Rand donors' classes are near uniform over all classes; the draw
// is a function of seed, id and variant.
func TestDonor(t *testing.T) {
	const n, k = 4000, 4
	ids := make([]string, n)
	labels := make([]int32, n)
	byClass := map[int32][]int{}
	for i := range ids {
		ids[i], labels[i] = fmt.Sprint("img", i), int32(i%k)
		byClass[labels[i]] = append(byClass[labels[i]], i)
	}
	classes := []int32{0, 1, 2, 3}
	hist := make([]int, k)
	for i := range ids {
		j := Donor("mixed_same", i, ids, labels, byClass, classes, 7)
		if j == i || labels[j] != labels[i] {
			t.Fatalf("mixed_same donor of %d is %d (class %d)", i, j, labels[j])
		}
		r := Donor("mixed_rand", i, ids, labels, byClass, classes, 7)
		if r == i || r != Donor("mixed_rand", i, ids, labels, byClass, classes, 7) {
			t.Fatalf("mixed_rand donor of %d: %d", i, r)
		}
		hist[labels[r]]++
	}
	for c, h := range hist { // 1000 expected, sd about 27
		if h < 880 || h > 1120 {
			t.Errorf("class %d donated %d of %d mixed_rand backgrounds", c, h, n)
		}
	}
	if j := Donor("mixed_same", 0, ids[:1], labels[:1], map[int32][]int{0: {0}}, []int32{0}, 7); j != -1 {
		t.Errorf("lone image got donor %d", j)
	}
}
