package arch_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/testutil"
)

// The shape probe runs models of any opset: below 9, where
// ConstantOfShape does not exist, large weights stay initializers.
func TestProbeOldOpset(t *testing.T) {
	testutil.ORT(t)
	for _, opset := range []int64{7, 8, 9, 17} {
		g := &onnxpb.GraphProto{Name: proto.String("mlp")}
		g.Input = []*onnxpb.ValueInfoProto{valueInfo("x", -1, 32)}
		g.Output = []*onnxpb.ValueInfoProto{valueInfo("y", -1, 40)}
		onnx.AddInitializer(g, "w", []int64{32, 40}, make([]float32, 32*40)) // over the size the probe replaces
		onnx.AddNode(g, "MatMul", "mm", []string{"x", "w"}, []string{"h"})
		onnx.AddNode(g, "Relu", "relu", []string{"h"}, []string{"y"})
		m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(3), Graph: g,
			OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}}}
		shapes, err := arch.Probe(m, "x", []int64{2, 32}, []string{"h"}, 1)
		if err != nil {
			t.Fatalf("opset %d: %v", opset, err)
		}
		if !slices.Equal(shapes["h"], []int64{2, 40}) {
			t.Fatalf("opset %d: h is %v, want [2 40]", opset, shapes["h"])
		}
	}
}

func valueInfo(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d < 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
}
