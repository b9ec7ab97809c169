// Package grad differentiates ONNX graphs: it appends to a model the nodes
// that compute the gradient of a value with respect to an input (and, on
// request, to initializers), built from ordinary ONNX ops, so that ONNX
// Runtime's inference library computes gradients of any exported model.
// The input gradient of a Conv is a ConvTranspose with the same weights,
// of a MatMul a MatMul with the other operand transposed, and so on: each
// op's vector-Jacobian product is written once, in vjp.go.
//
// Values on the differentiable path are float32. Shape-only subgraphs
// (Shape, Gather on shapes, Concat of dims) carry no gradient: only the
// inputs an op is differentiable in (diffInputs) propagate it. An op on
// the path that lk cannot differentiate is an error naming the node.
package grad

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// all marks an op differentiable in every input.
var all = []int{-1}

// diffInputs lists, per op, the inputs a gradient flows into.
var diffInputs = map[string][]int{
	"Add": {0, 1}, "Sub": {0, 1}, "Mul": {0, 1}, "Div": {0, 1}, "Pow": {0, 1},
	"Sqrt": {0}, "Neg": {0}, "Reciprocal": {0}, "Exp": {0}, "Log": {0},
	"Relu": {0}, "LeakyRelu": {0}, "Sigmoid": {0}, "Tanh": {0}, "Erf": {0}, "Gelu": {0},
	"HardSigmoid": {0}, "HardSwish": {0}, "Identity": {0}, "Dropout": {0}, "Cast": {0}, "Clip": {0},
	"Conv": {0, 1, 2}, "BatchNormalization": {0}, "Gemm": {0, 1, 2}, "MatMul": {0, 1},
	"Softmax": {0}, "LogSoftmax": {0}, "LayerNormalization": {0, 1, 2},
	"ReduceMean": {0}, "ReduceSum": {0}, "GlobalAveragePool": {0}, "AveragePool": {0}, "MaxPool": {0},
	"Pad": {0}, "Reshape": {0}, "Flatten": {0}, "Transpose": {0}, "Squeeze": {0}, "Unsqueeze": {0},
	"Concat": all, "Split": {0}, "Slice": {0}, "Gather": {0}, "Expand": {0}, "Where": {1, 2},
	// elementwise.go
	"Abs": {0}, "Sin": {0}, "Cos": {0}, "Tan": {0}, "Asin": {0}, "Acos": {0}, "Atan": {0},
	"Sinh": {0}, "Cosh": {0}, "Asinh": {0}, "Acosh": {0}, "Atanh": {0},
	"Elu": {0}, "Selu": {0}, "Celu": {0}, "Softplus": {0}, "Softsign": {0}, "ThresholdedRelu": {0}, "Shrink": {0},
	"Ceil": {0}, "Floor": {0}, "Round": {0}, "Sign": {0},
	"ReduceSumSquare": {0}, "ReduceL1": {0}, "ReduceL2": {0}, "ReduceLogSum": {0}, "ReduceLogSumExp": {0},
	"ReduceProd": {0}, "ReduceMax": {0}, "ReduceMin": {0},
	"Sum": all, "Mean": all, "Max": all, "Min": all, "PRelu": {0, 1},
	"Hardmax": {0}, "GatherElements": {0}, "GlobalMaxPool": {0}, "Tile": {0},
	"DepthToSpace": {0}, "SpaceToDepth": {0}, "InstanceNormalization": {0},
	"NegativeLogLikelihoodLoss": {0}, "SoftmaxCrossEntropyLoss": {0}, "ConvTranspose": {0}, "LRN": {0}, "GatherND": {0}, "Resize": {0},
	"ScatterElements": {0, 2}, "ScatterND": {0, 2}, "TopK": {0}, "GridSample": {0, 1},
	"Mod": {0, 1}, "OneHot": {0, 2}, "ReverseSequence": {0}, "Compress": {0},
	"RoiAlign": {0}, "MaxUnpool": {0}, "Unique": {0},
}

// stops lists ops whose outputs never carry a gradient (shapes,
// comparisons, constants), even when they read a differentiable value.
var stops = map[string]bool{"Shape": true, "Size": true, "Constant": true, "ConstantOfShape": true,
	"Equal": true, "Greater": true, "Less": true, "GreaterOrEqual": true, "LessOrEqual": true,
	"Not": true, "And": true, "Or": true, "ArgMax": true, "ArgMin": true, "NonZero": true, "Range": true}

var floatTypes = map[int64]bool{int64(onnxpb.TensorProto_FLOAT): true, int64(onnxpb.TensorProto_FLOAT16): true,
	int64(onnxpb.TensorProto_DOUBLE): true, int64(onnxpb.TensorProto_BFLOAT16): true}

