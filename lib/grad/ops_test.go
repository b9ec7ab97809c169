package grad

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// graph helpers for the op cases: x is the differentiable input, y the output.
type gb struct{ g *onnxpb.GraphProto }

func (b gb) n(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	onnx.AddNode(b.g, op, out+"_node", in, []string{out}, attrs...)
}

func (b gb) f(name string, dims []int64, vals ...float32) string {
	onnx.AddInitializer(b.g, name, dims, vals)
	return name
}

func (b gb) i(name string, vals ...int64) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(vals))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals})
	return name
}

func (b gb) scalarI(name string, v int64) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name),
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{v}})
	return name
}

func ramp(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(math.Sin(float64(i)*1.7+0.3))
	}
	return v
}

func sattr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func fattr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

type opCase struct {
	name  string
	x     []int64 // x's dims after the batch axis (batch 2 in the test)
	opset int64
	build func(b gb) // from "x" to "y"
}

var i1 = onnx.IntAttr
var is = onnx.IntsAttr

var opCases = []opCase{
	{"Add broadcast", []int64{3, 4, 5}, 17, func(b gb) { b.n("Add", []string{"x", b.f("c", []int64{3, 1, 1}, 1, 2, 3)}, "y") }},
	{"Sub both operands", []int64{3, 4, 5}, 17, func(b gb) {
		b.n("ReduceMean", []string{"x"}, "m", is("axes", 2, 3), i1("keepdims", 1))
		b.n("Sub", []string{"m", "x"}, "y")
	}},
	{"Mul both operands", []int64{3, 4}, 17, func(b gb) { b.n("Sigmoid", []string{"x"}, "s"); b.n("Mul", []string{"x", "s"}, "y") }},
	{"Div both operands", []int64{3, 4}, 17, func(b gb) {
		b.n("Mul", []string{"x", "x"}, "sq")
		b.n("Add", []string{"sq", b.f("one", nil, 1)}, "d")
		b.n("Div", []string{"x", "d"}, "y")
	}},
	{"Pow", []int64{6}, 17, func(b gb) { b.n("Pow", []string{"x", b.f("p", nil, 3)}, "y") }},
	{"Sqrt Reciprocal Neg", []int64{6}, 17, func(b gb) {
		b.n("Mul", []string{"x", "x"}, "sq")
		b.n("Add", []string{"sq", b.f("one", nil, 1)}, "d")
		b.n("Sqrt", []string{"d"}, "r")
		b.n("Reciprocal", []string{"r"}, "q")
		b.n("Neg", []string{"q"}, "y")
	}},
	{"Exp Log", []int64{6}, 17, func(b gb) {
		b.n("Exp", []string{"x"}, "e")
		b.n("Add", []string{"e", b.f("one", nil, 1)}, "d")
		b.n("Log", []string{"d"}, "y")
	}},
	{"Relu", []int64{3, 4}, 17, func(b gb) { b.n("Relu", []string{"x"}, "y") }},
	{"LeakyRelu", []int64{3, 4}, 17, func(b gb) { b.n("LeakyRelu", []string{"x"}, "y", fattr("alpha", 0.1)) }},
	{"Tanh", []int64{6}, 17, func(b gb) { b.n("Tanh", []string{"x"}, "y") }},
	{"Erf", []int64{6}, 17, func(b gb) { b.n("Erf", []string{"x"}, "y") }},
	{"Gelu", []int64{6}, 20, func(b gb) { b.n("Gelu", []string{"x"}, "y") }},
	{"HardSigmoid", []int64{8}, 17, func(b gb) {
		b.n("Mul", []string{"x", b.f("k", nil, 3)}, "t")
		b.n("HardSigmoid", []string{"t"}, "y", fattr("alpha", 0.25), fattr("beta", 0.4))
	}},
	{"HardSwish", []int64{8}, 17, func(b gb) { b.n("Mul", []string{"x", b.f("k", nil, 4)}, "t"); b.n("HardSwish", []string{"t"}, "y") }},
	{"Clip Identity Dropout Cast", []int64{8}, 17, func(b gb) {
		b.n("Clip", []string{"x", b.f("lo", nil, -0.5), b.f("hi", nil, 0.7)}, "c")
		b.n("Identity", []string{"c"}, "d")
		b.n("Dropout", []string{"d"}, "e")
		b.n("Cast", []string{"e"}, "y", i1("to", int64(onnxpb.TensorProto_FLOAT)))
	}},
	{"Conv 3x3 with bias", []int64{2, 5, 5}, 17, func(b gb) {
		b.n("Conv", []string{"x", b.f("w", []int64{3, 2, 3, 3}, ramp(54, 0.5)...), b.f("bias", []int64{3}, 1, 2, 3)}, "y", is("pads", 1, 1, 1, 1))
	}},
	{"Conv stride 2 asymmetric pads", []int64{2, 6, 7}, 17, func(b gb) {
		b.n("Conv", []string{"x", b.f("w", []int64{4, 2, 3, 3}, ramp(72, 0.5)...)}, "y", is("strides", 2, 2), is("pads", 1, 0, 0, 1))
	}},
	{"Conv depthwise dilated", []int64{3, 7, 7}, 17, func(b gb) {
		b.n("Conv", []string{"x", b.f("w", []int64{3, 1, 3, 3}, ramp(27, 0.5)...)}, "y", i1("group", 3), is("dilations", 2, 2), is("pads", 2, 2, 2, 2))
	}},
	{"Conv weights, group 1, stride 2", []int64{2, 3, 3}, 17, func(b gb) {
		b.n("Conv", []string{b.f("data", []int64{2, 2, 7, 6}, ramp(168, 1)...), "x"}, "y", is("strides", 2, 2), is("pads", 1, 0, 1, 1))
	}},
	{"Conv weights, group 1, dilation 2", []int64{2, 3, 3}, 17, func(b gb) {
		b.n("Conv", []string{b.f("data", []int64{2, 2, 7, 7}, ramp(196, 1)...), "x"}, "y", is("dilations", 2, 2), is("pads", 2, 2, 2, 2))
	}},
	{"BatchNormalization", []int64{3, 2, 2}, 17, func(b gb) {
		b.n("BatchNormalization", []string{"x", b.f("s", []int64{3}, 1, 2, 0.5), b.f("bb", []int64{3}, 0, 1, 2),
			b.f("mu", []int64{3}, 0.1, 0.2, 0.3), b.f("var", []int64{3}, 1, 4, 0.25)}, "y")
	}},
	{"Gemm", []int64{6}, 17, func(b gb) {
		b.n("Gemm", []string{"x", b.f("w", []int64{4, 6}, ramp(24, 1)...), b.f("c", []int64{4}, 1, 2, 3, 4)}, "y",
			i1("transB", 1), fattr("alpha", 0.5), fattr("beta", 2))
	}},
	{"MatMul with weights", []int64{3, 4}, 17, func(b gb) { b.n("MatMul", []string{"x", b.f("w", []int64{4, 5}, ramp(20, 1)...)}, "y") }},
	{"MatMul both operands", []int64{3, 4}, 17, func(b gb) {
		b.n("Transpose", []string{"x"}, "xt", is("perm", 0, 2, 1))
		b.n("MatMul", []string{"x", "xt"}, "y")
	}},
	{"Softmax", []int64{3, 5}, 17, func(b gb) { b.n("Softmax", []string{"x"}, "y", i1("axis", -1)) }},
	{"LogSoftmax", []int64{5}, 17, func(b gb) { b.n("LogSoftmax", []string{"x"}, "y", i1("axis", 1)) }},
	{"LayerNormalization", []int64{3, 6}, 17, func(b gb) {
		b.n("LayerNormalization", []string{"x", b.f("s", []int64{6}, ramp(6, 1)...), b.f("bb", []int64{6}, 1, 2, 3, 4, 5, 6)}, "y", i1("axis", -1))
	}},
	{"ReduceMean keepdims 0", []int64{3, 4, 5}, 17, func(b gb) {
		b.n("ReduceMean", []string{"x"}, "y", is("axes", 1, 3), i1("keepdims", 0))
	}},
	{"ReduceSum axes input", []int64{3, 4}, 17, func(b gb) { b.n("ReduceSum", []string{"x", b.i("ax", -1)}, "y", i1("keepdims", 1)) }},
	{"GlobalAveragePool", []int64{3, 4, 5}, 17, func(b gb) { b.n("GlobalAveragePool", []string{"x"}, "y") }},
	{"AveragePool 3x3 stride 2 pad 1", []int64{2, 7, 7}, 17, func(b gb) {
		b.n("AveragePool", []string{"x"}, "y", is("kernel_shape", 3, 3), is("strides", 2, 2), is("pads", 1, 1, 1, 1), i1("count_include_pad", 1))
	}},
	{"MaxPool 3x3 stride 2 pad 1", []int64{2, 7, 7}, 17, func(b gb) {
		b.n("MaxPool", []string{"x"}, "y", is("kernel_shape", 3, 3), is("strides", 2, 2), is("pads", 1, 1, 1, 1))
	}},
	{"Pad", []int64{2, 3, 3}, 17, func(b gb) { b.n("Pad", []string{"x", b.i("pads", 0, 0, 1, 2, 0, 0, 2, 0)}, "y") }},
	{"Reshape Flatten Squeeze Unsqueeze", []int64{3, 4}, 17, func(b gb) {
		b.n("Unsqueeze", []string{"x", b.i("ax", 1)}, "u")
		b.n("Squeeze", []string{"u", b.i("ax2", 1)}, "s")
		b.n("Reshape", []string{"s", b.i("shape", 0, 4, 3)}, "r")
		b.n("Flatten", []string{"r"}, "y", i1("axis", 1))
	}},
	{"Transpose", []int64{2, 3, 4}, 17, func(b gb) { b.n("Transpose", []string{"x"}, "y", is("perm", 0, 3, 1, 2)) }},
	{"Concat", []int64{2, 3}, 17, func(b gb) {
		b.n("Mul", []string{"x", "x"}, "sq")
		b.n("Mul", []string{"x", b.f("k", []int64{2, 3}, ramp(6, 1)...)}, "xk")
		b.n("Concat", []string{"x", "xk", "sq"}, "y", i1("axis", 1))
	}},
	{"Split with an unused output", []int64{5, 2}, 17, func(b gb) {
		onnx.AddNode(b.g, "Split", "split", []string{"x", b.i("sizes", 2, 3)}, []string{"s0", "s1"}, i1("axis", 1))
		b.n("Mul", []string{"s1", "s1"}, "y")
	}},
	{"Slice", []int64{3, 6, 5}, 17, func(b gb) {
		b.n("Slice", []string{"x", b.i("st", 1, -4), b.i("en", 3, 1000), b.i("ax", 1, 2)}, "y")
	}},
	{"Gather scalar", []int64{4, 3}, 17, func(b gb) { b.n("Gather", []string{"x", b.scalarI("idx", 2)}, "y", i1("axis", 1)) }},
	{"Expand", []int64{1, 4}, 17, func(b gb) { b.n("Expand", []string{"x", b.i("shape", 1, 3, 4)}, "y") }},
	{"Where", []int64{3, 4}, 17, func(b gb) {
		b.n("Greater", []string{b.f("m", []int64{3, 4}, ramp(12, 1)...), b.f("z", nil, 0)}, "cond")
		b.n("Mul", []string{"x", b.f("k", nil, 3)}, "x3")
		b.n("Where", []string{"cond", "x", "x3"}, "y")
	}},
	{"Tile with a batch axis", []int64{3, 4}, 17, func(b gb) { b.n("Tile", []string{"x", b.i("reps", 1, 2, 3)}, "y") }},
	{"Max of broadcast inputs", []int64{3, 4}, 17, func(b gb) {
		b.n("Max", []string{"x", b.f("m", []int64{4}, 0.05, -0.2, 0.25, 0.12)}, "y")
	}},
	{"GlobalMaxPool", []int64{3, 4, 5}, 17, func(b gb) { b.n("GlobalMaxPool", []string{"x"}, "y") }},
	{"LRN size 3 with a batch axis", []int64{6, 3, 2}, 17, func(b gb) {
		b.n("LRN", []string{"x"}, "n", i1("size", 3), fattr("alpha", 0.5), fattr("beta", 0.75), fattr("bias", 1))
		b.n("Mul", []string{"n", b.f("w", []int64{6, 3, 2}, ramp(36, 2)...)}, "y")
	}},
	{"Slice reversed and every other, with a batch axis", []int64{5, 6}, 17, func(b gb) {
		b.n("Slice", []string{"x", b.i("st", -1, 0), b.i("en", -100, 6), b.i("ax", 1, 2), b.i("sp", -1, 2)}, "y")
	}},
	{"Slice by -2 from inside", []int64{7, 2}, 17, func(b gb) {
		b.n("Slice", []string{"x", b.i("st", 5), b.i("en", 0), b.i("ax", 1), b.i("sp", -2)}, "y")
	}},
	// timm's ResNet-D downsampling: AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False) on odd sides
	{"AveragePool ceil_mode, count excluding the padding", []int64{2, 5, 7}, 17, func(b gb) {
		b.n("AveragePool", []string{"x"}, "y", is("kernel_shape", 2, 2), is("strides", 2, 2), i1("ceil_mode", 1))
	}},
	{"Conv auto_pad SAME_UPPER, stride 2", []int64{2, 5, 6}, 17, func(b gb) {
		b.n("Conv", []string{"x", b.f("w", []int64{3, 2, 3, 3}, ramp(54, 0.5)...)}, "y", is("kernel_shape", 3, 3), is("strides", 2, 2), sattr("auto_pad", "SAME_UPPER"))
	}},
	{"ConvTranspose stride 2 with output_padding", []int64{2, 3, 4}, 17, func(b gb) {
		b.n("ConvTranspose", []string{"x", b.f("w", []int64{2, 3, 3, 3}, ramp(54, 0.5)...)}, "y", is("strides", 2, 2), is("pads", 1, 1, 1, 1), is("output_padding", 1, 0))
	}},
	{"Gather by a tensor of indices, with repeats and a negative one", []int64{3, 5}, 17, func(b gb) {
		b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("idx"), Dims: []int64{2, 2},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0, 2, -1, 2}})
		b.n("Gather", []string{"x", "idx"}, "y", i1("axis", 2))
	}},
	{"GatherND, an index picked twice", []int64{3, 5}, 17, func(b gb) {
		b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("idx"), Dims: []int64{3, 2},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0, 2, 1, 2, 0, 2}})
		b.n("GatherND", []string{"x", "idx"}, "y")
	}},
	{"Resize bilinear x2 (half_pixel)", []int64{2, 4, 5}, 17, func(b gb) {
		b.n("Resize", []string{"x", "", b.f("sc", []int64{4}, 1, 1, 2, 2)}, "y", sattr("mode", "linear"))
	}},
	{"Resize cubic x0.75 and x1.4, align_corners", []int64{2, 4, 5}, 17, func(b gb) {
		b.n("Resize", []string{"x", "", b.f("sc", []int64{4}, 1, 1, 0.75, 1.4)}, "y", sattr("mode", "cubic"), sattr("coordinate_transformation_mode", "align_corners"))
	}},
	{"Resize nearest x1.5, opset 10", []int64{2, 4, 4}, 10, func(b gb) {
		b.n("Resize", []string{"x", b.f("sc", []int64{4}, 1, 1, 1.5, 1.5)}, "y")
	}},
	{"TopK 2 of 5 along the last axis", []int64{3, 5}, 17, func(b gb) {
		onnx.AddNode(b.g, "TopK", "topk", []string{"x", b.i("k", 2)}, []string{"y", "yi"})
	}},
	{"ScatterElements with reduction add, an index written twice", []int64{2, 3}, 17, func(b gb) {
		b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("idx"), Dims: []int64{1, 1, 2},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{1, 1}})
		b.n("ScatterElements", []string{"x", "idx", b.f("u", []int64{1, 1, 2}, 0.5, -0.25)}, "y", i1("axis", 2), sattr("reduction", "add"))
	}},
	{"Compress along the last axis", []int64{3, 4}, 17, func(b gb) {
		b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("keep"), Dims: []int64{4},
			DataType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), Int32Data: []int32{1, 0, 1, 1}})
		b.n("Compress", []string{"x", "keep"}, "y", i1("axis", 2))
	}},
	{"Mod (fmod) by a constant and by itself", []int64{3, 4}, 17, func(b gb) {
		b.n("Mod", []string{"x", b.f("d", []int64{4}, 0.7, -0.3, 0.45, 1.1)}, "m", i1("fmod", 1))
		b.n("Mod", []string{"m", "x"}, "y", i1("fmod", 1))
	}},
	{"InstanceNormalization", []int64{3, 4, 5}, 17, func(b gb) {
		b.n("InstanceNormalization", []string{"x", b.f("s", []int64{3}, 1.5, -0.5, 2), b.f("bias", []int64{3}, 0.1, 0.2, 0.3)}, "n", fattr("epsilon", 1e-3))
		b.n("Mul", []string{"n", b.f("w", []int64{3, 4, 5}, ramp(60, 2)...)}, "y")
	}},
	// models exported below opset 13, whose gradients are built at 17: the
	// finite differences run them as exported
	{"Softmax opset 11, axis 1 of 4-D (over C*H*W)", []int64{3, 4, 5}, 11, func(b gb) {
		b.n("Softmax", []string{"x"}, "s", i1("axis", 1))
		b.n("Mul", []string{"s", b.f("w", []int64{3, 4, 5}, ramp(60, 4)...)}, "y")
	}},
	{"LogSoftmax opset 11, default axis", []int64{3, 4}, 11, func(b gb) { b.n("LogSoftmax", []string{"x"}, "y") }},
	{"Softmax opset 11, axis 2", []int64{3, 4, 5}, 11, func(b gb) {
		b.n("Softmax", []string{"x"}, "s", i1("axis", 2))
		b.n("Mul", []string{"s", b.f("w", []int64{3, 4, 5}, ramp(60, 3)...)}, "y")
	}},
	{"Clip opset 10, min and max attributes (ReLU6)", []int64{3, 4}, 10, func(b gb) {
		b.n("Mul", []string{"x", b.f("k", nil, 37)}, "xk") // no value at the kinks 0 and 6
		b.n("Clip", []string{"xk"}, "y", fattr("min", 0), fattr("max", 6))
	}},
	{"Pad opset 10, pads attribute", []int64{3, 4}, 10, func(b gb) {
		b.n("Pad", []string{"x"}, "y", is("pads", 0, 1, 2, 0, 0, 1))
	}},
	{"Unsqueeze, Squeeze, ReduceSum opset 11, axes attributes", []int64{3, 4}, 11, func(b gb) {
		b.n("Unsqueeze", []string{"x"}, "u", is("axes", 1))
		b.n("Mul", []string{"u", "u"}, "sq")
		b.n("ReduceSum", []string{"sq"}, "r", is("axes", 3), i1("keepdims", 1))
		b.n("Squeeze", []string{"r"}, "y", is("axes", 1, 3))
	}},
	{"Split opset 11, split attribute", []int64{5, 2}, 11, func(b gb) {
		onnx.AddNode(b.g, "Split", "split_node", []string{"x"}, []string{"a", "c"}, i1("axis", 1), is("split", 2, 3))
		b.n("Mul", []string{"a", b.f("two", nil, 2)}, "a2")
		b.n("Concat", []string{"c", "a2"}, "y", i1("axis", 1))
	}},
	{"Slice opset 9, attributes", []int64{6, 3}, 9, func(b gb) {
		b.n("Slice", []string{"x"}, "y", is("starts", 1, 0), is("ends", 5, 2), is("axes", 1, 2))
	}},
}

