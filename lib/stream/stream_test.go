package stream_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/stream"
)

func imageStream(t testing.TB, shape stream.Shape, rows int) []byte {
	t.Helper()
	schema := stream.ImageSchema(shape, arrow.Metadata{})
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < rows; r += 2 {
		ids := array.NewStringBuilder(memory.DefaultAllocator)
		labels := array.NewInt32Builder(memory.DefaultAllocator)
		n := min(2, rows-r)
		pix := make([]float32, n*shape.Size())
		for i := 0; i < n; i++ {
			ids.Append("img" + string(rune('a'+r+i)))
			labels.Append(int32(r + i))
			pix[i*shape.Size()] = float32(r+i) / 10
		}
		cols := []arrow.Array{ids.NewArray(), labels.NewArray(), stream.Float32List(pix, shape.Size())}
		rec := array.NewRecord(schema, cols, int64(n))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	shape := stream.Shape{C: 3, H: 4, W: 5}
	data := imageStream(t, shape, 5)
	r, err := stream.NewReader(bytes.NewReader(data), "test")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := stream.Images(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if cols.Shape != shape {
		t.Fatalf("shape %v, want %v", cols.Shape, shape)
	}
	n := 0
	for r.Next() {
		rec := r.Record()
		pix, width, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if got, want := pix[i*width], float32(n)/10; got != want {
				t.Errorf("row %d pixel 0 = %v, want %v", n, got, want)
			}
			if l := rec.Column(cols.Label).(*array.Int32).Value(i); l != int32(n) {
				t.Errorf("row %d label %d", n, l)
			}
			n++
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("read %d rows, want 5", n)
	}
}

// A stream cut anywhere (mid-message or at a message boundary) is reported
// as truncated, never read as a shorter complete stream.
func TestTruncated(t *testing.T) {
	data := imageStream(t, stream.Shape{C: 1, H: 2, W: 2}, 6)
	for cut := 1; cut < len(data); cut += 7 {
		r, err := stream.NewReader(bytes.NewReader(data[:cut]), "cut")
		if err != nil {
			continue // cut inside the schema: refused at open
		}
		for r.Next() {
		}
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("stream cut at byte %d of %d: err = %v, want a truncation error", cut, len(data), err)
		}
	}
	// Cut exactly before the end-of-stream marker: all records are complete.
	r, err := stream.NewReader(bytes.NewReader(data[:len(data)-8]), "cut")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "end-of-stream") {
		t.Fatalf("stream without end marker: err = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := stream.NewReader(bytes.NewReader(nil), "stdin"); err == nil || !strings.Contains(err.Error(), "empty input") {
		t.Errorf("empty input: %v", err)
	}
	if _, err := stream.NewReader(strings.NewReader("id,label\n1,2\n"), "x.csv"); err == nil || !strings.Contains(err.Error(), "not an Arrow IPC stream") {
		t.Errorf("CSV input: %v", err)
	}
}

func TestImagesValidation(t *testing.T) {
	good := stream.ImageSchema(stream.Shape{C: 3, H: 2, W: 2}, arrow.Metadata{})
	md := good.Metadata()
	cases := []struct {
		name   string
		schema *arrow.Schema
		want   string
	}{
		{"no image column", arrow.NewSchema(good.Fields()[:2], &md), `no column "image"`},
		{"label type", arrow.NewSchema([]arrow.Field{good.Field(0), {Name: "label", Type: arrow.PrimitiveTypes.Int64}, good.Field(2)}, &md), `column "label" is int64, want int32`},
		{"shape mismatch", arrow.NewSchema(good.Fields(), ptr(stream.WithMeta(md, stream.MetaShape, "3,4,4"))), "12 values per row but lk.shape says 3x4x4"},
		{"no shape", arrow.NewSchema(good.Fields(), ptr(stream.WithoutMeta(md, stream.MetaShape))), "no lk.shape"},
		{"HWC", arrow.NewSchema(good.Fields(), ptr(stream.WithMeta(md, stream.MetaLayout, "HWC"))), "lk streams are CHW"},
	}
	if _, err := stream.Images(good); err != nil {
		t.Fatalf("good schema: %v", err)
	}
	for _, c := range cases {
		_, err := stream.Images(c.schema)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

func ptr(m arrow.Metadata) *arrow.Metadata { return &m }

func TestProvenanceAndAppend(t *testing.T) {
	md, err := stream.AddStep(arrow.Metadata{}, stream.Step{Tool: "lk-data"})
	if err != nil {
		t.Fatal(err)
	}
	md, _ = stream.AddStep(md, stream.Step{Tool: "lk-infer", Model: "m.onnx"})
	steps, err := stream.Provenance(md)
	if err != nil || len(steps) != 2 || steps[0].Tool != "lk-data" || steps[1].Model != "m.onnx" || steps[1].Version != stream.Version {
		t.Fatalf("provenance = %+v, %v", steps, err)
	}
	schema := stream.ImageSchema(stream.Shape{C: 1, H: 1, W: 1}, md)
	if _, err := stream.Append(schema, md, arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int32}); err == nil {
		t.Error("Append let a tool overwrite the label column")
	}
}

func TestParseShape(t *testing.T) {
	for in, want := range map[string]stream.Shape{"3,224,224": {3, 224, 224}, "1x28x28": {1, 28, 28}} {
		if got, err := stream.ParseShape(in); err != nil || got != want {
			t.Errorf("ParseShape(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "3,224", "3,0,2", "a,b,c"} {
		if _, err := stream.ParseShape(in); err == nil {
			t.Errorf("ParseShape(%q) accepted", in)
		}
	}
}

// A resumed Transformer finds the input key in the records as read, also
// when a derived column it drops stands before a key column.
func TestTransformerKeyBesideDerivedColumns(t *testing.T) {
	sh := stream.Shape{C: 1, H: 1, W: 2}
	md := stream.MarkDerived(arrow.Metadata{}, "logits")
	md = stream.WithMeta(md, stream.MetaKey, "id,corruption")
	fields := []arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "label", Type: arrow.PrimitiveTypes.Int32},
		stream.ImageField(sh), stream.LogitsField(2), {Name: "corruption", Type: arrow.BinaryTypes.String},
	}
	md = stream.WithMeta(md, stream.MetaShape, "1,1,2")
	schema := arrow.NewSchema(fields, &md)
	rec := func() arrow.Record {
		ids := stream.ConstString("a", 2)
		b := array.NewInt32Builder(memory.DefaultAllocator)
		b.AppendValues([]int32{0, 1}, nil)
		labels := b.NewArray()
		img := stream.Float32List([]float32{0, 1, 2, 3}, 2)
		logits := stream.Float32List([]float32{0, 1, 2, 3}, 2)
		cb := array.NewStringBuilder(memory.DefaultAllocator)
		cb.AppendValues([]string{"fog", "snow"}, nil)
		return array.NewRecord(schema, []arrow.Array{ids, labels, img, logits, cb.NewArray()}, 2)
	}()
	var in bytes.Buffer
	w, _ := stream.NewWriter(&in, schema)
	w.Write(rec)
	w.Close()
	path := filepath.Join(t.TempDir(), "out.arrow")
	run := func(input []byte) int {
		r, err := stream.NewReader(bytes.NewReader(input), "in")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := stream.NewTransformer(r, stream.OutputOptions{Path: path, Resume: true}, stream.Step{Tool: "t"}, 1,
			arrow.Field{Name: stream.ColFreq, Type: arrow.PrimitiveTypes.Float64})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		err = tr.Each(func(rec arrow.Record, px []float32, n int) error {
			calls++
			return tr.Write(rec, px, stream.ConstFloat64(0.5, n))
		})
		if err != nil {
			t.Fatal(err)
		}
		return calls
	}
	if n := run(in.Bytes()); n != 1 {
		t.Fatalf("%d records computed, want 1", n)
	}
	first, _ := os.ReadFile(path)
	if n := run(in.Bytes()); n != 0 { // resumes a complete file: nothing to compute
		t.Errorf("resuming a complete file computed %d records again", n)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
		t.Error("resuming a complete file changed it")
	}
	r, _ := stream.NewReader(bytes.NewReader(first), "out")
	k, err := stream.NewKeyer(r.Schema())
	if err != nil || strings.Join(k.Names, ",") != "id,corruption,freq" || r.Schema().HasField("logits") {
		t.Errorf("key %v %v, fields %v", k, err, r.Schema())
	}
}

// Streams written one after another (cat shard*.arrow) read as one, in
// order; what follows an end-of-stream marker is never ignored: another
// stream of other columns, bytes that are no stream, and a second stream
// cut short are errors that say where.
func TestConcatenated(t *testing.T) {
	sh := stream.Shape{C: 1, H: 2, W: 2}
	a, b, c := imageStream(t, sh, 3), imageStream(t, sh, 5), imageStream(t, sh, 4)
	other := imageStream(t, stream.Shape{C: 1, H: 3, W: 3}, 2)
	read := func(data []byte) (int, []float32, error) {
		r, err := stream.NewReader(bytes.NewReader(data), "cat")
		if err != nil {
			return 0, nil, err
		}
		defer r.Release()
		n := 0
		var first []float32
		for r.Next() {
			px, w, err := stream.Float32Rows(r.Record().Column(2))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < int(r.Record().NumRows()); i++ {
				first = append(first, px[i*w])
			}
			n += int(r.Record().NumRows())
		}
		return n, first, r.Err()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	n, first, err := read(cat(a, b, c))
	if err != nil || n != 12 {
		t.Fatalf("three streams of 3, 5 and 4 rows: %d rows, %v", n, err)
	}
	want := []float32{0, 0.1, 0.2, 0, 0.1, 0.2, 0.3, 0.4, 0, 0.1, 0.2, 0.3}
	for i := range want {
		if first[i] != want[i] {
			t.Fatalf("row %d: %v, want %v (the streams in order)", i, first[i], want[i])
		}
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"other columns", cat(a, other), fmt.Sprintf("the stream starting at byte %d has columns", len(a))},
		{"garbage after the marker", cat(a, []byte("hello, world")), fmt.Sprintf("3 rows, then at byte %d bytes that are not another Arrow IPC stream", len(a))},
		{"second stream cut", cat(a, b[:len(b)-20]), "stream truncated after"},
		{"second stream without its marker", cat(a, b[:len(b)-8]), "truncated after 8 rows: no end-of-stream marker"},
		{"another label space", cat(a, labelled(t, sh, "folders")), `has lk.label_space "folders", the first one ""`},
	} {
		if _, _, err := read(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// labelled is a 2-row image stream whose metadata names a label space.
func labelled(t testing.TB, sh stream.Shape, space string) []byte {
	t.Helper()
	md := arrow.NewMetadata([]string{stream.MetaLabelSpace}, []string{space})
	schema := stream.ImageSchema(sh, md)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	ids := array.NewStringBuilder(memory.DefaultAllocator)
	labels := array.NewInt32Builder(memory.DefaultAllocator)
	ids.AppendValues([]string{"p", "q"}, nil)
	labels.AppendValues([]int32{0, 1}, nil)
	rec := array.NewRecord(schema, []arrow.Array{ids.NewArray(), labels.NewArray(), stream.Float32List(make([]float32, 2*sh.Size()), sh.Size())}, 2)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// An image producer's columns are key, but for those that only describe
// a row (STREAMS.md: seq, difficulty, texture, saliency, broken_by).
func TestImageSchemaKeyLeavesDescriptiveOut(t *testing.T) {
	var extra []arrow.Field
	for _, n := range []string{stream.ColPerturbation, stream.ColSeq, stream.ColFrame, stream.ColDifficulty, stream.ColTexture, "tag"} {
		extra = append(extra, arrow.Field{Name: n, Type: arrow.BinaryTypes.String})
	}
	s := stream.ImageSchema(stream.Shape{C: 1, H: 2, W: 2}, arrow.Metadata{}, extra...)
	if got := strings.Join(stream.Key(s), ","); got != "id,perturbation,frame,tag" {
		t.Errorf("key %s, want id,perturbation,frame,tag", got)
	}
	for _, n := range []string{stream.ColSeq, stream.ColDifficulty, stream.ColTexture, stream.ColSaliency, stream.ColBrokenBy} {
		if !stream.IsDescriptive(n) || stream.IsCondition(n) {
			t.Errorf("%s: descriptive %v, condition %v", n, stream.IsDescriptive(n), stream.IsCondition(n))
		}
	}
}