// builder appends gradient nodes to a graph.
type builder struct {
	m       *onnx.Model
	g       *onnxpb.GraphProto
	v       *onnx.Graph
	shapes  map[string][]int64 // values on the path, at batch 2
	shapes3 map[string][]int64 // and at batch 3
	consts  map[string]*onnxpb.TensorProto
	grads   map[string][]string
	n       int
}

func newBuilder(m *onnx.Model) (*builder, error) {
	v, err := onnx.NewGraph(m.Graph())
	if err != nil {
		return nil, err
	}
	b := &builder{m: m, g: m.Graph(), v: v, grads: map[string][]string{}, consts: map[string]*onnxpb.TensorProto{}}
	for name, t := range v.Inits {
		b.consts[name] = t
	}
	for _, n := range b.g.GetNode() {
		if n.GetOpType() == "Constant" && len(n.GetOutput()) == 1 {
			if a := onnx.Attr(n, "value"); a != nil && a.GetT() != nil {
				b.consts[n.GetOutput()[0]] = a.GetT()
			}
		}
	}
	return b, nil
}

// path returns the nodes through which a gradient flows from the values
// in from to the value to, in topological order, and the values on it.
func (b *builder) path(from []string, to string) ([]int, map[string]bool, error) {
	nodes := b.g.GetNode()
	tainted := map[string]bool{}
	for _, f := range from {
		tainted[f] = true
	}
	for _, i := range b.v.Order {
		n := nodes[i]
		if stops[n.GetOpType()] {
			continue
		}
		if n.GetOpType() == "Cast" {
			if to := onnx.Attr(n, "to"); to == nil || !floatTypes[to.GetI()] {
				continue
			}
		}
		for k, in := range n.GetInput() {
			if in != "" && tainted[in] && diffSlot(n.GetOpType(), k) {
				for _, o := range n.GetOutput() {
					tainted[o] = true
				}
				break
			}
		}
		if _, known := diffInputs[n.GetOpType()]; !known {
			for _, in := range n.GetInput() {
				if tainted[in] {
					for _, o := range n.GetOutput() {
						tainted[o] = true // to report it, if it reaches the objective
					}
				}
			}
		}
	}
	if !tainted[to] {
		return nil, nil, fmt.Errorf("%s does not depend on %v through differentiable ops", to, from)
	}
	// keep the nodes whose outputs reach to
	relevant := map[string]bool{to: true}
	var order []int
	for k := len(b.v.Order) - 1; k >= 0; k-- {
		i := b.v.Order[k]
		n := nodes[i]
		reaches := false
		for _, o := range n.GetOutput() {
			if relevant[o] && tainted[o] {
				reaches = true
			}
		}
		if !reaches {
			continue
		}
		if _, known := diffInputs[n.GetOpType()]; !known {
			return nil, nil, fmt.Errorf("node %s: lk cannot differentiate %s (it lies between the input and the objective)", onnx.NodeName(n), n.GetOpType())
		}
		order = append(order, i)
		for _, in := range n.GetInput() {
			if tainted[in] {
				relevant[in] = true
			}
		}
	}
	on := map[string]bool{}
	for v := range relevant {
		if tainted[v] {
			on[v] = true
		}
	}
	for l, r := 0, len(order)-1; l < r; l, r = l+1, r-1 {
		order[l], order[r] = order[r], order[l]
	}
	return order, on, nil
}

func diffSlot(op string, k int) bool {
	slots, ok := diffInputs[op]
	if !ok {
		return false
	}
	if len(slots) == 1 && slots[0] == -1 {
		return true
	}
	for _, s := range slots {
		if s == k {
			return true
		}
	}
	return false
}

// backward emits the gradient of the value to (whose gradient is the value
// seed) with respect to each value in wrt, and returns their names.
func (b *builder) backward(order []int, on map[string]bool, to, seed string, wrt []string) ([]string, error) {
	b.grads[to] = []string{seed}
	nodes := b.g.GetNode()
	for k := len(order) - 1; k >= 0; k-- {
		n := nodes[order[k]]
		gouts := make([]string, len(n.GetOutput()))
		any := false
		for j, o := range n.GetOutput() {
			gouts[j] = b.sum(b.grads[o])
			if gouts[j] != "" {
				any = true
			}
		}
		if !any {
			continue
		}
		gins, err := b.vjp(n, gouts, on)
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %v", onnx.NodeName(n), n.GetOpType(), err)
		}
		for j, gi := range gins {
			if gi != "" && j < len(n.GetInput()) && on[n.GetInput()[j]] {
				b.grads[n.GetInput()[j]] = append(b.grads[n.GetInput()[j]], gi)
			}
		}
	}
	out := make([]string, len(wrt))
	for i, w := range wrt {
		out[i] = b.sum(b.grads[w])
		if out[i] == "" {
			return nil, fmt.Errorf("no gradient reaches %s", w)
		}
	}
	return out, nil
}

