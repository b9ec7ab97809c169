package grad

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// gradOpset is the opset lk's gradient models are written in (ScatterElements
// with reduction needs 16, LayerNormalization 17).
const gradOpset = 17

// upgraded returns m with its nodes rewritten into their opset-17 form and
// its opset raised to 17, computing what m computes: a model exported at an
// older opset cannot simply be relabelled, since some ops changed meaning
// (Softmax, LogSoftmax and Hardmax below 13 work on the input flattened to
// 2-D at axis, not along axis) and others moved attributes to inputs (Clip
// and Pad at 11; Unsqueeze, Squeeze, ReduceSum, Split and Dropout at 12-13;
// Slice at 10). m itself is left as it was.
func upgraded(m *onnx.Model) (*onnx.Model, error) {
	v := m.Opset()
	if v >= gradOpset {
		return m, nil
	}
	c := m.Clone()
	g := c.Graph()
	var nodes []*onnxpb.NodeProto
	k := 0
	name := func(n *onnxpb.NodeProto, what string) string {
		k++
		return fmt.Sprintf("lk_upgrade/%d/%s", k, what)
	}
	intsInput := func(n *onnxpb.NodeProto, what string, vals []int64) string {
		nm := name(n, what)
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(nm), Dims: []int64{int64(len(vals))},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals})
		return nm
	}
	floatInput := func(n *onnxpb.NodeProto, what string, val float32) string {
		nm := name(n, what)
		onnx.AddInitializer(g, nm, nil, []float32{val})
		return nm
	}
	for _, n := range g.GetNode() {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			nodes = append(nodes, n)
			continue
		}
		switch op := n.GetOpType(); {
		case (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && v < 13:
			// y = reshape(op(flatten(x, axis), axis=1), shape(x))
			x, y := n.GetInput()[0], n.GetOutput()[0]
			shape, flat, z := name(n, "shape"), name(n, "flat"), name(n, "z")
			nodes = append(nodes,
				&onnxpb.NodeProto{OpType: proto.String("Shape"), Name: proto.String(shape), Input: []string{x}, Output: []string{shape}},
				&onnxpb.NodeProto{OpType: proto.String("Flatten"), Name: proto.String(flat), Input: []string{x}, Output: []string{flat},
					Attribute: []*onnxpb.AttributeProto{onnx.IntAttr("axis", attrI(n, "axis", 1))}},
				&onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(z), Input: []string{flat}, Output: []string{z},
					Attribute: []*onnxpb.AttributeProto{onnx.IntAttr("axis", 1)}},
				&onnxpb.NodeProto{OpType: proto.String("Reshape"), Name: n.Name, Input: []string{z, shape}, Output: []string{y}})
			continue
		case op == "Clip" && v < 11:
			in := []string{n.GetInput()[0], "", ""}
			if a := onnx.Attr(n, "min"); a != nil {
				in[1] = floatInput(n, "min", a.GetF())
			}
			if a := onnx.Attr(n, "max"); a != nil {
				in[2] = floatInput(n, "max", a.GetF())
			}
			n.Input, n.Attribute = trimInputs(in), nil
		case op == "Pad" && v < 11:
			in := []string{n.GetInput()[0], intsInput(n, "pads", attrInts(n, "pads", nil))}
			if a := onnx.Attr(n, "value"); a != nil {
				in = append(in, floatInput(n, "value", a.GetF()))
			}
			n.Input, n.Attribute = in, keepAttrs(n, "mode")
		case (op == "Unsqueeze" || op == "Squeeze" || op == "ReduceSum") && v < 13:
			if a := onnx.Attr(n, "axes"); a != nil {
				n.Input = []string{n.GetInput()[0], intsInput(n, "axes", a.GetInts())}
			}
			n.Attribute = dropAttrs(n, "axes")
		case op == "Split" && v < 13:
			if a := onnx.Attr(n, "split"); a != nil {
				n.Input = []string{n.GetInput()[0], intsInput(n, "split", a.GetInts())}
			}
			n.Attribute = dropAttrs(n, "split")
		case op == "Slice" && v < 10:
			in := []string{n.GetInput()[0], intsInput(n, "starts", attrInts(n, "starts", nil)), intsInput(n, "ends", attrInts(n, "ends", nil))}
			if a := onnx.Attr(n, "axes"); a != nil {
				in = append(in, intsInput(n, "axes", a.GetInts()))
			}
			n.Input, n.Attribute = in, nil
		case (op == "Resize" && v < 11) || op == "Upsample":
			// Resize-10 and Upsample (7-9): opset 11's Resize with no roi,
			// asymmetric coordinates and nearest rounding down
			scales := ""
			if len(n.GetInput()) > 1 {
				scales = n.GetInput()[1]
			} else if a := onnx.Attr(n, "scales"); a != nil { // Upsample-7
				scales = name(n, "scales")
				onnx.AddInitializer(g, scales, []int64{int64(len(a.GetFloats()))}, a.GetFloats())
			}
			n.OpType = proto.String("Resize")
			n.Input = []string{n.GetInput()[0], "", scales}
			n.Attribute = append(keepAttrs(n, "mode"), onnx.StringAttr("coordinate_transformation_mode", "asymmetric"),
				onnx.StringAttr("nearest_mode", "floor"))
		case op == "Scatter": // opset 9-10: ScatterElements without a reduction
			n.OpType = proto.String("ScatterElements")
		case op == "Dropout" && v < 12:
			// inference: the identity, whatever the ratio
			n.Input, n.Attribute = n.GetInput()[:1], nil
		case op == "BatchNormalization" && v < 9:
			// spatial (1, the only form exporters write) and the opset-6
			// bookkeeping attributes are gone at 9
			if attrI(n, "spatial", 1) != 1 {
				return nil, fmt.Errorf("model %s: node %s: BatchNormalization with spatial=0 (opset %d) is not supported; export at opset 9 or later", m.Path, n.GetName(), v)
			}
			n.Attribute = dropAttrs(n, "spatial", "is_test", "consumed_inputs")
		}
		nodes = append(nodes, n)
	}
	g.Node = nodes
	raiseOpset(c.Proto, gradOpset)
	return c, nil
}

// trimInputs drops trailing empty (absent optional) inputs.
func trimInputs(in []string) []string {
	for len(in) > 0 && in[len(in)-1] == "" {
		in = in[:len(in)-1]
	}
	return in
}

// keepAttrs returns n's attributes of the given names; dropAttrs the others.
func keepAttrs(n *onnxpb.NodeProto, names ...string) []*onnxpb.AttributeProto {
	var out []*onnxpb.AttributeProto
	for _, a := range n.GetAttribute() {
		for _, nm := range names {
			if a.GetName() == nm {
				out = append(out, a)
			}
		}
	}
	return out
}

func dropAttrs(n *onnxpb.NodeProto, names ...string) []*onnxpb.AttributeProto {
	var out []*onnxpb.AttributeProto
next:
	for _, a := range n.GetAttribute() {
		for _, nm := range names {
			if a.GetName() == nm {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}
