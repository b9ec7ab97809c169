package vec

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// values a quantize pass meets: the unit interval densely, every 8-bit
// level and its neighbours one ulp away (where floor decides), the clip's
// edges, signed zeros, infinities and NaN; lengths that leave a tail.
func values() []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	var v []float64
	for i := 0; i < 10000; i++ {
		v = append(v, r.Float64()*2-0.5)
	}
	for k := 0; k <= 255; k++ {
		l := float64(k) / 255
		v = append(v, l, math.Nextafter(l, 2), math.Nextafter(l, -1))
	}
	return append(v, 0, math.Copysign(0, -1), 1, 1.5, -1e-300, math.Inf(1), math.Inf(-1), math.NaN(), -math.NaN())
}

// The reference: numpy's np.uint8(np.clip(x, 0, 1) * 255) / 255, written
// as Go's conversion (which truncates like numpy's cast).
func TestQuantizeIsNumpysCast(t *testing.T) {
	for _, v := range values() {
		got := quantize1(v)
		if math.IsNaN(v) {
			if !math.IsNaN(got) {
				t.Errorf("quantize(NaN) = %v", got)
			}
			continue
		}
		want := float64(uint8(math.Min(math.Max(v, 0), 1)*255)) / 255
		if got != want || math.Signbit(got) {
			t.Errorf("quantize(%v) = %v, numpy's cast gives %v", v, got, want)
		}
	}
}

// The kernel in use (vector where the build and CPU allow) gives the
// scalar kernel's bits, in place or not, for every length's tail.
func TestQuantizeKernelIsScalar(t *testing.T) {
	t.Logf("vector kernels: %v", Vector())
	src := values()
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, len(src) - 1, len(src)} {
		want := make([]float64, n)
		quantizeScalar(want, src[:n])
		got := make([]float64, n)
		Quantize(got, src)
		inPlace := append([]float64(nil), src[:n]...)
		Quantize(inPlace, inPlace)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(inPlace[i]) != math.Float64bits(want[i]) {
				t.Fatalf("n %d: value %d (%v): kernel %v, in place %v, scalar %v", n, i, src[i], got[i], inPlace[i], want[i])
			}
		}
	}
}

// ToLevels against its definition, math.Round of the clipped value (ties
// away from zero), NaN to 0.
func TestToLevelsIsRound(t *testing.T) {
	vs := values()
	for k := 0; k < 255; k++ { // the ties and their neighbours
		tie := (float64(k) + 0.5) / 255
		vs = append(vs, tie, math.Nextafter(tie, 2), math.Nextafter(tie, -1))
	}
	for _, v := range vs {
		want := uint8(0)
		if !math.IsNaN(v) {
			want = uint8(math.Round(math.Min(math.Max(v, 0), 1) * 255))
		}
		if got := toLevel1(v); got != want {
			t.Errorf("toLevel(%v) = %d, want %d", v, got, want)
		}
	}
}

func bytesValues() []uint8 {
	var b []uint8
	for i := 0; i < 1000; i++ {
		b = append(b, uint8(i*37+i/7))
	}
	return b
}

