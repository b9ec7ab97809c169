package metrics

import (
	"sort"
	"strings"
	"testing"
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
