package selection

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/stream"
)

// On a class-mapped stream (ObjectNet: folder chair stands for ImageNet
// classes 423, 559, 765 and 857) lk-select keeps as correct exactly the
// rows lk-metrics scores correct: a prediction of another class of the
// label's group is right.
func TestSelectAgreesWithMetricsOnClassGroups(t *testing.T) {
	md := arrow.NewMetadata([]string{stream.MetaClassGroups}, []string{"423,559,765,857;954"})
	schema := arrow.NewSchema([]arrow.Field{{Name: stream.ColID, Type: arrow.BinaryTypes.String},
		{Name: stream.ColLabel, Type: arrow.PrimitiveTypes.Int32}, {Name: stream.ColModel, Type: arrow.BinaryTypes.String},
		stream.LogitsField(1000)}, &md)
	ids := array.NewStringBuilder(memory.DefaultAllocator)
	labels := array.NewInt32Builder(memory.DefaultAllocator)
	models := array.NewStringBuilder(memory.DefaultAllocator)
	var logits []float32
	for i, c := range []struct {
		label, argmax int
	}{{423, 559}, {423, 954}, {954, 954}, {423, 1}} { // right by group, wrong, right, wrong (1 is in no group: the masked argmax is not it)
		row := make([]float32, 1000)
		row[c.argmax] = 5
		if c.argmax == 1 {
			row[954] = 1 // the best of the groups' classes: banana
		}
		logits = append(logits, row...)
		ids.Append(string(rune('a' + i)))
		labels.Append(int32(c.label))
		models.Append("m")
	}
	rec := array.NewRecord(schema, []arrow.Array{ids.NewArray(), labels.NewArray(), models.NewArray(), stream.Float32List(logits, 1000)}, 4)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data := buf.Bytes()
	r, err := stream.NewReader(bytes.NewReader(data), "objectnet")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, kept, err := Run(r, &out, Rule{Correct: true}, []string{stream.ColModel, stream.ColLogits}, stream.Step{Tool: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, rows, _, _, err := metrics.Score(metrics.Options{Measure: "accuracy"}, func(fn func(*stream.Reader, bool) error) error {
		r, err := stream.NewReader(bytes.NewReader(data), "objectnet")
		if err != nil {
			return err
		}
		return fn(r, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	var masked float64
	for _, row := range rows {
		if row.Metric == "top1_masked" {
			masked = row.Value
		}
	}
	if kept != 2 || masked != 50 {
		t.Errorf("lk-select kept %d of 4 as correct, lk-metrics top1_masked %v%%; want 2 and 50", kept, masked)
	}
}