// Every kernel in use gives its scalar version's bits for every length's
// tail (the vector kernels under GOEXPERIMENT=simd on AVX2; make test runs
// this under both builds).
func TestKernelsAreScalar(t *testing.T) {
	t.Logf("vector kernels: %v", Vector())
	src := values()
	for k := 0; k < 255; k++ {
		tie := (float64(k) + 0.5) / 255
		src = append(src, tie, math.Nextafter(tie, 2), math.Nextafter(tie, -1))
	}
	lens := []int{0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 999}
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	for _, n := range lens {
		got, want := make([]uint8, n), make([]uint8, n)
		ToLevels(got, src)
		toLevelsScalar(want, src[:n])
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ToLevels n %d: %v gives %d, scalar %d", n, src[i], got[i], want[i])
			}
		}
		b := bytesValues()
		fg, fw := make([]float64, n), make([]float64, n)
		FromLevels(fg, b)
		fromLevelsScalar(fw, b[:n])
		for i := range fw {
			if !same(fg[i], fw[i]) || fw[i] != float64(b[i])/255 {
				t.Fatalf("FromLevels n %d: %d gives %v, scalar %v", n, b[i], fg[i], fw[i])
			}
		}
		acc, accW := make([]int32, n), make([]int32, n)
		for i := range acc {
			acc[i] = int32(i*7919) - 3000000
			accW[i] = acc[i]
		}
		MulAddBytes(acc, b, -12345)
		dst, dstW := make([]uint8, n), make([]uint8, n)
		ShiftClip(dst, acc, 14)
		for i := range accW { // the definitions
			accW[i] += int32(b[i]) * -12345
			dstW[i] = uint8(min(max(accW[i]>>14, 0), 255))
		}
		for i := range acc {
			if acc[i] != accW[i] || dst[i] != dstW[i] {
				t.Fatalf("MulAddBytes/ShiftClip n %d at %d: %d %d, want %d %d", n, i, acc[i], dst[i], accW[i], dstW[i])
			}
		}
		ga, wa := make([]float64, n), make([]float64, n)
		mu := [3]float64{0.25, 0.5, math.Nextafter(0.75, 1)}
		QuantizeScaleAbout3(ga, src, mu, 0.2)
		for i := range wa { // the definition
			wa[i] = quantize1((src[i]-mu[i%3])*0.2 + mu[i%3])
		}
		for i := range wa {
			if !same(ga[i], wa[i]) && !(math.IsNaN(ga[i]) && math.IsNaN(wa[i])) {
				t.Fatalf("QuantizeScaleAbout3 n %d at %d: %v, want %v", n, i, ga[i], wa[i])
			}
		}
		dg, dw := make([]float64, n), make([]float64, n)
		SubDiv(dg, src, 0.125, math.Nextafter(0.75, 1))
		for i := range dw { // the definition
			dw[i] = (src[i] - 0.125) / math.Nextafter(0.75, 1)
		}
		for i := range dw {
			if !same(dg[i], dw[i]) && !(math.IsNaN(dg[i]) && math.IsNaN(dw[i])) {
				t.Fatalf("SubDiv n %d at %d: %v, want %v", n, i, dg[i], dw[i])
			}
		}
		// fog's blend: rows of whole pixels, a fractal value each from
		// rows further apart; a span and divisor whose reciprocals are
		// inexact
		for _, w := range []int{1, 3, 8, 11} {
			bg, bw := make([]float64, n-n%(3*w)), make([]float64, n-n%(3*w))
			fr := src[len(src)-len(bg)/3*2:]
			QuantizeBlend3(bg, src, w, fr, 2*w, -0.75, 1.9, 2.5, 0.996, 3.496)
			for i := range bw { // the definition
				x := i / 3
				bw[i] = quantize1((src[i] + 2.5*((fr[x/w*2*w+x%w]+0.75)/1.9)) * 0.996 / 3.496)
			}
			for i := range bw {
				if !same(bg[i], bw[i]) && !(math.IsNaN(bg[i]) && math.IsNaN(bw[i])) {
					t.Fatalf("QuantizeBlend3 n %d w %d at %d: %v, want %v", n, w, i, bg[i], bw[i])
				}
			}
		}
		f := src[len(src)-n:]
		sg, sw := make([]float64, n), make([]float64, n)
		QuantizeAddScaled(sg, src, f, 2.5, 0.996, 3.496)
		for i := range sw { // the definition
			sw[i] = quantize1((src[i] + 2.5*f[i]) * 0.996 / 3.496)
		}
		for i := range sw {
			if !same(sg[i], sw[i]) && !(math.IsNaN(sg[i]) && math.IsNaN(sw[i])) {
				t.Fatalf("QuantizeAddScaled n %d at %d: %v, want %v", n, i, sg[i], sw[i])
			}
		}
	}
	// the separable filter's passes, with the tap counts gaussian blurs use
	for _, nt := range []int{1, 3, 5, 9, 25, 49} {
		taps := make([]float64, nt)
		for k := range taps {
			d := float64(k - nt/2)
			taps[k] = math.Exp(-d * d / 7)
		}
		for _, n := range lens {
			row := src[:n+nt-1]
			got, want := make([]float64, n), make([]float64, n)
			SymmetricRow(got, row, taps)
			symmetricRowScalar(want, row, taps)
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("SymmetricRow taps %d n %d at %d: %v, scalar %v", nt, n, i, got[i], want[i])
				}
			}
			w := n + 3
			plane := make([]float64, (nt-1)*w+n)
			for i := range plane {
				plane[i] = src[(i*7)%len(src)]
			}
			cols := make([]int, nt) // a vertical filter: Taps over rows w apart
			for k := range cols {
				cols[k] = k * w
			}
			Taps(got, plane, cols, taps)
			for x := range want { // the definition
				var s float64
				for k, t := range taps {
					s += t * plane[k*w+x]
				}
				want[x] = s
			}
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("Taps over rows, taps %d n %d at %d: %v, scalar %v", nt, n, i, got[i], want[i])
				}
			}
		}
	}
	// a 2-D correlation's taps: a disk's 5x5 non-zero offsets in a plane
	// 40 wide, and one tap
	for _, nt := range []int{1, 21} {
		var off []int
		var w []float64
		for j := 0; j < 5 && len(off) < nt; j++ {
			for i := 0; i < 5 && len(off) < nt; i++ {
				if (j-2)*(j-2)+(i-2)*(i-2) <= 5 {
					off, w = append(off, j*40+i), append(w, 1/float64(1+i+j))
				}
			}
		}
		for _, n := range lens {
			p := make([]float64, n+4*40+4)
			for i := range p {
				p[i] = src[(i*13)%len(src)]
			}
			got, want := make([]float64, n), make([]float64, n)
			Taps(got, p, off, w)
			for x := range want { // the definition
				var s float64
				for k, o := range off {
					s += w[k] * p[x+o]
				}
				want[x] = s
			}
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("Taps %d n %d at %d: %v, want %v", nt, n, i, got[i], want[i])
				}
			}
		}
	}
	// GroupTaps: a disk's offsets in groups of one weight (a ring, the
	// rest, one tap alone), against its definition written out
	for _, n := range lens {
		off := []int{0, 4, 160, 164, 1, 3, 40, 44, 120, 124, 161, 163, 2, 41, 42, 43, 80, 81, 82, 83, 84, 121, 122, 123, 162}
		ends := []int{4, 12, 24, 25}
		w := []float64{0.01, 0.03, 1 / 17.0, 0.09}
		p := make([]float64, n+164)
		for i := range p {
			p[i] = src[(i*7)%len(src)]
		}
		got := make([]float64, n)
		GroupTaps(got, p, off, ends, w)
		for x := range got {
			s, k := 0.0, 0
			for g, e := range ends {
				t := 0.0
				for ; k < e; k++ {
					t += p[x+off[k]]
				}
				s += w[g] * t
			}
			if !same(got[x], s) && !(math.IsNaN(got[x]) && math.IsNaN(s)) {
				t.Fatalf("GroupTaps n %d at %d: %v, want %v", n, x, got[x], s)
			}
		}
	}
	// MinPlus, NaN, infinities and signed zeros among the values; the
	// reference is the minimum written out with the scalar code's test
	for _, n := range lens {
		off := []int{0, 3, 41, 40, 44}
		w := []float64{1, 1.4, 0, math.Copysign(0, -1), 2.1969}
		p := make([]float64, n+44)
		for i := range p {
			p[i] = src[(i*11)%len(src)]
		}
		got, want := make([]float64, n), make([]float64, n)
		for i := range got {
			got[i] = src[(i*5+3)%len(src)]
			want[i] = got[i]
		}
		MinPlus(got, p, off, w)
		for x := range want {
			for k, o := range off {
				if t := p[x+o] + w[k]; t < want[x] {
					want[x] = t
				}
			}
		}
		for i := range want {
			if !same(got[i], want[i]) {
				t.Fatalf("MinPlus n %d at %d: %v, want %v", n, i, got[i], want[i])
			}
		}
	}
	// Bilinear3 against its formula, neighbours anywhere in src (the last
	// value's too)
	for _, n := range lens {
		img := src[:300]
		at, f := make([]int, 4*n), make([]float64, 2*n)
		for j := 0; j < n; j++ {
			for k := 0; k < 4; k++ {
				at[4*j+k] = (j*37 + k*101) % 99 * 3
			}
			f[2*j], f[2*j+1] = src[(j*3)%len(src)], src[(j*5+1)%len(src)]
		}
		got := make([]float64, 3*n)
		Bilinear3(got, img, at, f)
		for j := 0; j < n; j++ {
			fy, fx := f[2*j], f[2*j+1]
			for c := 0; c < 3; c++ {
				v00, v01, v10, v11 := img[at[4*j]+c], img[at[4*j+1]+c], img[at[4*j+2]+c], img[at[4*j+3]+c]
				want := (1-fy)*((1-fx)*v00+fx*v01) + fy*((1-fx)*v10+fx*v11)
				if g := got[3*j+c]; !same(g, want) && !(math.IsNaN(g) && math.IsNaN(want)) {
					t.Fatalf("Bilinear3 n %d pixel %d channel %d: %v, want %v", n, j, c, g, want)
				}
			}
		}
	}
	// MaxFrom on slices with and without NaN, infinities and signed zeros
	negZero := math.Copysign(0, -1)
	cases := [][]float64{
		src[:1000], src[:7], {negZero, negZero, negZero, negZero, negZero}, {-1, -2, -3, -4, negZero},
		{0.5, 0.2, math.NaN(), 0.1, 0.3}, {math.Inf(1), 0, 1, 2, 3, 4}, {-5, -4, -3, -2, -1, -6, -7, -8},
	}
	// and long enough for the vector loop, the odd value in each lane of
	// each running extreme and in the tail
	for _, odd := range []float64{math.NaN(), negZero, 0, math.Inf(1), math.Inf(-1), 9, -9} {
		for at := 0; at < 37; at += 3 {
			c := make([]float64, 37)
			for i := range c {
				c[i] = float64(i%5) - 2.5
			}
			c[at] = odd
			cases = append(cases, c)
		}
	}
	cases = append(cases, make([]float64, 40), slices.Repeat([]float64{negZero}, 40))
	for _, c := range cases {
		for _, init := range []float64{0, negZero, -10, math.NaN()} {
			got, want := MaxFrom(init, c), maxFromScalar(init, c)
			if !same(got, want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("MaxFrom(%v, %v) = %v, scalar %v", init, c[:min(len(c), 8)], got, want)
			}
			got, want = MinFrom(init, c), minFromScalar(init, c)
			if !same(got, want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("MinFrom(%v, %v) = %v, scalar %v", init, c[:min(len(c), 8)], got, want)
			}
		}
	}
}

