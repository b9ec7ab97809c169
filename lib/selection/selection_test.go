package selection

import (
	"math"
	"testing"
)

func TestRule(t *testing.T) {
	ln3 := float32(math.Log(3))
	conf, top := Confidence([]float32{0, ln3})
	if math.Abs(conf-0.75) > 1e-7 || top != 1 {
		t.Fatalf("softmax of (0, ln 3): %v at %d, want 0.75 at 1", conf, top)
	}
	cases := []struct {
		rule   Rule
		logits []float32
		label  int32
		want   bool
	}{
		{Rule{Misclassified: true}, []float32{0, ln3}, 0, true},
		{Rule{Misclassified: true}, []float32{0, ln3}, 1, false},
		{Rule{Misclassified: true}, []float32{0, ln3}, -1, false}, // no label: neither right nor wrong
		{Rule{Correct: true}, []float32{0, ln3}, 1, true},
		{Rule{MinConfidence: 0.75}, []float32{0, ln3}, 1, true},
		{Rule{MinConfidence: 0.76}, []float32{0, ln3}, 1, false},
		{Rule{MaxConfidence: 0.7}, []float32{0, ln3}, 1, false},
		{Rule{}, []float32{0, ln3}, -1, true},
	}
	for _, c := range cases {
		if got := c.rule.Keep(c.logits, c.label); got != c.want {
			t.Errorf("%+v on label %d: %v, want %v", c.rule, c.label, got, c.want)
		}
	}
}