// sum adds the gradient contributions of a value ("" when none).
func (b *builder) sum(gs []string) string {
	switch len(gs) {
	case 0:
		return ""
	case 1:
		return gs[0]
	}
	return b.op("Sum", gs)
}

// op appends a node with one output and returns the output's name.
func (b *builder) op(op string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	return b.opN(op, 1, inputs, attrs...)[0]
}

func (b *builder) opN(op string, outs int, inputs []string, attrs ...*onnxpb.AttributeProto) []string {
	b.n++
	names := make([]string, outs)
	for i := range names {
		names[i] = fmt.Sprintf("lk_grad/%d_%s_%d", b.n, op, i)
	}
	onnx.AddNode(b.g, op, fmt.Sprintf("lk_grad/%d_%s", b.n, op), inputs, names, attrs...)
	return names
}

// constF adds a float32 initializer and returns its name.
func (b *builder) constF(dims []int64, vals ...float32) string {
	b.n++
	name := fmt.Sprintf("lk_grad/c%d", b.n)
	onnx.AddInitializer(b.g, name, dims, vals)
	b.consts[name] = b.g.Initializer[len(b.g.Initializer)-1]
	return name
}

// scalar is a float32 scalar initializer.
func (b *builder) scalar(v float32) string { return b.constF(nil, v) }

// like reshapes v to x's shape as it is at run time: a 0 in it is a
// dimension of size 0 (allowzero), not "copy this dimension".
func (b *builder) like(v, x string) string {
	return b.op("Reshape", []string{v, b.op("Shape", []string{x})}, onnx.IntAttr("allowzero", 1))
}

// constI adds a 1-D int64 initializer.
func (b *builder) constI(vals ...int64) string {
	b.n++
	name := fmt.Sprintf("lk_grad/i%d", b.n)
	t := &onnxpb.TensorProto{Name: proto.String(name),
		Dims: []int64{int64(len(vals))}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals}
	b.g.Initializer = append(b.g.Initializer, t)
	b.consts[name] = t
	return name
}

// ints reads a constant int tensor input (initializer or Constant node).
func (b *builder) ints(name string) ([]int64, error) {
	t, ok := b.consts[name]
	if !ok {
		return nil, fmt.Errorf("input %q must be a constant (an initializer or a Constant node)", name)
	}
	return b.m.Int64s(t)
}

// floats reads a constant float tensor input.
func (b *builder) floats(name string) ([]float32, error) {
	t, ok := b.consts[name]
	if !ok {
		return nil, fmt.Errorf("input %q must be a constant (an initializer or a Constant node)", name)
	}
	return b.m.Float32s(t)
}

// shape is a value's shape at batch 2 (from the probe, or an initializer's
// or constant's dims).
func (b *builder) shape(v string) ([]int64, error) {
	if s, ok := b.shapes[v]; ok {
		return s, nil
	}
	if t, ok := b.consts[v]; ok {
		return t.GetDims(), nil
	}
	return nil, fmt.Errorf("no shape known for %q", v)
}

// unbroadcast sums g (of shape gs) down to the shape of value target, as
// numpy broadcasting expanded target to gs.
func (b *builder) unbroadcast(g string, gs []int64, target string) (string, error) {
	ts, err := b.shape(target)
	if err != nil {
		return "", err
	}
	if len(ts) > len(gs) {
		return "", fmt.Errorf("operand %q of rank %d is larger than its result's rank %d", target, len(ts), len(gs))
	}
	off := len(gs) - len(ts)
	var axes []int64
	for i := range gs {
		if i < off || (ts[i-off] == 1 && gs[i] != 1) {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) == 0 {
		return g, nil
	}
	r := b.op("ReduceSum", []string{g, b.constI(axes...)}, onnx.IntAttr("keepdims", 1))
	return b.like(r, target), nil
}

// batchAxis reports whether axis of value v grows with the batch (or is
// not known not to).
func (b *builder) batchAxis(v string, axis int64) bool {
	s2, ok2 := b.shapes[v]
	s3, ok3 := b.shapes3[v]
	if !ok2 || !ok3 {
		_, c := b.consts[v]
		return !c
	}
	return int(axis) >= len(s2) || int(axis) >= len(s3) || s2[axis] != s3[axis]
}

func normAxis(a int64, rank int) int64 {
	if a < 0 {
		return a + int64(rank)
	}
	return a
}

func sortedAxes(axes []int64, rank int) []int64 {
	out := make([]int64, len(axes))
	for i, a := range axes {
		out[i] = normAxis(a, rank)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
