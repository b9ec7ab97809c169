package corrupt

import (
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/lk-robustness/lk/lib/testutil"
)

func readPNG(t *testing.T, path string) *Img {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := im.Bounds()
	m := newImg(b.Dy(), b.Dx())
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			r, g, bb, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m.Pix[(y*m.W+x)*3], m.Pix[(y*m.W+x)*3+1], m.Pix[(y*m.W+x)*3+2] = float64(r>>8)/255, float64(g>>8)/255, float64(bb>>8)/255
		}
	}
	return m
}

// The deterministic corruptions equal the reference libraries' outputs
// (scipy, skimage, OpenCV, Pillow; testdata/corrupt/make_corrupt.py) to
// within one 8-bit level, which float rounding before the truncating cast
// can move, on at most 1% of the values.
func TestDeterministicMatchReference(t *testing.T) {
	var ref struct {
		Index224 []int `json:"index224"`
		CIFAR    map[string]string
		ImageNet map[string]struct {
			Sums    []int64 `json:"sums"`
			Sampled []int   `json:"sampled"`
		}
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/corrupt/corrupt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	small := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	big := readPNG(t, testutil.Path(t, "testdata/images/collage-500x375.bilinear.png"))
	if len(ref.CIFAR) != 40 {
		t.Fatalf("%d reference outputs", len(ref.CIFAR))
	}
	for key, enc := range ref.CIFAR {
		parts := strings.Split(key, "/")
		s := int(parts[1][0] - '0')
		want, _ := base64.StdEncoding.DecodeString(enc)
		got, err := Apply(parts[0], small, s, Config{Table: CIFAR, Seed: 0}, "x")
		if err != nil {
			t.Fatal(err)
		}
		checkLevels(t, key+" (32)", got, want, nil)
		r := ref.ImageNet[key]
		got, err = Apply(parts[0], big, s, Config{Table: ImageNet, Seed: 0}, "x")
		if err != nil {
			t.Fatal(err)
		}
		sampled := make([]byte, len(r.Sampled))
		for i, v := range r.Sampled {
			sampled[i] = byte(v)
		}
		checkLevels(t, key+" (224)", got, sampled, ref.Index224)
		var sums [3]float64
		for i, v := range got.Pix {
			sums[i%3] += math.Round(v * 255)
		}
		for c := range sums {
			if d := math.Abs(sums[c] - float64(r.Sums[c])); d > 0.01*float64(224*224) {
				t.Errorf("%s (224) channel %d: sum %v, reference %d", key, c, sums[c], r.Sums[c])
			}
		}
	}
}

func checkLevels(t *testing.T, what string, got *Img, want []byte, index []int) {
	t.Helper()
	off := 0
	for k, w := range want {
		i := k
		if index != nil {
			i = index[k]
		}
		d := math.Abs(math.Round(got.Pix[i]*255) - float64(w))
		if d > 1 {
			t.Errorf("%s value %d: %v, reference %d", what, i, math.Round(got.Pix[i]*255), w)
			return
		}
		if d == 1 {
			off++
		}
	}
	if float64(off) > 0.01*float64(len(want)) {
		t.Errorf("%s: %d of %d values one level off", what, off, len(want))
	}
}

// The noises have the reference's distributions, and draw by (seed, id,
// corruption, severity) only.
func TestNoiseStatistics(t *testing.T) {
	flat := newImg(64, 64)
	for i := range flat.Pix {
		flat.Pix[i] = 0.5
	}
	stats := func(m *Img) (mean, sd, extremes float64) {
		for _, v := range m.Pix {
			mean += v
			if v == 0 || v == 1 {
				extremes++
			}
		}
		n := float64(len(m.Pix))
		mean /= n
		for _, v := range m.Pix {
			sd += (v - mean) * (v - mean)
		}
		return mean, math.Sqrt(sd / n), extremes / n
	}
	cases := []struct {
		name               string
		s                  int
		t                  Table
		mean, sd, extremes float64 // expected; -1: not checked
	}{
		{"gaussian_noise", 3, ImageNet, 0.5 - 0.5/255, 0.18, -1},
		{"gaussian_noise", 1, CIFAR, 0.5 - 0.5/255, 0.04, -1},
		{"shot_noise", 2, ImageNet, 0.5 - 0.5/255, math.Sqrt(0.5 / 25), -1},
		{"shot_noise", 5, CIFAR, 0.5 - 0.5/255, math.Sqrt(0.5 / 50), -1},
		{"impulse_noise", 4, ImageNet, -1, -1, 0.17},
		{"speckle_noise", 2, ImageNet, 0.5 - 0.5/255, 0.5 * 0.2, -1},
	}
	for _, c := range cases {
		out, err := Apply(c.name, flat, c.s, Config{Table: c.t, Seed: 1}, "img")
		if err != nil {
			t.Fatal(err)
		}
		mean, sd, ext := stats(out)
		if c.mean >= 0 && math.Abs(mean-c.mean) > 0.01 {
			t.Errorf("%s/%d: mean %.4f, want %.4f", c.name, c.s, mean, c.mean)
		}
		if c.sd >= 0 && math.Abs(sd-c.sd) > 0.05*c.sd+1.0/255 {
			t.Errorf("%s/%d: sd %.4f, want %.4f", c.name, c.s, sd, c.sd)
		}
		if c.extremes >= 0 && math.Abs(ext-c.extremes) > 0.02 {
			t.Errorf("%s/%d: %.3f of values at 0 or 1, want %.3f", c.name, c.s, ext, c.extremes)
		}
		again, _ := Apply(c.name, flat, c.s, Config{Table: c.t, Seed: 1}, "img")
		other, _ := Apply(c.name, flat, c.s, Config{Table: c.t, Seed: 1}, "other")
		same, diff := true, false
		for i := range out.Pix {
			same = same && out.Pix[i] == again.Pix[i]
			diff = diff || out.Pix[i] != other.Pix[i]
		}
		if !same || !diff {
			t.Errorf("%s: same seed and id give the same image %v; another id another %v", c.name, same, diff)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	m := newImg(4, 4)
	if _, err := Apply("frost_bite", m, 1, Config{Table: CIFAR, Seed: 0}, "x"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("unknown corruption: %v", err)
	}
	if _, err := Apply("contrast", m, 6, Config{Table: CIFAR, Seed: 0}, "x"); err == nil {
		t.Error("severity 6 accepted")
	}
	if _, err := Apply("zoom_blur", newImg(4, 6), 1, Config{Table: CIFAR}, "x"); err == nil {
		t.Error("zoom_blur of a non-square image accepted")
	}
}

// Poisson draws have the mean and variance lambda on both sides of the
// method switch.
func TestPoisson(t *testing.T) {
	r := newRNG(1, 2)
	for _, lam := range []float64{0.5, 3, 9.9, 10, 30, 250, 1000} {
		const n = 200000
		var s, ss float64
		for i := 0; i < n; i++ {
			var k float64
			k, *r.src = poisson(*r.src, lam)
			s += k
			ss += k * k
		}
		mean := s / n
		v := ss/n - mean*mean
		if math.Abs(mean-lam) > 4*math.Sqrt(lam/n) || math.Abs(v-lam) > 0.02*lam {
			t.Errorf("lambda %g: mean %g variance %g", lam, mean, v)
		}
	}
}

// The plasma fractal spans [0,1] exactly, is reproducible from its seed,
// and is smooth: neighbours differ far less than distant points.
func TestPlasma(t *testing.T) {
	a := plasma(64, 2, newRNG(1, 1))
	b := plasma(64, 2, newRNG(1, 1))
	lo, hi := 1.0, 0.0
	var near, far float64
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			v := a[y*64+x]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			if v != b[y*64+x] {
				t.Fatal("same seed, different fractal")
			}
			near += math.Abs(v - a[y*64+(x+1)%64])
			far += math.Abs(v - a[((y+32)%64)*64+(x+32)%64])
		}
	}
	if lo != 0 || hi != 1 || near > far/3 {
		t.Errorf("range [%g, %g], neighbour difference %g vs distant %g", lo, hi, near, far)
	}
}

// The vector build's levels (plasmaLevel, where AVX-512 runs) give the
// scalar levels' points, the same extremes (MinFrom and MaxFrom's) and
// leave the stream where they do, for every map side the corruptions use
// and seeds whose fractals differ.
func TestPlasmaLevels(t *testing.T) {
	if plasmaLevel == nil {
		t.Skip("no vector levels in this build or on this CPU")
	}
	for _, size := range []int{16, 32, 64, 256, 512} {
		for seed := uint64(1); seed <= 8; seed++ {
			rv, rs := newRNG(seed, 7), newRNG(seed, 7)
			decay := 1.4 + float64(seed)/4
			m, lo, span := plasmaMap(size, decay, rv)
			got := append([]float64(nil), m...)
			saved := plasmaLevel
			plasmaLevel = nil
			want, wlo, wspan := plasmaMap(size, decay, rs)
			plasmaLevel = saved
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("side %d, seed %d: point (%d, %d) is %v, the scalar levels' %v", size, seed, i/size, i%size, got[i], want[i])
				}
			}
			if math.Float64bits(lo) != math.Float64bits(wlo) || math.Float64bits(span) != math.Float64bits(wspan) {
				t.Fatalf("side %d, seed %d: minimum %v and span %v, the scalar levels' %v and %v", size, seed, lo, span, wlo, wspan)
			}
			if a, b := rv.Uint64(), rs.Uint64(); a != b {
				t.Fatalf("side %d, seed %d: the streams part after the fractal", size, seed)
			}
		}
	}
}

