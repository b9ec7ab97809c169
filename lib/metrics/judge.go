package metrics

import (
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/stream"
)

// Judge says whether a row's top-1 prediction is right, by the one rule
// lk-metrics scores top-1 with and lk-select keeps rows by: the argmax of
// the logits (the first of ties) is the label; on a class-mapped stream
// (lk-data --class-map, ObjectNet), the argmax over the groups' classes
// is in the label's group (lk-metrics' top1_masked).
type Judge struct {
	k     int
	cg    *imagenet.ClassGroups
	union []int
}

// NewJudge reads the class groups of a stream of k logits per row.
func NewJudge(schema *arrow.Schema, k int) (*Judge, error) {
	j := &Judge{k: k}
	v, ok := schema.Metadata().GetValue(stream.MetaClassGroups)
	if !ok {
		return j, nil
	}
	if k != len(imagenet.WNIDs) {
		return nil, fmt.Errorf("is class-mapped to ImageNet-1k classes, but the stream has %d logits", k)
	}
	cg, err := imagenet.ParseClassGroups(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", stream.MetaClassGroups, err)
	}
	j.cg, j.union = cg, cg.Classes()
	return j, nil
}

// Correct judges one row; a label the model's classes (or the stream's
// groups) do not hold is an error, never a wrong prediction.
func (j *Judge) Correct(row []float32, label int) (bool, error) {
	if label < 0 || label >= j.k {
		return false, fmt.Errorf("label %d is outside the model's %d classes", label, j.k)
	}
	if j.cg == nil {
		return Rank(row, label) == 0, nil
	}
	lg, ok := j.cg.Group(label)
	if !ok {
		return false, fmt.Errorf("label %d is in none of the stream's class groups (%s)", label, stream.MetaClassGroups)
	}
	best := j.union[0]
	for _, c := range j.union {
		if row[c] > row[best] {
			best = c
		}
	}
	pg, _ := j.cg.Group(best)
	return pg == lg, nil
}