func BenchmarkKernels(b *testing.B) {
	src := make([]float64, 224*224*3)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = r.Float64()*1.2 - 0.1
	}
	bs := make([]uint8, len(src))
	fs := make([]float64, len(src))
	acc := make([]int32, len(src))
	// a defocus row: severity 3's 169 taps of a 17x17 grid in a 240-wide plane
	var off []int
	var wt []float64
	for j := 0; j < 17; j++ {
		for i := 0; i < 17; i++ {
			if (j-8)*(j-8)+(i-8)*(i-8) <= 50 {
				off, wt = append(off, j*240+i), append(wt, 1/169.0)
			}
		}
	}
	plane := src[:240*240]
	ends := []int{len(off)} // the disk's taps, one weight
	row := make([]float64, 224)
	bat, bf := make([]int, 4*224), make([]float64, 2*224)
	for j := 0; j < 224; j++ {
		bat[4*j], bat[4*j+1], bat[4*j+2], bat[4*j+3] = 3*j, 3*j+3, 3*j+672, 3*j+675
		bf[2*j], bf[2*j+1] = 0.3, 0.6
	}
	benchPairs(b, []kernelPair{
		{"Quantize", func() { Quantize(fs, src) }, func() { quantizeScalar(fs, src) }},
		{"ToLevels", func() { ToLevels(bs, src) }, func() { toLevelsScalar(bs, src) }},
		{"FromLevels", func() { FromLevels(fs, bs) }, func() { fromLevelsScalar(fs, bs) }},
		{"MaxFrom", func() { MaxFrom(0, src) }, func() { maxFromScalar(0, src) }},
		{"SubDiv", func() { SubDiv(fs, src, 0.1, 0.7) }, func() { subDivScalar(fs, src, 0.1, 0.7) }},
		{"QuantizeAddScaled", func() { QuantizeAddScaled(fs, src, src, 2, 1, 3) }, func() { addScaledScalar(fs, src, src, 2, 1, 3) }},
		{"QuantizeBlend3", func() { QuantizeBlend3(fs, src, 224, src, 256, -1, 3, 2, 1, 3) }, func() { blend3Scalar(fs, src, 224, src, 256, -1, 3, 2, 1, 3) }},
		{"MulAddBytes", func() { MulAddBytes(acc, bs, 77) }, func() { mulAddBytesScalar(acc, bs, 77) }},
		{"ShiftClip", func() { ShiftClip(bs, acc, 14) }, func() { shiftClipScalar(bs, acc, 14) }},
		{"Bilinear3", func() { Bilinear3(fs[:3*224], src, bat, bf) }, func() { bilinear3Scalar(fs[:3*224], src, bat, bf) }},
		{"Taps", func() { Taps(row, plane, off, wt) }, func() { tapsScalar(row, plane, off, wt) }},
		{"GroupTaps", func() { GroupTaps(row, plane, off, ends, wt[:1]) }, func() { groupTapsScalar(row, plane, off, ends, wt[:1]) }},
	})
}

