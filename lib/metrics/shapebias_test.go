package metrics_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/stream"
)

// The decision averages the softmax over a category's classes: a bird
// class with the largest logit loses to airplane's single class when the
// other 48 bird classes are low (mean e^5.5+48 e^0 over 49 < e^5).
func TestDecision16Averages(t *testing.T) {
	logits := make([]float32, 1000)
	logits[404] = 5   // airplane's only class
	logits[8] = 5.5   // one of bird's 49
	logits[281] = 4.9 // cat
	if d := metrics.Decision16(logits); d != 0 {
		t.Errorf("decision %d, want 0 (airplane): %v < %v", d, (math.Exp(5.5)+48)/49, math.Exp(5))
	}
	logits[404] = 2
	if d := metrics.Decision16(logits); d != 7 {
		t.Errorf("decision %d, want 7 (cat, mean of 6 classes (e^4.9+5)/6 > (e^5.5+48)/49)", d)
	}
}

func cueStream(t *testing.T, k int, shapes []int32, textures []int64, decisions []int) arrow.Record {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: stream.ColTexture, Type: arrow.PrimitiveTypes.Int64},
		stream.LogitsField(k),
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(schema.Fields()[:3], nil))
	var flat []float32
	for i := range shapes {
		b.Field(0).(*array.StringBuilder).Append(string(rune('a' + i)))
		b.Field(1).(*array.Int32Builder).Append(shapes[i])
		b.Field(2).(*array.Int64Builder).Append(textures[i])
		row := make([]float32, k)
		row[decisions[i]] = 3
		flat = append(flat, row...)
	}
	return stream.WithColumns(schema, b.NewRecord(), stream.Float32List(flat, k))
}

// As model-vs-human counts: 6 images, one without a conflict (shape ==
// texture: out of the counts, in the denominator); of the 5 conflicts 2
// decided by shape, 1 by texture, 2 by neither: shape 2/6, texture 1/6,
// bias 2/3.
func TestShapeBiasCounts(t *testing.T) {
	s := metrics.NewShapeBias(nil)
	rec := cueStream(t, 8, []int32{0, 1, 2, 3, 4, 5}, []int64{0, 2, 3, 1, 5, 6}, []int{0, 1, 2, 1, 7, 0})
	if err := s.Add(rec, "s"); err != nil {
		t.Fatal(err)
	}
	rows, notes, err := s.Rows()
	if err != nil || len(notes) != 0 {
		t.Fatal(err, notes)
	}
	want := map[string]float64{metrics.ShapeMatch: 100 * 2.0 / 6, metrics.TextureMatch: 100 * 1.0 / 6, metrics.ShapeBiasPct: 100 * 2.0 / 3, metrics.Conflicts: 5}
	for _, r := range rows {
		if math.Abs(r.Value-want[r.Metric]) > 1e-9 || r.N != 6 {
			t.Errorf("%s = %v (n %d), want %v (n 6)", r.Metric, r.Value, r.N, want[r.Metric])
		}
		delete(want, r.Metric)
	}
	if len(want) != 0 {
		t.Errorf("missing %v", want)
	}
}

// A texture outside the categories, or a stream without the texture
// column, is an error naming it.
func TestShapeBiasErrors(t *testing.T) {
	rec := cueStream(t, 1000, []int32{3}, []int64{16}, []int{0})
	if err := metrics.NewShapeBias(nil).Add(rec, "s"); err == nil || !strings.Contains(err.Error(), "texture 16: want classes of the 16 categories") {
		t.Errorf("texture 16 with 1000 classes: %v", err)
	}
	plain := predictions(t, 3, []string{"m"}, []int32{0}, [][]float32{{1, 0, 0}})
	var gc *metrics.GroupColumnError
	if err := metrics.NewShapeBias(nil).Add(plain, "s"); err == nil || !errors.As(err, &gc) || gc.Column != "texture" {
		t.Errorf("no texture column: %v", err)
	}
}