// fog brightens toward the fractal and keeps the clean maximum's scale;
// glass blur of a flat image is the flat image (8-bit truncated).
func TestFogAndGlass(t *testing.T) {
	flat := newImg(32, 32)
	for i := range flat.Pix {
		flat.Pix[i] = 0.5
	}
	f, err := Apply("fog", flat, 3, Config{Table: CIFAR, Seed: 2}, "x")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1.0, 0.0
	for _, v := range f.Pix {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	// (0.5 + 0.75 p) * 0.5 / 1.25 for p in [0,1]: from 0.2 to 0.5
	if math.Abs(lo-math.Floor(0.2*255)/255) > 1.0/255 || math.Abs(hi-math.Floor(0.5*255)/255) > 1.0/255 {
		t.Errorf("fog of a flat image spans [%g, %g], want [0.2, 0.5]", lo, hi)
	}
	g, err := Apply("glass_blur", flat, 5, Config{Table: CIFAR, Seed: 2}, "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Pix {
		if v != 127.0/255 {
			t.Fatalf("glass blur of flat 0.5: %v", v*255)
		}
	}
}

// ImageMagick's one-sided motion kernel: a white dot at (8, 8) spreads to
// (8, 8-i) at angle 0 and to (8-i, 8) at angle 90, with weight
// exp(-i^2/2 sigma^2) normalised, rounded to 8 bits.
func TestMotionBlurKernel(t *testing.T) {
	dot := newImg(17, 17)
	for c := 0; c < 3; c++ {
		dot.Pix[(8*17+8)*3+c] = 1
	}
	const radius, sigma = 2, 1.0
	var w [5]float64
	var sum float64
	for i := range w {
		w[i] = math.Exp(-float64(i*i) / (2 * sigma * sigma))
		sum += w[i]
	}
	for _, angle := range []float64{0, 90} {
		out := motionBlur(dot, radius, sigma, angle, 3)
		var total float64
		for _, v := range out.Pix {
			total += v
		}
		for i := range w {
			y, x := 8, 8-i
			if angle == 90 {
				y, x = 8-i, 8
			}
			got := out.at(y, x, 0) * 255
			if want := math.Round(255 * w[i] / sum); got != want {
				t.Errorf("angle %v tap %d: %v, want %v", angle, i, got, want)
			}
		}
		if math.Abs(total/3*255-255) > 3 {
			t.Errorf("angle %v: total %v, want 255 (mass kept up to rounding)", angle, total/3*255)
		}
	}
}

// Snow and motion blur are seeded, deterministic and keep a square image's
// size; snow brightens.
func TestSnowAndMotion(t *testing.T) {
	img := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	var before float64
	for _, v := range img.Pix {
		before += v
	}
	for _, name := range []string{"snow", "motion_blur"} {
		a, err := Apply(name, img, 4, Config{Table: CIFAR, Seed: 3}, "x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Apply(name, img, 4, Config{Table: CIFAR, Seed: 3}, "x")
		var after float64
		for i, v := range a.Pix {
			after += v
			if v != b.Pix[i] {
				t.Fatalf("%s: not deterministic", name)
			}
		}
		if name == "snow" && after <= before {
			t.Errorf("snow: total %v, clean %v", after, before)
		}
	}
}

// getAffineTransform recovers a known map from three points; warpAffine
// by a whole-pixel translation shifts the image (mirrored at the border).
func TestAffine(t *testing.T) {
	want := [6]float64{1.1, 0.2, 3, -0.1, 0.9, -2}
	src := [3][2]float64{{26, 26}, {26, 6}, {6, 6}}
	var dst [3][2]float64
	for i, p := range src {
		dst[i] = [2]float64{want[0]*p[0] + want[1]*p[1] + want[2], want[3]*p[0] + want[4]*p[1] + want[5]}
	}
	got := affine(src, dst)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("affine %v, want %v", got, want)
		}
	}
	img := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	shifted := warpAffine(img, [6]float64{1, 0, 2, 0, 1, 0}) // dst(x) = src(x - 2)
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			if got, want := shifted.at(y, x, 1), img.at(y, reflect101(x-2, 32), 1); got != want {
				t.Fatalf("(%d,%d): %v, want %v", y, x, got, want)
			}
		}
	}
	// elastic runs at both tables, seeded
	big := readPNG(t, testutil.Path(t, "testdata/images/collage-500x375.bilinear.png"))
	for _, c := range []struct {
		m *Img
		t Table
	}{{img, CIFAR}, {big, ImageNet}} {
		a, err := Apply("elastic_transform", c.m, 3, Config{Table: c.t, Seed: 9}, "x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Apply("elastic_transform", c.m, 3, Config{Table: c.t, Seed: 9}, "x")
		diff := 0
		for i := range a.Pix {
			if a.Pix[i] != b.Pix[i] {
				t.Fatal("elastic: not deterministic")
			}
			if a.Pix[i] != c.m.Pix[i] {
				diff++
			}
		}
		if diff < len(a.Pix)/4 {
			t.Errorf("elastic moved only %d of %d values", diff, len(a.Pix))
		}
	}
}

