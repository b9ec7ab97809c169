package onnx

import "github.com/lk-robustness/lk/lib/onnx/onnxpb"

// ElemTypes infers the element type of the graph's values from its
// inputs, initializers and constants, in the node order given (producers
// first): enough to resolve CastLike, whose target is another value's
// type. An op's output has its first input's type unless the op says
// otherwise; values whose type cannot be told are absent.
func ElemTypes(g *onnxpb.GraphProto, order []int) map[string]int32 {
	t := map[string]int32{}
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetValueInfo()...), g.GetOutput()...) {
		if tt := vi.GetType().GetTensorType(); tt != nil && tt.GetElemType() != 0 {
			t[vi.GetName()] = tt.GetElemType()
		}
	}
	for _, init := range g.GetInitializer() {
		t[init.GetName()] = init.GetDataType()
	}
	const (
		i64 = int32(onnxpb.TensorProto_INT64)
		b8  = int32(onnxpb.TensorProto_BOOL)
		f32 = int32(onnxpb.TensorProto_FLOAT)
	)
	nodes := g.GetNode()
	for _, i := range order {
		n := nodes[i]
		outs := n.GetOutput()
		if len(outs) == 0 {
			continue
		}
		first := int32(0)
		for _, in := range n.GetInput() {
			if in != "" {
				first = t[in]
				break
			}
		}
		set := func(k int, ty int32) {
			if k < len(outs) && outs[k] != "" && ty != 0 {
				t[outs[k]] = ty
			}
		}
		switch n.GetOpType() {
		case "Constant":
			if a := Attr(n, "value"); a != nil && a.GetT() != nil {
				set(0, a.GetT().GetDataType())
			} else if Attr(n, "value_int") != nil || Attr(n, "value_ints") != nil {
				set(0, i64)
			} else if Attr(n, "value_float") != nil || Attr(n, "value_floats") != nil {
				set(0, f32)
			}
		case "Cast":
			if a := Attr(n, "to"); a != nil {
				set(0, int32(a.GetI()))
			}
		case "CastLike":
			if len(n.GetInput()) > 1 {
				set(0, t[n.GetInput()[1]])
			}
		case "ConstantOfShape":
			set(0, f32)
			if a := Attr(n, "value"); a != nil && a.GetT() != nil {
				set(0, a.GetT().GetDataType())
			}
		case "Shape", "Size", "ArgMax", "ArgMin", "NonZero":
			set(0, i64)
		case "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf":
			set(0, b8)
		case "TopK":
			set(0, first)
			set(1, i64)
		case "Unique":
			set(0, first)
			for k := 1; k < 4; k++ {
				set(k, i64)
			}
		case "OneHot":
			if len(n.GetInput()) > 2 {
				set(0, t[n.GetInput()[2]])
			}
		case "Where":
			if len(n.GetInput()) > 1 {
				set(0, t[n.GetInput()[1]])
			}
		case "EyeLike", "RandomNormalLike", "RandomUniformLike":
			set(0, first)
			if a := Attr(n, "dtype"); a != nil {
				set(0, int32(a.GetI()))
			}
		default:
			for k := range outs {
				set(k, first)
			}
		}
	}
	return t
}