// kernelPair is a kernel's call and its scalar code's on the same data.
type kernelPair struct {
	name           string
	kernel, scalar func()
}

// benchPairs times each kernel beside its scalar code.
func benchPairs(b *testing.B, pairs []kernelPair) {
	for _, k := range pairs {
		b.Run(k.name+"/kernel", func(b *testing.B) {
			for range b.N {
				k.kernel()
			}
		})
		b.Run(k.name+"/scalar", func(b *testing.B) {
			for range b.N {
				k.scalar()
			}
		})
	}
}

// The kernels whose vector loads are unchecked refuse offsets that would
// read outside p, naming themselves, instead of reading other memory.
func TestTapsRefuseOutOfBounds(t *testing.T) {
	p := make([]float64, 20)
	for _, c := range []struct {
		name string
		off  []int
		w    []float64
	}{
		{"a negative offset", []int{0, -1}, []float64{1, 1}},
		{"past the end", []int{0, 13}, []float64{1, 1}},
		{"a weight missing", []int{0, 1}, []float64{1}},
	} {
		for _, k := range []func(){
			func() { Taps(make([]float64, 8), p, c.off, c.w) },
			func() { MinPlus(make([]float64, 8), p, c.off, c.w) },
		} {
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "vec.") {
						t.Errorf("%s: recovered %v, want a vec panic naming the kernel", c.name, r)
					}
				}()
				k()
			}()
		}
	}
	Taps(make([]float64, 8), p, []int{0, 12}, []float64{1, 1}) // the furthest read is p[19]: fine
}