// Frost blends a crop of a texture: the procedural one without
// --frost-dir, the user's files with it (here: made-up files of the
// reference's names), and says what is missing.
func TestFrost(t *testing.T) {
	img := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	a, err := Apply("frost", img, 3, Config{Table: CIFAR, Seed: 1}, "x")
	if err != nil {
		t.Fatal(err)
	}
	var before, after float64
	for i := range a.Pix {
		before += img.Pix[i]
		after += a.Pix[i]
	}
	if after <= 0.9*before*0.9 { // a = 0.9 of the image plus a bright layer
		t.Errorf("frost darkened the image: %v from %v", after, before)
	}
	dir := t.TempDir()
	if _, err := Apply("frost", img, 3, Config{Table: CIFAR, Seed: 1, FrostDir: dir}, "x"); err == nil || !strings.Contains(err.Error(), "frost1.png") {
		t.Errorf("missing frost files: %v", err)
	}
	// white texture files: frost = clip(a x + b)
	white := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	for _, name := range frostFiles {
		f, _ := os.Create(dir + "/" + name)
		png.Encode(f, white) // the reader goes by content, not by extension
		f.Close()
	}
	b, err := Apply("frost", img, 3, Config{Table: CIFAR, Seed: 1, FrostDir: dir}, "x")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Pix {
		want := math.Floor(clip01(0.9*img.Pix[i]+0.4)*255) / 255
		if math.Abs(v-want) > 1.0/255+1e-9 {
			t.Fatalf("value %d: %v, want %v", i, v*255, want*255)
		}
	}
}

