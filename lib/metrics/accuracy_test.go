package metrics_test

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/stream"
)

func TestCrossEntropy(t *testing.T) {
	cases := []struct {
		logits []float32
		label  int
		want   float64
	}{
		{[]float32{0, 0, 0, 0}, 2, math.Log(4)},                            // uniform: log K
		{[]float32{1, 2, 3}, 2, math.Log(math.Exp(-2) + math.Exp(-1) + 1)}, // logsumexp - l
		{[]float32{1000, 0}, 1, 1000},                                      // no overflow
	}
	for _, c := range cases {
		if got := metrics.CrossEntropy(c.logits, c.label); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("CrossEntropy(%v, %d) = %v, want %v", c.logits, c.label, got, c.want)
		}
	}
}

func TestRank(t *testing.T) {
	l := []float32{0.1, 0.9, 0.5, 0.9, 0.2}
	for label, want := range []int{4, 0, 2, 1, 3} { // ties: the lower index ranks first, as argmax
		if got := metrics.Rank(l, label); got != want {
			t.Errorf("Rank(label %d) = %d, want %d", label, got, want)
		}
	}
}

func predictions(t *testing.T, k int, models []string, labels []int32, logits [][]float32) arrow.Record {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "model", Type: arrow.BinaryTypes.String},
		stream.LogitsField(k),
	}, nil)
	base := arrow.NewSchema(schema.Fields()[:3], nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, base)
	var flat []float32
	for i := range labels {
		b.Field(0).(*array.StringBuilder).Append(string(rune('a' + i)))
		b.Field(1).(*array.Int32Builder).Append(labels[i])
		b.Field(2).(*array.StringBuilder).Append(models[i])
		flat = append(flat, logits[i]...)
	}
	return stream.WithColumns(schema, b.NewRecord(), stream.Float32List(flat, k))
}

func TestAccuracyGrouped(t *testing.T) {
	rec := predictions(t, 6,
		[]string{"b", "a", "a", "b", "a"},
		[]int32{0, 1, 2, 3, -1},
		[][]float32{
			{5, 0, 0, 0, 0, 0}, // b: correct
			{0, 1, 2, 3, 4, 5}, // a: label 1 at rank 4 -> top5 hit, top1 miss
			{0, 0, 9, 0, 0, 0}, // a: correct
			{6, 5, 4, 0, 2, 1}, // b: label 3 at rank 5 -> miss both
			{0, 0, 0, 0, 0, 0}, // unlabelled
		})
	acc := metrics.NewAccuracy([]string{"model"}, nil)
	if err := acc.Add(rec, "test"); err != nil {
		t.Fatal(err)
	}
	rows, err := acc.Rows()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"a/top1": 50, "a/top5": 100, "b/top1": 50, "b/top5": 50}
	for _, r := range rows {
		if w, ok := want[r.Group[0]+"/"+r.Metric]; ok && (r.Value != w || r.N != 2) {
			t.Errorf("%s %s = %v (n %d), want %v (n 2)", r.Group[0], r.Metric, r.Value, r.N, w)
		}
	}
	if rows[0].Group[0] != "a" {
		t.Errorf("groups not sorted: first is %q", rows[0].Group[0])
	}
	if acc.Unlabelled() != 1 {
		t.Errorf("unlabelled = %d, want 1", acc.Unlabelled())
	}
}

// With an ImageNet-A mask, a large logit outside the 200 classes wrecks the
// 1000-way score but not the masked one.
func TestAccuracySubset(t *testing.T) {
	sub := imagenet.Subsets["imagenet-a"]
	label := int32(sub.Indices[3])
	logits := make([]float32, 1000)
	logits[label] = 5
	logits[0] = 10 // class 0 is not an ImageNet-A class
	rec := predictions(t, 1000, []string{"m"}, []int32{label}, [][]float32{logits})
	acc := metrics.NewAccuracy(nil, sub)
	if err := acc.Add(rec, "test"); err != nil {
		t.Fatal(err)
	}
	rows, _ := acc.Rows()
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Metric] = r.Value
	}
	if got["top1_masked"] != 100 || got["top1_1000way"] != 0 {
		t.Errorf("masked %v, 1000-way %v; want 100 and 0", got["top1_masked"], got["top1_1000way"])
	}
	// a label outside the subset is an error naming the row
	bad := predictions(t, 1000, []string{"m"}, []int32{0}, [][]float32{logits})
	if err := acc.Add(bad, "test"); err == nil || !strings.Contains(err.Error(), `row id "a"`) || !strings.Contains(err.Error(), "n01440764") {
		t.Errorf("label outside subset: %v", err)
	}
}

func TestSubsetsAreDistinct(t *testing.T) {
	for name, s := range imagenet.Subsets {
		if len(s.Indices) != 200 {
			t.Errorf("%s has %d classes", name, len(s.Indices))
		}
	}
	// spot checks against the datasets' wnid lists
	for _, c := range []struct{ set, wnid string }{{"imagenet-a", "n01498041"}, {"imagenet-r", "n01443537"}, {"imagenet-o", "n01443537"}, {"imagenet-a", "n12267677"}} {
		i, ok := imagenet.Index(c.wnid)
		_, in := imagenet.Subsets[c.set].Position(i)
		if !ok || !in {
			t.Errorf("%s (%s) not in %s", c.wnid, imagenet.WNIDs[i], c.set)
		}
	}
	if len(imagenet.WNIDs) != 1000 || imagenet.WNIDs[0] != "n01440764" || imagenet.WNIDs[999] != "n15075141" {
		t.Errorf("wnid list: %d entries", len(imagenet.WNIDs))
	}
}

