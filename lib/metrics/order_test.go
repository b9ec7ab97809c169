package metrics

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/robust"
)

// Groups sort numbers numerically and names in natural order.
func TestLessKeyNatural(t *testing.T) {
	in := [][]string{{"vit"}, {"lk31"}, {"resnet"}, {"lk13"}, {"lk7"}, {"lk3"}, {"0.01"}, {"0.002"}, {"t10k/0100"}, {"t10k/0042"}, {"a10b"}, {"a9c"}, {"x01"}, {"x1"}}
	sort.Slice(in, func(i, j int) bool { return lessKey(in[i], in[j]) })
	var got []string
	for _, k := range in {
		got = append(got, k[0])
	}
	want := "0.002 0.01 a9c a10b lk3 lk7 lk13 lk31 resnet t10k/0042 t10k/0100 vit x01 x1"
	if strings.Join(got, " ") != want {
		t.Fatalf("sorted %v, want %s", got, want)
	}
}

// A summary row of CE counts the rows of the corruptions it averages.
func TestCESummaryN(t *testing.T) {
	var rows []Row
	base := map[string]float64{}
	for i, c := range robust.Extra {
		base[c] = 0.5
		for sev := 1; sev <= 5; sev++ {
			rows = append(rows, Row{Group: []string{"m", c, strconv.Itoa(sev)}, Metric: Top1, Value: 50, N: int64(10 * (i + 1))})
		}
	}
	out, _, err := CE(rows, 1, base)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range out {
		if r.Group[1] == "mean_ce_extra" {
			found = true
			if r.N != 500 || r.Value != 100 {
				t.Errorf("%v: ce %v n %d, want 100 and 500 (5 severities x 10+20+30+40 rows)", r.Group, r.Value, r.N)
			}
		}
	}
	if !found {
		t.Errorf("no mean_ce_extra row in %v", out)
	}
}

// A resample draws each stratum as many times as it has units, from its
// own units only: the clean and the shifted set keep their sizes.
func TestDrawKeepsStrata(t *testing.T) {
	u := NewUnits()
	for i := 0; i < 70; i++ {
		u.of(strconv.Itoa(i))
	}
	u.Stratum(1)
	for i := 50; i < 80; i++ { // 50-69 already in stratum 0
		u.of(strconv.Itoa(i))
	}
	w := make([]float64, u.Len())
	strata := u.strata()
	if len(strata[0]) != 70 || len(strata[1]) != 10 {
		t.Fatalf("strata of %d and %d units, want 70 and 10", len(strata[0]), len(strata[1]))
	}
	for r := 0; r < 50; r++ {
		u.drawFrom(strata, w, 1, r)
		var s0, s1 float64
		for i, v := range w {
			if i < 70 {
				s0 += v
			} else {
				s1 += v
			}
		}
		if s0 != 70 || s1 != 10 {
			t.Fatalf("replicate %d: %v and %v draws, want 70 and 10", r, s0, s1)
		}
	}
}