// Spatter's water mode runs OpenCV's Canny, distance transform, histogram
// equalisation, emboss filter and box blurs; each step equals OpenCV's on
// a fixed layer of blobs (make_corrupt.py), the distances to the truncating
// cast's level and the rest to one level on at most 2% of pixels.
func TestSpatterSteps(t *testing.T) {
	var ref struct {
		W map[string]string `json:"spatter_water"`
	}
	b, _ := os.ReadFile(testutil.Path(t, "testdata/corrupt/corrupt.json"))
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	dec := func(k string) plane8 {
		raw, _ := base64.StdEncoding.DecodeString(ref.W[k])
		p := plane8{64, 64, make([]float64, len(raw))}
		for i, v := range raw {
			p.v[i] = float64(v)
		}
		return p
	}
	l8 := dec("layer")
	edges := canny(l8, 50, 150)
	cmp := func(what string, got, want plane8, slack float64) {
		off := 0
		for i := range want.v {
			d := math.Abs(got.v[i] - want.v[i])
			if d > slack {
				off++
			}
		}
		if float64(off) > 0.02*float64(len(want.v)) {
			t.Errorf("%s: %d of %d pixels differ from OpenCV by more than %v", what, off, len(want.v), slack)
		}
	}
	cmp("canny", edges, dec("canny"), 0)
	inv := plane8{64, 64, make([]float64, 64*64)}
	for i, v := range dec("canny").v {
		inv.v[i] = 255 - v
	}
	dist := distanceTransform(inv)
	for i, v := range dist.v {
		dist.v[i] = math.Min(v, 20)
	}
	dist = boxBlur3(dist, false)
	for i, v := range dist.v {
		dist.v[i] = math.Floor(v)
	}
	cmp("distance", dist, dec("dist"), 1)
	cmp("equalized", equalizeHist(dec("dist")), dec("equalized"), 1)
	cmp("final", boxBlur3(emboss(dec("equalized")), true), dec("final"), 1)
	// and the whole corruption runs at every severity of both tables
	img := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	for s := 1; s <= 5; s++ {
		if _, err := Apply("spatter", img, s, Config{Table: CIFAR, Seed: 1}, "x"); err != nil {
			t.Fatal(err)
		}
	}
}