// FromLevels is the correctly rounded k/255 for every byte, at every
// position of a vector and of the tail (the vector kernel divides by
// multiplying and correcting: exact for these 256 values, checked here).
func TestFromLevelsEveryByte(t *testing.T) {
	for shift := 0; shift < 17; shift++ {
		b := make([]uint8, 256+shift)
		for i := range b {
			b[i] = uint8(i - shift)
		}
		got := make([]float64, len(b))
		FromLevels(got, b)
		for i, k := range b {
			if want := float64(k) / 255; math.Float64bits(got[i]) != math.Float64bits(want) {
				t.Fatalf("FromLevels: %d at %d gives %v, want %v", k, i, got[i], want)
			}
		}
	}
}

// ResampleRGB against its definition, per output and channel: taps from
// one to nine (bilinear to strong downscaling), weights in 22-bit fixed
// point of both signs up to the largest a normalised filter gives, and
// weights too large to split into words (the scalar path); windows that
// start anywhere and outputs whose taps reach the row's last pixel.
func TestResampleRGBIsItsDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const shift = 22
	for _, c := range []struct {
		name     string
		maxTaps  int
		maxK     int32
		negative bool
	}{
		{"bilinear", 4, 1 << 22, false},
		{"bicubic", 6, 1 << 22, true},
		{"downscale", 9, 1 << 21, false},
		{"one tap", 1, 1 << 22, false},
		{"unsplittable", 4, 1 << 24, true},
	} {
		for _, width := range []int{1, 2, 7, 40, 301} {
			src := make([]uint8, width*3)
			for i := range src {
				src[i] = uint8(r.IntN(256))
				if r.IntN(8) == 0 {
					src[i] = 255 * uint8(r.IntN(2)) // the clip's edges
				}
			}
			m := width + 5
			from, k := make([]int, m), make([][]int32, m)
			for j := range m {
				n := 1 + r.IntN(min(c.maxTaps, width))
				from[j] = min(j*width/m, width-n)
				if j == m-1 {
					from[j] = width - n // the row's last pixel
				}
				k[j] = make([]int32, n)
				for x := range k[j] {
					k[j][x] = r.Int32N(c.maxK + 1)
					if c.negative && r.IntN(3) == 0 {
						k[j][x] = -k[j][x] / 4
					}
				}
			}
			taps := NewRGBTaps(from, k, shift)
			for _, j0 := range []int{0, 1, m / 2, m - 1} {
				for _, n := range []int{m - j0, (m - j0) / 2, 1} {
					dst := make([]uint8, 3*n)
					ResampleRGB(dst, src, taps, j0)
					for j := range n {
						for ch := range 3 {
							s := int32(1 << (shift - 1))
							for x, kv := range k[j0+j] {
								s += int32(src[(from[j0+j]+x)*3+ch]) * kv
							}
							if want := uint8(min(max(s>>shift, 0), 255)); dst[3*j+ch] != want {
								t.Fatalf("%s width %d j0 %d n %d: output %d channel %d is %d, want %d", c.name, width, j0, n, j, ch, dst[3*j+ch], want)
							}
						}
					}
				}
			}
		}
	}
}

