package arch_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// How a model's edges are read, on today's PyTorch exports: each
// convention is said once, and what lk cannot tell by itself is an error
// that says which sidecar key tells it.
func TestAdaptConventions(t *testing.T) {
	testutil.ORT(t)
	dir := t.TempDir()
	copyModel := func(name, sidecar string) string {
		b, err := os.ReadFile(testutil.Path(t, "testdata", "modern", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if sidecar != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(sidecar), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	// a 1001-class head: class 0 may be background, and only the sidecar
	// can say
	g := &onnxpb.GraphProto{Name: proto.String("head1001")}
	g.Input = []*onnxpb.ValueInfoProto{valueInfo("x", -1, 3, 4, 4)}
	g.Output = []*onnxpb.ValueInfoProto{valueInfo("logits", -1, 1001)}
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("shape"), Dims: []int64{2},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0, 48}})
	onnx.AddInitializer(g, "w", []int64{48, 1001}, make([]float32, 48*1001))
	onnx.AddNode(g, "Reshape", "flat", []string{"x", "shape"}, []string{"f"})
	onnx.AddNode(g, "MatMul", "fc", []string{"f", "w"}, []string{"logits"})
	m1001 := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}}
	if err := m1001.Save(filepath.Join(dir, "head1001.onnx")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sidecar, err string
	}{
		{"", `output logits float[?,1001] has 1001 classes: if class 0 is a background class`},
		{`{"class_offset": 1, "mean": [0], "std": [1]}`, ""},
		{`{"num_classes": 1001}`, ""},
	} {
		os.WriteFile(filepath.Join(dir, "head1001.json"), []byte(c.sidecar), 0o644)
		if c.sidecar == "" {
			os.Remove(filepath.Join(dir, "head1001.json"))
		}
		_, err := arch.Load(filepath.Join(dir, "head1001.onnx"), stream.Shape{})
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("1001 classes, sidecar %s: error %v, want %q", c.sidecar, err, c.err)
		}
	}
	for _, c := range []struct {
		name, sidecar string
		note, err     string
	}{
		{"resnet-softmax", "", "is a Softmax's probabilities; lk reads its input", ""},
		{"resnet-half", "", "holds float16 values: lk analyses its float32 version", ""},
		{"resnet-bg", `{"class_offset": 1}`, "the first 1 output classes are dropped", ""},
		{"resnet-twoout", `{"output": "logits"}`, "", ""},
		{"resnet-twoout", "", "", `has 2 outputs (features float[?,32], logits float[?,10]); name the logits with "output" in the sidecar`},
		{"resnet-twoout", `{"output": "probs"}`, "", `has no output "probs" (it has features float[?,32], logits float[?,10])`},
		{"resnet-op17", `{"channel_order": "grb"}`, "", `channel_order "grb": want "rgb" or "bgr"`},
		{"resnet-op17", `{"input_scale": -255}`, "", `input_scale -255: want a positive number`},
		{"resnet-op17", `{"class_offset": 10}`, "", `class_offset 10 in the sidecar, but output logits float[?,10] has 10 classes`},
	} {
		p := copyModel(c.name, c.sidecar)
		m, err := arch.Load(p, stream.Shape{})
		os.Remove(filepath.Join(dir, c.name+".json"))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %s: error %v, want one with %q", c.name, c.sidecar, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s %s: %v", c.name, c.sidecar, err)
		case c.err == "" && !strings.Contains(strings.Join(m.Notes, "\n"), c.note):
			t.Errorf("%s %s: notes %q, want one with %q", c.name, c.sidecar, m.Notes, c.note)
		}
	}
}