// Sequences have the reference's lengths; the frame at zero shift, angle,
// shear or scale change, and a noise sequence's frame 0, are the image.
func TestSequences(t *testing.T) {
	img := readPNG(t, testutil.Path(t, "testdata/corrupt/input32.png"))
	cases := []struct {
		name     string
		frames   int
		identity int
	}{
		{"translate", 16, 7}, {"rotate", 31, 15}, {"shear", 31, 15}, {"scale", 31, 15},
		{"gaussian_noise", 31, 0}, {"shot_noise", 31, 0}, {"speckle_noise", 31, 0},
		{"motion_blur", 21, -1}, {"zoom_blur", 31, 0}, {"brightness", 31, 15}, {"gaussian_blur", 31, -1},
		{"tilt", 31, 15}, {"snow", 31, -1}, {"spatter", 31, -1},
	}
	if len(cases) != len(PerturbationNames()) {
		t.Fatalf("%d cases for %d perturbations", len(cases), len(PerturbationNames()))
	}
	for _, c := range cases {
		fr, err := Sequence(c.name, img, 1, Config{Table: CIFAR, Seed: 1}, "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(fr) != c.frames {
			t.Errorf("%s: %d frames, want %d", c.name, len(fr), c.frames)
		}
		if c.identity < 0 {
			continue
		}
		for i, v := range fr[c.identity].Pix {
			if math.Abs(v-img.Pix[i]) > 1.0/255+1e-9 {
				t.Fatalf("%s frame %d value %d: %v, image %v", c.name, c.identity, i, v*255, img.Pix[i]*255)
			}
		}
	}
	if _, err := Sequence("shake", img, 1, Config{Table: CIFAR}, "x"); err == nil {
		t.Error("an unimplemented perturbation was accepted")
	}
}

