package arch

import (
	"fmt"

	"github.com/lk-robustness/lk/lib/kernel"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Summary is what the paper's Fig. 1 and its tables say about a model.
type Summary struct {
	// Parameters counts the elements of the float initializers: the
	// weights as exported, where a BatchNorm folded into its conv counts
	// as that conv's bias (PyTorch counts its scale and shift instead).
	Parameters int64
	// MACs per image: multiply-accumulates of Conv, ConvTranspose, MatMul
	// and Gemm (attention's matrix products included), the convention of
	// torchvision's and timm's "GFLOPs" columns.
	MACs int64
	// Depthwise lists the distinct depthwise kernel sizes in graph order.
	Depthwise []int
	Blocks    int
	Stages    int
}

var floatTypes = map[int32]bool{int32(onnxpb.TensorProto_FLOAT): true, int32(onnxpb.TensorProto_FLOAT16): true,
	int32(onnxpb.TensorProto_BFLOAT16): true, int32(onnxpb.TensorProto_DOUBLE): true}

// Summarise counts m's parameters and multiply-accumulates, probing the
// shapes of every matrix product's operands with one image.
func Summarise(m *Model, threads int) (Summary, error) {
	var s Summary
	g := m.Graph
	for _, t := range g.P.GetInitializer() {
		if floatTypes[t.GetDataType()] {
			n := int64(1)
			for _, d := range t.GetDims() {
				n *= d
			}
			s.Parameters += n
		}
	}
	nodes := g.P.GetNode()
	var need []string
	seen := map[string]bool{}
	want := func(v string) {
		if _, init := g.Inits[v]; !init && !seen[v] && v != m.Input {
			seen[v] = true
			need = append(need, v)
		}
	}
	for _, i := range g.Order {
		n := nodes[i]
		switch n.GetOpType() {
		case "Conv", "ConvTranspose", "MatMul", "Gemm":
			if len(n.GetInput()) < 2 {
				return s, fmt.Errorf("node %s (%s) has %d inputs, want at least 2", onnx.NodeName(n), n.GetOpType(), len(n.GetInput()))
			}
			want(n.GetOutput()[0])
			want(n.GetInput()[0])
			want(n.GetInput()[1])
		}
		if _, k, ok := kernel.IsDepthwise(g, i); ok {
			if !contains(s.Depthwise, k) {
				s.Depthwise = append(s.Depthwise, k)
			}
		}
	}
	shapes, err := Probe(m.Run, m.Input, m.ProbeShape(), need, threads)
	if err != nil {
		return s, err
	}
	shapes[m.Input] = m.ProbeShape()
	shape := func(v string) []int64 {
		if t, ok := g.Inits[v]; ok {
			return t.GetDims()
		}
		return shapes[v]
	}
	for _, i := range g.Order {
		n := nodes[i]
		var macs int64
		switch n.GetOpType() {
		case "Conv": // output elements x (input channels per group x kernel)
			w := shape(n.GetInput()[1])
			macs = prod(shape(n.GetOutput()[0])) * prod(w[1:])
		case "ConvTranspose": // input elements x (output channels per group x kernel)
			w := shape(n.GetInput()[1])
			macs = prod(shape(n.GetInput()[0])) * prod(w[1:])
		case "MatMul": // output elements x the contracted dimension
			a := shape(n.GetInput()[0])
			if len(a) == 0 {
				return s, fmt.Errorf("node %s: MatMul of a scalar", onnx.NodeName(n))
			}
			macs = prod(shape(n.GetOutput()[0])) * a[len(a)-1]
		case "Gemm":
			a := shape(n.GetInput()[0])
			if len(a) != 2 {
				return s, fmt.Errorf("node %s: Gemm operand of shape %v, want 2-D", onnx.NodeName(n), a)
			}
			k := a[1]
			if t := onnx.Attr(n, "transA"); t != nil && t.GetI() != 0 {
				k = a[0]
			}
			macs = prod(shape(n.GetOutput()[0])) * k
		}
		s.MACs += macs
	}
	s.MACs /= int64(max(1, m.Batch.N)) // per image: the probe ran a fixed batch's worth
	s.Blocks = len(m.Blocks)
	for _, b := range m.Blocks {
		s.Stages = max(s.Stages, b.Stage)
	}
	return s, nil
}

func prod(d []int64) int64 {
	n := int64(1)
	for _, v := range d {
		n *= v
	}
	return n
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
