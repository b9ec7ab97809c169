package chart

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// Every tick label reads back as its tick's value (no rounding: a lesion
// figure's axis once read "12, 12, 14" for ticks at 11.5, 12.5 and 13.5),
// so labels are distinct, over ranges of every scale and offset.
func TestTickLabelsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ranges := [][2]float64{{11.5, 13.5}, {12.25, 12.75}, {0, 100}, {99.5, 99.9}, {-1e-3, 1e-3}, {12.5, 12.5001}}
	for i := 0; i < 2000; i++ {
		lo := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(8)-3))
		ranges = append(ranges, [2]float64{lo, lo + r.Float64()*math.Pow(10, float64(r.IntN(7)-4))})
	}
	for _, rg := range ranges {
		seen := map[string]bool{}
		for _, tk := range (ticks{}).Ticks(rg[0], rg[1]) {
			if tk.Label == "" {
				continue
			}
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > 1e-6*math.Max(math.Abs(tk.Value), math.Abs(rg[1]-rg[0])) || seen[tk.Label] {
				t.Fatalf("range %v: tick %v labelled %q (repeated: %v)", rg, tk.Value, tk.Label, seen[tk.Label])
			}
			seen[tk.Label] = true
		}
	}
}