// Scratch buffers come back holding an earlier image's values: no
// corruption may read one before writing it. Every corruption gives the
// same values with the pool full of NaN-filled buffers as with a fresh one.
func TestScratchIsWrittenBeforeRead(t *testing.T) {
	for _, size := range []int{224, 32} {
		m := newImg(size, size)
		for i := range m.Pix {
			m.Pix[i] = float64((i*7919)%256) / 255
		}
		cfg := Config{Table: TableFor(size, size), Seed: 3}
		for _, name := range Names() {
			want, err := Apply(name, m, 4, cfg, "x")
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 64; k++ { // more than one call's buffers, of every size it asks
				for _, n := range []int{size * size, size * size * 3, (size + 64) * (size + 64), (size + 64) * (size + 64) * 3} {
					b := make([]float64, n)
					for i := range b {
						b[i] = math.NaN()
					}
					put(b)
				}
			}
			got, err := Apply(name, m, 4, cfg, "x")
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Pix {
				if math.Float64bits(got.Pix[i]) != math.Float64bits(want.Pix[i]) {
					t.Fatalf("%s at %d px: value %d is %v after the pool held NaN buffers, %v before", name, size, i, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
}

// Shot noise on a NaN value gives NaN there and ends (Knuth's product
// never fell below exp(-NaN), so the draw looped for ever).
func TestShotNoiseNaNEnds(t *testing.T) {
	m := newImg(8, 8)
	m.Pix[7] = math.NaN()
	out, err := Apply("shot_noise", m, 3, Config{Table: CIFAR}, "x")
	if err != nil || !math.IsNaN(out.Pix[7]) || math.IsNaN(out.Pix[8]) {
		t.Errorf("value 7: %v, value 8: %v, %v; want NaN, a number", out.Pix[7], out.Pix[8], err)
	}
}

// lk's PCG is math/rand/v2's, draw for draw, alone and under rand.Rand's
// methods (the normal and integer draws the corruptions use).
func TestPCGIsMathRand(t *testing.T) {
	for _, seed := range [][2]uint64{{0, 0}, {1, 2}, {^uint64(0), 12345}, {0xdeadbeef, ^uint64(0)}} {
		ours, theirs := newRNG(seed[0], seed[1]), rand.New(rand.NewPCG(seed[0], seed[1]))
		for i := 0; i < 200000; i++ {
			var a, b float64
			switch i % 4 {
			case 0:
				a, b = ours.Float64(), theirs.Float64()
			case 1:
				a, b = ours.NormFloat64(), theirs.NormFloat64()
			case 2:
				a, b = float64(ours.IntN(1000)), float64(theirs.IntN(1000))
			default:
				a, b = float64(ours.Uint64()), float64(theirs.Uint64())
			}
			if a != b {
				t.Fatalf("seed %v, draw %d: %v, math/rand/v2 %v", seed, i, a, b)
			}
		}
	}
}

// probeSource returns first, then a seeded stream: it counts the draws a
// NormFloat64 took, telling the ziggurat's fast path (one draw) apart.
type probeSource struct {
	first uint64
	n     int
	rest  *rand.PCG
}

func (s *probeSource) Uint64() uint64 {
	if s.n++; s.n == 1 {
		return s.first
	}
	return s.rest.Uint64()
}

// The ziggurat's strips are math/rand/v2's: for every strip i, the largest
// draw its fast path takes (zigK[i]-1) is taken by NormFloat64 with the
// value zigW[i] gives, and zigK[i] itself is not.
func TestZigguratTables(t *testing.T) {
	fast := func(i uint64, j uint32) (bool, float64) {
		s := &probeSource{first: i<<32 | uint64(j), rest: rand.NewPCG(1, 2)}
		x := rand.New(s).NormFloat64()
		return s.n == 1, x
	}
	for i := uint64(0); i < 128; i++ {
		if k := zigK[i]; k > 0 {
			if ok, x := fast(i, k-1); !ok || x != float64(k-1)*float64(zigW[i]) {
				t.Errorf("strip %d: draw %d: fast %v, %v, want %v", i, k-1, ok, x, float64(k-1)*float64(zigW[i]))
			}
		}
		if ok, _ := fast(i, zigK[i]); ok {
			t.Errorf("strip %d: draw %d taken by the fast path, past the bound", i, zigK[i])
		}
	}
	// the wedge test's densities against the standard library's table
	// (its source, as the Go distribution ships it)
	src, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "math", "rand", "v2", "normal.go"))
	if err != nil {
		t.Fatalf("the standard library's table: %v", err)
	}
	_, table, ok := strings.Cut(string(src), "var fn = [128]float32{")
	table, _, _ = strings.Cut(table, "}")
	fields := strings.FieldsFunc(table, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if !ok || len(fields) != 128 {
		t.Fatalf("the standard library's fn table: %d values", len(fields))
	}
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 32)
		if err != nil || float32(v) != zigF[i] {
			t.Errorf("strip %d: density %v, math/rand/v2 %s (%v)", i, zigF[i], f, err)
		}
	}
}

// rng.normals gives rand.Rand's NormFloat64 draws, values and stream,
// tail and wedge draws included, for any split of the draws into calls.
func TestNormalsAreMathRand(t *testing.T) {
	for _, seed := range [][2]uint64{{1, 2}, {7, 0}, {^uint64(0), 3}} {
		r, theirs := newRNG(seed[0], seed[1]), rand.New(rand.NewPCG(seed[0], seed[1]))
		slow := 0
		for n := 0; n < 2000; n++ {
			dst := make([]float64, n%300)
			before := *r.src
			r.normals(dst)
			for i, x := range dst {
				if y := theirs.NormFloat64(); x != y {
					t.Fatalf("seed %v, call %d, draw %d: %v, math/rand/v2 %v", seed, n, i, x, y)
				}
			}
			for range dst {
				before, _ = before.next()
			}
			if before != *r.src {
				slow++ // a draw took more than one value: the slow path ran
			}
			if r.Uint64() != theirs.Uint64() {
				t.Fatalf("seed %v, call %d: the streams part after the draws", seed, n)
			}
		}
		if slow == 0 {
			t.Errorf("seed %v: no draw left the fast path; the test checks nothing there", seed)
		}
	}
}

// below(p) is the integer threshold of unit(u) < p, on both sides of it,
// for the probabilities in use and awkward ones.
func TestBelow(t *testing.T) {
	for _, p := range []float64{0, -1, 1e-300, .01, .03, .09, .17, .27, .5, 1 / 3.0, 0.999999999, 1, 2, math.NaN()} {
		b := below(p)
		for _, k := range []uint64{0, 1, b - 2, b - 1, b, b + 1, b + 2, 1<<53 - 1} {
			k &= 1<<53 - 1
			if got, want := k < b, unit(k) < p; got != want {
				t.Errorf("p %v: draw %d: integer test %v, float test %v", p, k, got, want)
			}
		}
	}
}

// fillDraws (the vector build's where it runs) makes the scalar stream's
// draws for any length and state, and jumps[n] is n steps.
func TestFillDrawsIsTheStream(t *testing.T) {
	for _, p := range []pcg{{1, 2}, {0, 0}, {^uint64(0), ^uint64(0)}, {0x8000000000000000, 1<<64 - 1}} {
		for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 200, blockSize} {
			got := make([]uint64, n)
			fillDraws(got, p)
			q := p
			for i := range got {
				var want uint64
				q, want = q.next()
				if got[i] != want {
					t.Fatalf("state %v, %d draws: draw %d is %#x, the stream's %#x", p, n, i, got[i], want)
				}
			}
			if j := jumps[n].apply(p); j != q {
				t.Fatalf("state %v: jumps[%d] gives %v, %d steps %v", p, n, j, n, q)
			}
		}
	}
}

func BenchmarkFillDraws(b *testing.B) {
	u := make([]uint64, blockSize)
	for _, f := range []struct {
		name string
		fill func([]uint64, pcg)
	}{{"kernel", fillDraws}, {"scalar", fillDrawsScalar}} {
		b.Run(f.name, func(b *testing.B) {
			for i := range b.N {
				f.fill(u, pcg{uint64(i), 3})
			}
		})
	}
}

// Draws in the base strip's tail (the walks hand the stream to rand.Rand
// there) give rand.Rand's values and stream, in calls of any length.
func TestNormalsTail(t *testing.T) {
	p, last, tails := pcg{5, 6}, 0, 0 // last: the third tail draw's index
	for d := 0; tails < 3; d++ {
		q, u := p.next()
		if _, k, ok := fast(u); !ok && k == 0 {
			tails, last = tails+1, d
		}
		p = q
	}
	for _, n := range []int{1, 17, 64, 100, 256, 1000, 5000} {
		r, theirs := newRNG(5, 6), rand.New(rand.NewPCG(5, 6))
		for v := 0; v <= last; v += n { // each value takes a draw or more
			dst := make([]float64, n)
			r.normals(dst)
			for i, x := range dst {
				if y := theirs.NormFloat64(); x != y {
					t.Fatalf("calls of %d, value %d: %v, math/rand/v2 %v", n, v+i, x, y)
				}
			}
		}
		if r.Uint64() != theirs.Uint64() {
			t.Fatalf("calls of %d: the streams part after %d tail draws", n, tails)
		}
	}
}

// bilinearRowVec (the vector build's, where AVX-512 runs) gives bilinearRowScalar's offsets and weights for
// points inside, on and past every edge, at integer positions and
// negative zero, in rows whose length is not a multiple of 8. (The
// corruptions' points are finite; the border rules loop on others.)
func TestBilinearRowVector(t *testing.T) {
	if bilinearRowVec == nil {
		t.Skip("no vector rows in this build or on this CPU")
	}
	m := newImg(23, 37)
	r := newRNG(4, 5)
	for _, n := range []int{1, 8, 37, 203} {
		ys, xs := make([]float64, n), make([]float64, n)
		for i := range xs {
			ys[i], xs[i] = r.Float64()*21.9, r.Float64()*35.9                      // inside
			edge := []float64{0, math.Copysign(0, -1), -0.5, 1e-300, -1e-300}[i%5] // the first row or column, and just past it
			switch i / 8 % 7 {                                                     // groups of eight alike: one point past an edge sends a group to the scalar code
			case 1: // the last two rows (the last has no row below)
				ys[i] = float64(21 + i%2)
			case 2: // the last two columns
				xs[i] = 35.5 + float64(i%2)
			case 3:
				ys[i] = edge
			case 4:
				xs[i] = edge
			case 5: // about the edges
				ys[i], xs[i] = r.Float64()*27-2, r.Float64()*41-2
			case 6: // far outside
				ys[i] = [3]float64{-30, 70, -1.5}[i%3]
			}
		}
		for _, b := range []border{reflect101, reflectHalf} {
			at, f := make([]int, 4*n), make([]float64, 2*n)
			wat, wf := make([]int, 4*n), make([]float64, 2*n)
			bilinearRowVec(at, f, m, ys, xs, b)
			bilinearRowScalar(wat, wf, m, ys, xs, b)
			for i := range wat {
				if at[i] != wat[i] {
					t.Fatalf("n %d: point %d (%v, %v): offset %d is %d, scalar %d", n, i/4, ys[i/4], xs[i/4], i%4, at[i], wat[i])
				}
			}
			for i := range wf {
				if math.Float64bits(f[i]) != math.Float64bits(wf[i]) && !(f[i] != f[i] && wf[i] != wf[i]) {
					t.Fatalf("n %d: point %d (%v, %v): weight %d is %v, scalar %v", n, i/2, ys[i/2], xs[i/2], i%2, f[i], wf[i])
				}
			}
		}
	}
}

// warpRowVec (the vector build's, where AVX-512 runs) gives
// warpRowScalar's points: maps whose values fall on exact halves of 1/32
// (rounded away from zero), just beside them, negative, and of any size.
func TestWarpRowVector(t *testing.T) {
	if warpRowVec == nil {
		t.Skip("no vector rows in this build or on this CPU")
	}
	r := newRNG(6, 7)
	maps := [][6]float64{
		{1.0 / 64, 0, 0, -1.0 / 64, 0, -0.25 / 32}, // halves at odd x, negative halves
		{1, 0, 0, 0, 1, 0},
		{0.9, 0.1, 3.3, -0.1, 0.9, -7.7},
		{1.0/64 + 1e-17, 1e-3, -1e-300, -1.0/64 - 1e-17, 0, 1e300},
	}
	for range 20 {
		var c [6]float64
		for i := range c {
			c[i] = (r.Float64()*2 - 1) * [6]float64{1.5, 0.3, 40, 0.3, 1.5, 40}[i]
		}
		maps = append(maps, c)
	}
	for _, c := range maps {
		for _, n := range []int{1, 8, 13, 224, 299} {
			for _, y := range []int{0, 1, 7, 150} {
				sx, sy, wx, wy := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
				warpRowVec(sx, sy, &c, y)
				warpRowScalar(wx, wy, &c, y, 0)
				for x := range wx {
					if math.Float64bits(sx[x]) != math.Float64bits(wx[x]) || math.Float64bits(sy[x]) != math.Float64bits(wy[x]) {
						t.Fatalf("map %v, row %d, x %d of %d: (%v, %v), scalar (%v, %v)", c, y, x, n, sx[x], sy[x], wx[x], wy[x])
					}
				}
			}
		}
	}
}
