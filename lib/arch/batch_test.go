package arch_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/testutil"
)

// FindBatch on today's PyTorch exports: a dynamic batch, a declared one,
// one baked into a ViT's Reshape and Expand constants under an input
// relabelled dynamic, and a ResNet relabelled the same way whose graph
// (Flatten, no shape constants) truly runs at any batch.
func TestFindBatch(t *testing.T) {
	testutil.ORT(t)
	for _, c := range []struct {
		file string
		want int
		why  string
	}{
		{"resnet-op17", 0, ""},
		{"vit-op18", 0, ""},
		{"resnet-op17-b2", 2, "declared by its input x float[2,3,32,32]"},
		{"vit-op20-b1", 1, "declared by its input x float[1,3,32,32]"},
		{"vit-baked", 2, "the export wrote batch 2 into the graph's shape constants"},
		{"resnet-baked", 0, ""},
		{"lk-funcs", 0, ""},
	} {
		m, err := onnx.Load(testutil.Path(t, "testdata", "modern", c.file+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := arch.FindBatch(m, "x", "logits", []int64{3, 32, 32}, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if b.N != c.want || !strings.Contains(b.Why, c.why) {
			t.Errorf("%s: batch %d (%s), want %d (%s)", c.file, b.N, b.Why, c.want, c.why)
		}
		if note := b.Note(c.file); (note == "") != (c.want == 0) {
			t.Errorf("%s: note %q", c.file, note)
		}
	}
}

// A graph that runs at no batch is an error that says so and what to do,
// with ONNX Runtime's reason inside, never ONNX Runtime's text alone.
func TestFindBatchNone(t *testing.T) {
	testutil.ORT(t)
	g := &onnxpb.GraphProto{Name: proto.String("broken")}
	g.Input = []*onnxpb.ValueInfoProto{valueInfo("x", -1, 3, 4, 4)}
	g.Output = []*onnxpb.ValueInfoProto{valueInfo("y", -1, 5, -1)}
	// 48 values per image into rows of 7 x 5 x ?: no batch divides
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("shape"), Dims: []int64{3},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{7, 5, -1}})
	onnx.AddNode(g, "Reshape", "reshape", []string{"x", "shape"}, []string{"y"})
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}, Path: "broken.onnx"}
	_, err := arch.FindBatch(m, "x", "y", []int64{3, 4, 4}, 1)
	for _, want := range []string{"model broken.onnx: input x float[?,3,4,4] is declared with a dynamic batch, but the graph does not run at 2 or 3 images", "Reshape", "dynamic_axes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one with %q", err, want)
		}
	}
}
