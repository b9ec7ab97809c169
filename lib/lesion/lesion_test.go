package lesion_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/lesion"
)

func blocks(stages ...int) []arch.Block {
	var bs []arch.Block
	for s, n := range stages {
		for k := 1; k <= n; k++ {
			bs = append(bs, arch.Block{Index: len(bs) + 1, Stage: s + 1, InStage: k,
				Scope: fmt.Sprintf("/s%d/b%d", s, (k-1)/2)})
		}
	}
	return bs
}

func TestGroup(t *testing.T) {
	bs := blocks(2, 4)
	cases := []struct {
		group string
		want  string // units as stage.in_stage:first-block
		err   string
	}{
		{"1", "1.1:1 1.2:2 2.1:3 2.2:4 2.3:5 2.4:6", ""},
		{"2", "1.1:1 2.1:3 2.2:5", ""},
		{"scope", "1.1:1 2.1:3 2.2:5", ""},
		{"4", "", "stage 1 has 2 blocks, not a multiple of 4"},
		{"0", "", "want a positive number"},
	}
	for _, c := range cases {
		us, err := lesion.Group(bs, c.group)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("--group %s: %v, want %q", c.group, err, c.err)
			}
			continue
		}
		var got []string
		for _, u := range us {
			got = append(got, fmt.Sprintf("%d.%d:%d", u.Stage, u.InStage, u.Blocks[0].Index))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("--group %s: %v, want %s", c.group, got, c.want)
		}
	}
}

// Draws are without replacement, from the eligible set, reproducible per
// (seed, sample), and cover the set over many samples.
func TestSample(t *testing.T) {
	eligible := []int{4, 5, 6, 7, 8, 9}
	seen := map[int]int{}
	for s := 0; s < 200; s++ {
		a, err := lesion.Sample(eligible, 3, 7, s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := lesion.Sample(eligible, 3, 7, s)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("sample %d drawn twice: %v, %v", s, a, b)
		}
		for i, u := range a {
			if u < 4 || u > 9 || (i > 0 && a[i-1] >= u) {
				t.Fatalf("sample %d: %v is not 3 distinct eligible units, ascending", s, a)
			}
			seen[u]++
		}
	}
	for _, u := range eligible {
		if seen[u] < 60 { // 100 expected
			t.Errorf("unit %d drawn %d times in 200 samples of 3 from 6", u, seen[u])
		}
	}
	if _, err := lesion.Sample(eligible, 7, 0, 0); err == nil {
		t.Error("drew 7 units from 6")
	}
}
