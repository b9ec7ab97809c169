//go:build goexperiment.simd && amd64

package corrupt

import (
	"math"
	"simd/archsimd"
	"testing"

	"github.com/lk-robustness/lk/lib/vec"
)

// plasmaStep2's extremes are the map's, wherever they lie. With the
// corners flat and the noise large, the edges' midpoints hold them; with a
// cell whose four corners stand high and the noise small, its centre or a
// corner does. Every kind of point is seen.
func TestPlasmaStep2Extremes(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	const size = 32
	kinds := map[int]bool{}
	for seed := uint64(0); seed < 200; seed++ {
		m := make([]float64, size*size)
		for y := 0; y < size; y += 2 {
			for x := 0; x < size; x += 2 {
				m[y*size+x] = float64((x*7+y*13+int(seed))%5) - 2
			}
		}
		wibble := 100.0
		if seed%2 == 1 {
			wibble = 1
			y, x := int(seed/2%16)*2, int(seed/32%16)*2
			for _, c := range [][2]int{{y, x}, {y, x + 2}, {y + 2, x}, {y + 2, x + 2}} {
				m[c[0]%size*size+c[1]%size] = 1000*float64(seed%4) - 1500 // a peak or a pit
			}
		}
		_, lo, hi := plasmaStep2(m, size, newGrid(2, wibble, 2*wibble, -wibble), pcg{seed, 1})
		wlo, whi := vec.MinFrom(math.Inf(1), m), vec.MaxFrom(math.Inf(-1), m)
		if lo != wlo || hi != whi {
			t.Fatalf("seed %d: extremes %v, %v; the map's %v, %v", seed, lo, hi, wlo, whi)
		}
		for i, v := range m {
			if v == lo || v == hi {
				kinds[i/size%2*2+i%2] = true // 0 corner, 1 top midpoint, 2 left midpoint, 3 centre
			}
		}
	}
	if len(kinds) != 4 {
		t.Errorf("the extremes fell on %d kinds of point of 4 (%v): the test needs other maps", len(kinds), kinds)
	}
}
