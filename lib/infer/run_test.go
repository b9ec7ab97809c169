package infer_test

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// images writes an image stream of n 3x32x32 rows; bad (if >= 0) gets a NaN pixel.
func images(t *testing.T, n, bad int, extra bool) *stream.Reader {
	t.Helper()
	shape := stream.Shape{C: 3, H: 32, W: 32}
	var fields []arrow.Field
	if extra {
		fields = append(fields, arrow.Field{Name: "severity", Type: arrow.PrimitiveTypes.Int32})
	}
	schema := stream.ImageSchema(shape, arrow.Metadata{}, fields...)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(append([]arrow.Field{schema.Field(0), schema.Field(1)}, fields...), nil))
	pix := make([]float32, n*shape.Size())
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append("row" + string(rune('A'+i)))
		b.Field(1).(*array.Int32Builder).Append(int32(i % 8))
		if extra {
			b.Field(2).(*array.Int32Builder).Append(int32(i))
		}
		for j := 0; j < shape.Size(); j++ {
			pix[i*shape.Size()+j] = float32((i*7+j)%256) / 255
		}
	}
	if bad >= 0 {
		pix[bad*shape.Size()+100] = float32(math.NaN())
	}
	r := b.NewRecord()
	cols := []arrow.Array{r.Column(0), r.Column(1), stream.Float32List(pix, shape.Size())}
	if extra {
		cols = append(cols, r.Column(2))
	}
	if err := w.Write(array.NewRecord(schema, cols, int64(n))); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rd, err := stream.NewReader(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func TestNaNLogitsNameTheRow(t *testing.T) {
	testutil.ORT(t)
	err := infer.Run(images(t, 5, 3, false), io.Discard, infer.Options{Model: testutil.Path(t, "testdata", "zoo", "resnet.onnx"), Batch: 2})
	if err == nil || !strings.Contains(err.Error(), `row id "rowD"`) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("err = %v, want it to name row id rowD and NaN", err)
	}
}

// Unknown columns pass through untouched, in order, and a column lk-infer
// would add must not already exist.
func TestPassThrough(t *testing.T) {
	testutil.ORT(t)
	var out bytes.Buffer
	if err := infer.Run(images(t, 5, -1, true), &out, infer.Options{Model: testutil.Path(t, "testdata", "zoo", "resnet.onnx"), Batch: 2}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.NewReader(&out, "out")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range r.Schema().Fields() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "id,label,image,severity,model,logits" {
		t.Fatalf("columns %s", got)
	}
	for r.Next() {
		sev := r.Record().Column(3).(*array.Int32)
		for i := 0; i < sev.Len(); i++ {
			if sev.Value(i) != int32(i) {
				t.Fatalf("severity row %d = %d", i, sev.Value(i))
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	// feeding predictions back in is refused: it would overwrite logits
	var again bytes.Buffer
	infer.Run(images(t, 2, -1, false), &again, infer.Options{Model: testutil.Path(t, "testdata", "zoo", "resnet.onnx")})
	r2, _ := stream.NewReader(bytes.NewReader(again.Bytes()), "preds")
	err = infer.Run(r2, io.Discard, infer.Options{Model: testutil.Path(t, "testdata", "zoo", "resnet.onnx")})
	if err == nil || !strings.Contains(err.Error(), `already has a column "model"`) {
		t.Fatalf("re-inference: %v", err)
	}
}

func tinyModel(t *testing.T, name string) string {
	return testutil.Path(t, "testdata", "models", name+".onnx")
}

func readLogits(t *testing.T, b []byte) []float32 {
	t.Helper()
	r, err := stream.NewReader(bytes.NewReader(b), "out")
	if err != nil {
		t.Fatal(err)
	}
	col, _, err := stream.Logits(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var all []float32
	for r.Next() {
		v, _, _ := stream.Float32Rows(r.Record().Column(col))
		all = append(all, v...)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return all
}

// A graph traced with a fixed batch of 4 runs a 10-row stream (the last
// batch padded) and gives the same logits as its dynamic-batch twin.
func TestFixedBatchModel(t *testing.T) {
	testutil.ORT(t)
	var fixed, dyn bytes.Buffer
	if err := infer.Run(images(t, 10, -1, false), &fixed, infer.Options{Model: tinyModel(t, "tiny_batch4"), Batch: 64}); err != nil {
		t.Fatal(err)
	}
	if err := infer.Run(images(t, 10, -1, false), &dyn, infer.Options{Model: tinyModel(t, "tiny_dynamic"), Batch: 3}); err != nil {
		t.Fatal(err)
	}
	a, b := readLogits(t, fixed.Bytes()), readLogits(t, dyn.Bytes())
	if len(a) != 30 || len(b) != 30 {
		t.Fatalf("%d and %d logits, want 30", len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			t.Fatalf("logit %d: fixed batch %v, dynamic %v", i, a[i], b[i])
		}
	}
}

// A model that takes float16 images (x.half() exports) gets its float32
// images cast at the input: the same logits as the float32 export of the
// same weights, up to float16 rounding of the pixels (11 bits).
func TestFloat16InputModel(t *testing.T) {
	testutil.ORT(t)
	var half, full bytes.Buffer
	if err := infer.Run(images(t, 10, -1, false), &half, infer.Options{Model: tinyModel(t, "fp16_input"), Batch: 4}); err != nil {
		t.Fatal(err)
	}
	if err := infer.Run(images(t, 10, -1, false), &full, infer.Options{Model: tinyModel(t, "tiny_dynamic"), Batch: 4}); err != nil {
		t.Fatal(err)
	}
	a, b := readLogits(t, half.Bytes()), readLogits(t, full.Bytes())
	if len(a) != 30 || len(b) != 30 {
		t.Fatalf("%d and %d logits, want 30", len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 2e-3*(1+math.Abs(float64(b[i]))) {
			t.Fatalf("logit %d: float16 input %v, float32 %v", i, a[i], b[i])
		}
	}
}

func TestModelInputErrors(t *testing.T) {
	testutil.ORT(t)
	cases := []struct {
		model string
		want  []string
	}{
		{"two_inputs", []string{"has 2 inputs (a, b)", `"input"`}},
	}
	for _, c := range cases {
		_, err := infer.Open(infer.Options{Model: tinyModel(t, c.model)})
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to say %q", c.model, err, w)
			}
		}
	}
}
