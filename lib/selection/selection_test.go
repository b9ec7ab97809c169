package selection

import (
	"math"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/metrics"
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
	j, err := metrics.NewJudge(arrow.NewSchema(nil, nil), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got, err := c.rule.Keep(c.logits, c.label, j); got != c.want || err != nil {
			t.Errorf("%+v on label %d: %v %v, want %v", c.rule, c.label, got, err, c.want)
		}
	}
	if _, err := (Rule{Correct: true}).Keep([]float32{0, ln3}, 2, j); err == nil {
		t.Error("a label outside the model's 2 classes was judged")
	}
}
