package onnx

import (
	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// HasFloat16 reports whether the main graph holds float16 values
// (inputs, outputs, initializers, constants or casts to float16).
func HasFloat16(m *Model) bool {
	g := m.Graph()
	f16 := int32(onnxpb.TensorProto_FLOAT16)
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...), g.GetValueInfo()...) {
		if vi.GetType().GetTensorType().GetElemType() == f16 {
			return true
		}
	}
	for _, t := range g.GetInitializer() {
		if t.GetDataType() == f16 {
			return true
		}
	}
	for _, n := range g.GetNode() {
		if a := Attr(n, "to"); n.GetOpType() == "Cast" && a != nil && a.GetI() == int64(f16) {
			return true
		}
		if a := Attr(n, "value"); a != nil && a.GetT().GetDataType() == f16 {
			return true
		}
	}
	return false
}

// Float32 returns a copy of m computing in float32 what m computes in
// float16: float16 initializers, constants, casts and declared types
// become float32. Its numbers are those of the same weights without
// float16 rounding in between: what gradients are taken of, since lk's
// gradient rules and ONNX Runtime's float32 kernels cover every op.
func Float32(m *Model) (*Model, error) {
	c := m.Clone()
	g := c.Graph()
	f16, f32 := int32(onnxpb.TensorProto_FLOAT16), int32(onnxpb.TensorProto_FLOAT)
	conv := func(t *onnxpb.TensorProto) (*onnxpb.TensorProto, error) {
		if t.GetDataType() != f16 {
			return t, nil
		}
		vals, err := m.Float32s(t)
		if err != nil {
			return nil, err
		}
		return &onnxpb.TensorProto{Name: proto.String(t.GetName()), Dims: t.GetDims(), DataType: proto.Int32(f32), FloatData: vals}, nil
	}
	for i, t := range g.GetInitializer() {
		nt, err := conv(t)
		if err != nil {
			return nil, err
		}
		g.Initializer[i] = nt
	}
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...), g.GetValueInfo()...) {
		if tt := vi.GetType().GetTensorType(); tt.GetElemType() == f16 {
			tt.ElemType = proto.Int32(f32)
		}
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			switch {
			case a.GetName() == "to" && n.GetOpType() == "Cast" && a.GetI() == int64(f16):
				a.I = proto.Int64(int64(f32))
			case a.GetName() == "dtype" && a.GetI() == int64(f16):
				a.I = proto.Int64(int64(f32))
			case a.GetT() != nil && a.GetT().GetDataType() == f16:
				nt, err := conv(a.GetT())
				if err != nil {
					return nil, err
				}
				a.T = nt
			}
		}
	}
	return c, nil
}