// Every exp and normal draw outside this package goes through Exp and
// NormFloat64 (the package note says why): a direct call in lk's code
// would run at random 10 to 50 times slower in the vector build.
func TestExpGoesThroughVec(t *testing.T) {
	root := filepath.Join("..", "..")
	banned := []string{"math.Exp(", ".NormFloat64()"}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "vec" || strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, s := range banned {
				if strings.Contains(line, s) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
					t.Errorf("%s:%d calls %s directly: use vec.Exp or vec.NormFloat64", path, i+1, strings.TrimSuffix(s, "("))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// NewRGBTaps refuses what the vector form's unchecked loads could not
// stand: a negative first pixel, first pixels and weights that do not
// pair up, a shift with no half to round by.
func TestNewRGBTapsRefuses(t *testing.T) {
	k := [][]int32{{1 << 21, 1 << 21}, {1 << 22}}
	for _, c := range []struct {
		name  string
		from  []int
		shift uint8
	}{
		{"negative first pixel", []int{0, -1}, 22},
		{"one first pixel for two outputs", []int{0}, 22},
		{"shift 0", []int{0, 1}, 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			NewRGBTaps(c.from, k, c.shift)
		}()
	}
	NewRGBTaps([]int{0, 1}, k, 22) // and the valid one passes
}