// Every op's rule agrees with central differences of ONNX Runtime forward
// passes: for y = op(x) and a fixed random r, the gradient of sum(y r).
// Inputs are spaced so that no kink (Relu's 0, a pool's maximum, a clip
// bound) lies within the difference step.
func TestOpsFiniteDifferences(t *testing.T) {
	testutil.ORT(t)
	for _, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkOp(t, c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkOp(t *testing.T, c opCase) error {
	dims := append([]int64{-1}, c.x...)
	g := &onnxpb.GraphProto{Name: proto.String(c.name)}
	g.Input = []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, dims...)}
	g.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}
	c.build(gb{g})
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(c.opset)}}}
	fwdPath := filepath.Join(t.TempDir(), "fwd.onnx")
	m := &onnx.Model{Proto: mp}
	if err := m.Save(fwdPath); err != nil {
		return err
	}
	m, err := onnx.Load(fwdPath)
	if err != nil {
		return fmt.Errorf("reload: %v", err)
	}
	in2 := append([]int64{2}, c.x...)
	in3 := append([]int64{3}, c.x...)
	// x: distinct values at least 0.01 apart, none within 0.1 of zero
	rng := rand.New(rand.NewPCG(3, 4))
	nx := 1
	for _, d := range in2 {
		nx *= int(d)
	}
	x := make([]float32, nx)
	for i, p := range rng.Perm(nx) {
		v := 0.1 + 0.01*float32(p)
		if rng.IntN(2) == 0 {
			v = -v
		}
		x[i] = v
	}
	return checkGrad(t, m, fwdPath, "x", "y", in2, in3, x)
}

