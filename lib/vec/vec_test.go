package vec

import (
	"math"
	"math/rand/v2"
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

func BenchmarkQuantize(b *testing.B) {
	src := make([]float64, 224*224*3)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = r.Float64()*1.2 - 0.1
	}
	dst := make([]float64, len(src))
	b.SetBytes(int64(8 * len(src)))
	b.Run("kernel", func(b *testing.B) {
		for range b.N {
			Quantize(dst, src)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for range b.N {
			quantizeScalar(dst, src)
		}
	})
}
