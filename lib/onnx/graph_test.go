package onnx_test

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/testutil"
)

func node(op, name string, in []string, out ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out}
}

func vi(name string) *onnxpb.ValueInfoProto { return &onnxpb.ValueInfoProto{Name: proto.String(name)} }

func TestGraphOrderAndErrors(t *testing.T) {
	// nodes listed out of order: c needs b needs a
	g := &onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{vi("x")},
		Output: []*onnxpb.ValueInfoProto{vi("z")},
		Node: []*onnxpb.NodeProto{
			node("Add", "c", []string{"y", "x"}, "z"),
			node("Relu", "b", []string{"a_out"}, "y"),
			node("Neg", "a", []string{"x"}, "a_out"),
		},
	}
	v, err := onnx.NewGraph(g)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range v.Order {
		names = append(names, g.Node[i].GetName())
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("order %v", names)
	}
	if len(v.Consumers["x"]) != 2 || v.Producer["y"] != 1 {
		t.Errorf("consumers of x %v, producer of y %d", v.Consumers["x"], v.Producer["y"])
	}

	g.Node[2].Input = []string{"z"} // a now reads c's output: a cycle
	if _, err := onnx.NewGraph(g); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	g.Node[2].Input = []string{"nowhere"}
	if _, err := onnx.NewGraph(g); err == nil || !strings.Contains(err.Error(), `node a (Neg) reads "nowhere"`) {
		t.Errorf("undefined input: %v", err)
	}
}

// Bypassing a subgraph turns it into the identity and prunes what is dead.
func TestBypassAndPrune(t *testing.T) {
	g := &onnxpb.GraphProto{
		Input:       []*onnxpb.ValueInfoProto{vi("x")},
		Output:      []*onnxpb.ValueInfoProto{vi("out")},
		Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), Dims: []int64{1}, DataType: proto.Int32(1), RawData: make([]byte, 4)}},
		Node: []*onnxpb.NodeProto{
			node("Mul", "scale", []string{"x", "w"}, "h"),
			node("Relu", "act", []string{"h"}, "block"),
			node("Neg", "head", []string{"block"}, "out"),
		},
	}
	if err := onnx.Bypass(g, "x", "block"); err != nil {
		t.Fatal(err)
	}
	if len(g.Node) != 1 || g.Node[0].GetName() != "head" || g.Node[0].Input[0] != "x" || len(g.Initializer) != 0 {
		t.Errorf("after bypass: %d nodes, head reads %v, %d initializers", len(g.Node), g.Node[0].Input, len(g.Initializer))
	}
}

// The zoo graphs index cleanly and their orders respect every edge.
func TestZooGraphs(t *testing.T) {
	for _, name := range testutil.Zoo {
		m, err := onnx.Load(testutil.Path(t, "testdata", "zoo", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := onnx.NewGraph(m.Graph())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pos := map[int]int{}
		for p, i := range v.Order {
			pos[i] = p
		}
		for i, n := range m.Graph().GetNode() {
			for _, in := range n.GetInput() {
				if j, ok := v.Producer[in]; ok && pos[j] >= pos[i] {
					t.Errorf("%s: node %s comes before its input's producer", name, onnx.NodeName(n))
				}
			}
		}
		if m.Opset() != 17 {
			t.Errorf("%s: opset %d", name, m.Opset())
		}
	}
}

// Inserting nodes and initializers: logits scaled by 2 through an added
// Mul after the output give ONNX Runtime's logits of the original times 2.
func TestAddNodeAndInitializer(t *testing.T) {
	testutil.ORT(t)
	src := testutil.Path(t, "testdata", "zoo", "resnet.onnx")
	m, err := onnx.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph()
	onnx.Rename(g, "logits", "logits_unscaled")
	onnx.AddInitializer(g, "two", []int64{1}, []float32{2})
	onnx.AddNode(g, "Mul", "scale", []string{"logits_unscaled", "two"}, []string{"logits"})
	g.Output[0].Name = proto.String("logits")
	if _, err := onnx.NewGraph(g); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "scaled.onnx")
	if err := m.Save(dst); err != nil {
		t.Fatal(err)
	}
	copySidecar(t, src, dst)
	want, got := runZoo(t, src), runZoo(t, dst)
	for i := range want {
		if got[i] != 2*want[i] {
			t.Fatalf("logit %d: %g, want 2 x %g", i, got[i], want[i])
		}
	}
}