// checkGrad builds the gradient of y with respect to x of the model m
// (saved as exported at fwdPath), with shapes probed at x's shape in2 and
// at in3 (the batch grown by one; in2 again for a model without a batch
// axis), and compares it at x with central finite differences of the
// model run as exported, for a random weighting of y's elements. An
// error before the comparison means the gradient could not be built.
func checkGrad(t *testing.T, m *onnx.Model, fwdPath, xName, yName string, in2, in3 []int64, x []float32) error {
	dir := t.TempDir()
	// the gradient is built from the model in its opset-17 form; the
	// finite differences below run the model as exported (fwdPath)
	m, a, err := analyse(m, xName, yName, in2, in3, 1)
	if err != nil {
		return err
	}
	b, err := newBuilder(m.Clone())
	if err != nil {
		return err
	}
	b.shapes, b.shapes3 = a.shapes, a.shapes3
	maps.Copy(b.consts, a.consts)
	ys := b.shapes[yName]
	if len(ys) > 0 {
		// the output's shape for this input: the probe's zeros can give
		// another where it depends on the values (Unique)
		s, err := ort.NewSession(fwdPath, xName, []string{yName}, ort.Options{Threads: 1})
		if err != nil {
			return err
		}
		o, err := s.RunAlloc(x, in2)
		s.Close()
		if err != nil {
			return err
		}
		ys = o[0].Shape
	}
	ny := 1
	for _, d := range ys {
		ny *= int(d)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	r := make([]float32, ny)
	for i := range r {
		r[i] = rng.Float32()*2 - 1
	}
	onnx.AddInitializer(b.g, "lk_test_r", ys, r)
	b.consts["lk_test_r"] = b.g.Initializer[len(b.g.Initializer)-1]
	b.v, _ = onnx.NewGraph(b.g)
	order, on, err := b.path([]string{xName}, yName)
	if err != nil {
		return err
	}
	gs, err := b.backward(order, on, yName, "lk_test_r", []string{xName})
	if err != nil {
		return err
	}
	onnx.AddNode(b.g, "Identity", "gx_out", []string{gs[0]}, []string{"lk_test_gx"})
	b.g.Output = append(b.g.Output, &onnxpb.ValueInfoProto{Name: proto.String("lk_test_gx")})
	raiseOpset(b.m.Proto, 17)
	gradPath := filepath.Join(dir, "grad.onnx")
	if err := b.m.Save(gradPath); err != nil {
		return err
	}
	gsess, err := ort.NewSession(gradPath, xName, []string{"lk_test_gx"}, ort.Options{Threads: 1})
	if err != nil {
		return err
	}
	defer gsess.Close()
	outs, err := gsess.RunAlloc(x, in2)
	if err != nil {
		return err
	}
	gx := outs[0].Data
	if len(ys) == 0 {
		// a scalar y (a reduced loss): read flattened, as onnxruntime_go
		// cannot return a 0-d value; the model is otherwise as exported
		fwd, err := onnx.Load(fwdPath)
		if err != nil {
			return err
		}
		fg := fwd.Graph()
		fg.Initializer = append(fg.Initializer, &onnxpb.TensorProto{Name: proto.String("lk_test_flat"), Dims: []int64{1},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{-1}})
		onnx.AddNode(fg, "Reshape", "lk_test_y1", []string{yName, "lk_test_flat"}, []string{"lk_test_y1"})
		fg.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("lk_test_y1")}}
		fwdPath, yName = filepath.Join(dir, "fwd1.onnx"), "lk_test_y1"
		if err := fwd.Save(fwdPath); err != nil {
			return err
		}
	}
	fsess, err := ort.NewSession(fwdPath, xName, []string{yName}, ort.Options{Threads: 1})
	if err != nil {
		return err
	}
	defer fsess.Close()
	f := func() float64 {
		o, err := fsess.RunAlloc(x, in2)
		if err != nil {
			t.Fatal(err)
		}
		if len(o[0].Data) != len(r) {
			return math.NaN() // its shape changed (Unique's duplicates split): no derivative
		}
		var s float64
		for i, v := range o[0].Data {
			s += float64(v) * float64(r[i])
		}
		return s
	}
	const eps = 2e-3
	f0 := f()
	idx := rng.Perm(len(x)) // at most 300 elements, in a seeded order
	if len(idx) > 300 {
		idx = idx[:300]
	}
	for _, i := range idx {
		// the steps as float32 holds them (at 10^4 its spacing is 1e-3)
		save := x[i]
		x[i] = save + eps
		dp := float64(x[i]) - float64(save)
		fp := f()
		x[i] = save - eps
		dm := float64(save) - float64(x[i])
		fm := f()
		x[i] = save
		fd := (fp - fm) / (dp + dm)
		tol := 2e-3 + 5e-3*math.Abs(fd)
		if math.Abs(fd-float64(gx[i])) <= tol {
			continue
		}
		// one-sided differences that disagree with each other mark a
		// kink (ReLU at 0, a clip bound, a max tie) or steep curvature
		// within eps: no derivative to compare there
		if fwd, bwd := (fp-f0)/dp, (f0-fm)/dm; math.Abs(fwd-bwd) > tol {
			continue
		}
		// no derivative at all: out of the domain (acosh at 1), an
		// infinite slope, or a jump (sign at 0), whose difference grows
		// as the step shrinks
		if math.IsNaN(fd) || math.IsInf(fd, 0) || math.IsInf(float64(gx[i]), 0) {
			continue
		}
		x[i] = save + eps/4
		dp4 := float64(x[i]) - float64(save)
		fp4 := f()
		x[i] = save
		if math.Abs((fp4-f0)/dp4-(fp-f0)/dp) > tol {
			continue
		}
		return &mismatch{fmt.Sprintf("x[%d] = %g: gradient %g, finite difference %g", i, save, gx[i], fd)}
	}
	return nil
}

