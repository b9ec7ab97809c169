package topk

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/stream"
)

// Probabilities are the softmax: logits log p give back p, whatever
// constant is added; ties go to the lower class, as every argmax in lk.
func TestRanked(t *testing.T) {
	for _, shift := range []float64{0, 80, -50} {
		p := []float64{0.2, 0.5, 0.05, 0.25}
		logits := make([]float32, len(p))
		for i, v := range p {
			logits[i] = float32(math.Log(v) + shift)
		}
		idx, prob := Ranked(logits, 3)
		want := []int{1, 3, 0}
		for r := range want {
			if idx[r] != want[r] || math.Abs(prob[r]-p[want[r]]) > 1e-6 {
				t.Fatalf("shift %v: rank %d class %d prob %v, want class %d prob %v", shift, r+1, idx[r], prob[r], want[r], p[want[r]])
			}
		}
	}
	idx, prob := Ranked([]float32{1, 3, 3, 0}, 10)
	if len(idx) != 4 || idx[0] != 1 || idx[1] != 2 || idx[2] != 0 || math.Abs(prob[0]-prob[1]) > 0 {
		t.Fatalf("ties: %v %v", idx, prob)
	}
}

// Where names come from, in order of trust.
func TestNames(t *testing.T) {
	md := func(kv ...string) arrow.Metadata { return stream.WithMeta(arrow.NewMetadata(nil, nil), kv...) }
	for _, c := range []struct {
		name  string
		md    arrow.Metadata
		k     int
		given []string
		first string // names[0]; "" for none
		from  string
		err   string
	}{
		{"given", md(stream.MetaModelLabelSpace, "imagenet-1k"), 2, []string{"a", "b"}, "a", "--names f", ""},
		{"given, wrong count", md(), 3, []string{"a", "b"}, "", "", "has 2 class names; the model has 3"},
		{"sidecar", md(stream.MetaModelClasses, `["T-shirt/top","Trouser"]`, stream.MetaClasses, "x,y"), 2, nil, "T-shirt/top", "sidecar", ""},
		{"sidecar, wrong count", md(stream.MetaModelClasses, `["a"]`), 2, nil, "", "", "JSON array of 2"},
		{"imagenet", md(stream.MetaModelLabelSpace, "imagenet-1k"), 1000, nil, "tench", "label_space", ""},
		{"1000, no label space", md(), 1000, nil, "tench", "give --names", ""},
		{"1000 of another space", md(stream.MetaModelLabelSpace, "places365-ish"), 1000, nil, "", "", ""},
		{"images' classes", md(stream.MetaClasses, "cat,dog", stream.MetaLabelSpace, "folders"), 2, nil, "cat", "images' classes", ""},
		{"images' classes, other count", md(stream.MetaClasses, "cat,dog,cow"), 2, nil, "", "", ""},
		{"images' classes, model of another space", md(stream.MetaClasses, "cat,dog", stream.MetaModelLabelSpace, "x"), 2, nil, "", "", ""},
	} {
		names, from, err := Names(c.md, c.k, c.given, "--names f")
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.first == "" && names != nil:
			t.Errorf("%s: names %v from %s, want none", c.name, names[:1], from)
		case c.first != "" && (len(names) != c.k || names[0] != c.first || !strings.Contains(from, c.from)):
			t.Errorf("%s: %d names, first %q, from %q; want %d, %q, %q", c.name, len(names), names, from, c.k, c.first, c.from)
		}
	}
}