// ImageNet-9: the 1000-way top-1 mapped to the superclasses; a class
// outside them is wrong.
func TestIN9(t *testing.T) {
	mk := func(top int) []float32 {
		l := make([]float32, 1000)
		l[top] = 1
		return l
	}
	// dog (label 0) predicted as 200 (a dog), as 171 (excluded), as 7 (bird)
	rec := predictions(t, 1000, []string{"m", "m", "m"}, []int32{0, 0, 1}, [][]float32{mk(200), mk(171), mk(7)})
	a := metrics.NewAccuracy(nil, nil)
	a.IN9 = true
	if err := a.Add(rec, "test"); err != nil {
		t.Fatal(err)
	}
	rows, err := a.Rows()
	if err != nil || len(rows) != 1 || rows[0].Metric != "top1_in9" || math.Abs(rows[0].Value-200.0/3) > 1e-9 {
		t.Errorf("rows %v %v", rows, err)
	}
}

// Grouped by variant, ImageNet-9's BG-Gap is Mixed-Same minus Mixed-Rand
// top-1 (docs/protocols.md §6), per group of the other columns.
func TestBGGap(t *testing.T) {
	hit, miss := []float32{1, 0}, []float32{0, 1}
	// "model" plays the variant column: 3 of 4 right on mixed_same, 1 of 4 on mixed_rand
	rec := predictions(t, 2,
		[]string{"mixed_same", "mixed_same", "mixed_same", "mixed_same", "mixed_rand", "mixed_rand", "mixed_rand", "mixed_rand", "original"},
		[]int32{0, 0, 0, 0, 0, 0, 0, 0, 0},
		[][]float32{hit, hit, hit, miss, hit, miss, miss, miss, hit})
	schema := arrow.NewSchema([]arrow.Field{rec.Schema().Field(0), rec.Schema().Field(1),
		{Name: "variant", Type: arrow.BinaryTypes.String}, rec.Schema().Field(3)}, nil)
	rec = array.NewRecord(schema, rec.Columns(), rec.NumRows())
	a := metrics.NewAccuracy([]string{"variant"}, nil)
	if err := a.Add(rec, "test"); err != nil {
		t.Fatal(err)
	}
	rows, err := a.Rows()
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if last.Metric != metrics.BGGap || last.Group[0] != "mixed_same-mixed_rand" || math.Abs(last.Value-50) > 1e-9 {
		t.Errorf("last row %+v, want bg_gap 75 - 25 = 50", last)
	}
}

// A class-mapped stream (lk-data --class-map: ObjectNet's chair is four
// ImageNet classes) is scored by group: top1_masked takes the argmax over
// the grouped classes, top1_1000way over all, and either is right when
// it falls in the label's group.
func TestAccuracyClassGroups(t *testing.T) {
	logit := func(hot map[int]float32) []float32 {
		row := make([]float32, 1000)
		for c, v := range hot {
			row[c] = v
		}
		return row
	}
	rec := predictions(t, 1000, []string{"m", "m", "m"}, []int32{423, 954, 423}, [][]float32{
		logit(map[int]float32{559: 5, 954: 1}),          // a chair in the chair group: right both ways
		logit(map[int]float32{100: 5, 954: 2, 423: 1}),  // an unmapped class first: right only masked
		logit(map[int]float32{954: 3, 423: 1, 200: 4})}) // banana over chair: wrong both ways
	md := arrow.NewMetadata([]string{stream.MetaClassGroups}, []string{"423,559,765,857;954"})
	schema := arrow.NewSchema(rec.Schema().Fields(), &md)
	rec = array.NewRecord(schema, rec.Columns(), rec.NumRows())
	a := metrics.NewAccuracy(nil, nil)
	if err := a.Add(rec, "s"); err != nil {
		t.Fatal(err)
	}
	rows, err := a.Rows()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Metric] = r.Value
	}
	if math.Abs(got["top1_masked"]-200.0/3) > 1e-9 || math.Abs(got["top1_1000way"]-100.0/3) > 1e-9 || len(got) != 2 {
		t.Errorf("rows %v, want top1_masked 66.67 and top1_1000way 33.33", got)
	}
	plain := predictions(t, 1000, []string{"m"}, []int32{1}, [][]float32{logit(nil)})
	if err := a.Add(plain, "p"); err == nil || !strings.Contains(err.Error(), "p: has no class groups") {
		t.Errorf("mixing a plain stream: %v", err)
	}
	bad := array.NewRecord(arrow.NewSchema(rec.Schema().Fields(), &md), predictions(t, 1000, []string{"m"}, []int32{7}, [][]float32{logit(nil)}).Columns(), 1)
	if err := metrics.NewAccuracy(nil, nil).Add(bad, "b"); err == nil || !strings.Contains(err.Error(), "label 7 is in none of the stream's class groups") {
		t.Errorf("label outside the groups: %v", err)
	}
}