// mismatch is a gradient that was built and disagrees with finite
// differences: a wrong number, never a missing rule.
type mismatch struct{ s string }

func (e *mismatch) Error() string { return e.s }

// An op lk cannot differentiate, between the input and the objective, is
// an error naming the node and the op; one off the path is no concern.
func TestUnknownOp(t *testing.T) {
	g := &onnxpb.GraphProto{Input: []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, -1, 3)}}
	b := gb{g}
	b.n("LpNormalization", []string{"x"}, "s")
	b.n("Relu", []string{"s"}, "y")
	b.n("Cos", []string{b.f("c", []int64{3}, 1, 2, 3)}, "off") // not on the path
	m := &onnx.Model{Proto: &onnxpb.ModelProto{Graph: g}}
	bd, err := newBuilder(m)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = bd.path([]string{"x"}, "y")
	if err == nil || err.Error() != "node s_node: lk cannot differentiate LpNormalization (it lies between the input and the objective)" {
		t.Errorf("got %v", err)
	}
}

// A model whose output is [classes, batch] is refused when the gradient is
// built, not when it runs.
func TestOutputNotBatchFirst(t *testing.T) {
	testutil.ORT(t)
	g := &onnxpb.GraphProto{Name: proto.String("transposed")}
	g.Input = []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, -1, 3, 4, 4)}
	g.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}
	b := gb{g}
	b.n("GlobalAveragePool", []string{"x"}, "p")
	b.n("Flatten", []string{"p"}, "f")
	b.n("Transpose", []string{"f"}, "y", is("perm", 1, 0))
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}}
	_, err := Build(m, Options{Input: "x", Output: "y", C: 3, H: 4, W: 4, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}, Threads: 1})
	if err == nil || !strings.Contains(err.Error(), "its first axis is not the batch") {
		t.Fatalf("got %v", err)
	}
}

// AveragePool with ceil_mode whose count includes the padding is refused:
// implementations disagree on what an overhanging window divides by.
func TestAveragePoolCeilIncludeRefused(t *testing.T) {
	testutil.ORT(t)
	err := checkOp(t, opCase{"ceil include", []int64{2, 5, 6}, 17, func(b gb) {
		b.n("AveragePool", []string{"x"}, "y", is("kernel_shape", 3, 3), is("strides", 2, 2), is("pads", 1, 1, 1, 1),
			i1("ceil_mode", 1), i1("count_include_pad", 1))
	}})
	if err == nil || !strings.Contains(err.Error(), "AveragePool with ceil_mode and count_include_pad is not supported") {
		t.Fatalf("got %v", err)
	}
}
