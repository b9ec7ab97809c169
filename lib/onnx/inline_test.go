package onnx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

const testDomain = "test.lk"

func ref(name, refName string, t onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), RefAttrName: proto.String(refName), Type: t.Enum()}
}

func imports(opset int64) []*onnxpb.OperatorSetIdProto {
	return []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)},
		{Domain: proto.String(testDomain), Version: proto.Int64(1)}}
}

func fnode(op, domain string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(domain), Input: in, Output: out, Attribute: attrs}
}

// functionModel is x -> Outer(x, slope=0.1) -> Add t -> y, where Outer
// calls Inner twice and uses a value named t inside, Inner's alpha
// defaults to 2 and one call overrides it, and Clip's max is omitted.
func functionModel(opset int64) *onnxpb.ModelProto {
	inner := &onnxpb.FunctionProto{Name: proto.String("Inner"), Domain: proto.String(testDomain),
		Input: []string{"a", "like"}, Output: []string{"b"},
		AttributeProto: []*onnxpb.AttributeProto{onnx.FloatAttr("alpha", 2)},
		Node: []*onnxpb.NodeProto{
			fnode("Elu", "", []string{"a"}, []string{"e"}, ref("alpha", "alpha", onnxpb.AttributeProto_FLOAT)),
			fnode("CastLike", "", []string{"e", "like"}, []string{"b"}),
		},
		OpsetImport: imports(opset)}
	outer := &onnxpb.FunctionProto{Name: proto.String("Outer"), Domain: proto.String(testDomain),
		Input: []string{"x", "lo", "hi"}, Output: []string{"y"}, Attribute: []string{"slope"},
		Node: []*onnxpb.NodeProto{
			fnode("LeakyRelu", "", []string{"x"}, []string{"t"}, ref("alpha", "slope", onnxpb.AttributeProto_FLOAT)),
			fnode("Inner", testDomain, []string{"t", "x"}, []string{"u"}),
			fnode("Inner", testDomain, []string{"u", "x"}, []string{"v"}, onnx.FloatAttr("alpha", 0.5)),
			fnode("Clip", "", []string{"v", "lo", "hi"}, []string{"y"}),
		},
		OpsetImport: imports(opset)}
	g := &onnxpb.GraphProto{Name: proto.String("g")}
	g.Input = []*onnxpb.ValueInfoProto{tensor("x", 2, 3)}
	g.Output = []*onnxpb.ValueInfoProto{tensor("y", 2, 3)}
	onnx.AddInitializer(g, "lo", nil, []float32{-0.3})
	onnx.AddNode(g, "Neg", "t", []string{"x"}, []string{"t"}) // a graph value named as Outer's own t
	g.Node = append(g.Node, fnode("Outer", testDomain, []string{"t", "lo", ""}, []string{"o"}, onnx.FloatAttr("slope", 0.1)))
	onnx.AddNode(g, "Add", "add", []string{"o", "t"}, []string{"y"})
	return &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: g, OpsetImport: imports(opset),
		Functions: []*onnxpb.FunctionProto{outer, inner}}
}

func tensor(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
}

// The inlined graph computes what ONNX Runtime computes from the model's
// functions (ONNX Runtime inlines them itself): attribute references,
// defaults and overrides, nesting, an omitted optional input and a body
// value whose name the graph also uses.
func TestInlineMatchesONNXRuntime(t *testing.T) {
	testutil.ORT(t)
	dir := t.TempDir()
	withFuncs := filepath.Join(dir, "funcs.onnx")
	b, err := proto.Marshal(functionModel(18))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(withFuncs, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(withFuncs) // inlines
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Proto.GetFunctions()) != 0 {
		t.Fatalf("%d functions left", len(m.Proto.GetFunctions()))
	}
	var ops []string
	for _, n := range m.Graph().GetNode() {
		ops = append(ops, n.GetOpType())
		if n.GetDomain() == testDomain {
			t.Fatalf("node %s still calls a function", n.GetName())
		}
	}
	if got := strings.Join(ops, " "); got != "Neg LeakyRelu Elu CastLike Elu CastLike Clip Add" {
		t.Fatalf("inlined nodes %s", got)
	}
	inlined := filepath.Join(dir, "inlined.onnx")
	if err := m.Save(inlined); err != nil {
		t.Fatal(err)
	}
	x := []float32{-2, -0.5, -0.1, 0.2, 1, 3}
	var outs [2][]float32
	for i, p := range []string{withFuncs, inlined} {
		s, err := ort.NewSession(p, "x", []string{"y"}, ort.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = make([]float32, 6)
		err = s.Run(x, []int64{2, 3}, [][]float32{outs[i]}, [][]int64{{2, 3}})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range x {
		if outs[0][i] != outs[1][i] {
			t.Fatalf("y[%d]: inlined %g, ONNX Runtime's functions %g (all: %v vs %v)", i, outs[1][i], outs[0][i], outs[1], outs[0])
		}
	}
	// and by hand for one value: x=-2 -> t=2 -> LeakyRelu 2 -> Elu(2)=2
	// -> Elu(2)=2 -> Clip 2 -> + t = 4
	if outs[1][0] != 4 {
		t.Fatalf("y[0] = %g, want 4", outs[1][0])
	}
}

// A function that calls itself, or whose standard opset differs from the
// model's, is an error naming the node and the function.
func TestInlineErrors(t *testing.T) {
	loop := functionModel(18)
	loop.Functions[1].Node = append(loop.Functions[1].Node, fnode("Inner", testDomain, []string{"b", "like"}, []string{"z"}))
	other := functionModel(18)
	other.Functions[1].OpsetImport = imports(17)
	for _, c := range []struct {
		name string
		m    *onnxpb.ModelProto
		want string
	}{
		{"recursion", loop, "nested more than 32 deep"},
		{"opset", other, "version 17 of the standard operator set, the model 18"},
	} {
		b, _ := proto.Marshal(c.m)
		_, err := onnx.Parse(b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "function Inner") {
			t.Errorf("%s: %v, want an error with %q naming the function", c.name, err, c.want)
		}
	}
}
