package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Graph is an indexed view of a graph: who produces and who consumes each
// value, the nodes in topological order, and the shapes the model carries.
// Build it again after editing the graph.
type Graph struct {
	P         *onnxpb.GraphProto
	Producer  map[string]int   // value -> index of the node that outputs it
	Consumers map[string][]int // value -> indices of the nodes that read it
	Inits     map[string]*onnxpb.TensorProto
	Order     []int              // node indices, producers before consumers
	Shapes    map[string][]int64 // value -> dims (-1 where symbolic), when known
}

// NodeName names a node for messages: its name, else its op and first output.
func NodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	out := ""
	if len(n.GetOutput()) > 0 {
		out = n.GetOutput()[0]
	}
	return fmt.Sprintf("%s->%s", n.GetOpType(), out)
}

// NewGraph indexes g. It fails, naming the node, when a node reads a value
// nothing defines or when the graph has a cycle.
func NewGraph(g *onnxpb.GraphProto) (*Graph, error) {
	v := &Graph{P: g, Producer: map[string]int{}, Consumers: map[string][]int{},
		Inits: map[string]*onnxpb.TensorProto{}, Shapes: map[string][]int64{}}
	defined := map[string]bool{"": true} // "" is an omitted optional input
	for _, t := range g.GetInitializer() {
		v.Inits[t.GetName()] = t
		defined[t.GetName()] = true
	}
	for _, in := range g.GetInput() {
		defined[in.GetName()] = true
	}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if j, dup := v.Producer[o]; dup {
				return nil, fmt.Errorf("value %q is output by both node %s and node %s", o, NodeName(g.GetNode()[j]), NodeName(n))
			}
			v.Producer[o] = i
			defined[o] = true
		}
	}
	indeg := make([]int, len(g.GetNode()))
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if !defined[in] {
				return nil, fmt.Errorf("node %s (%s) reads %q, which no node, input or initializer defines", NodeName(n), n.GetOpType(), in)
			}
			v.Consumers[in] = append(v.Consumers[in], i)
			if _, ok := v.Producer[in]; ok {
				indeg[i]++
			}
		}
	}
	// Kahn's algorithm, taking ready nodes in file order for a stable result.
	var ready []int
	for i, d := range indeg {
		if d == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		v.Order = append(v.Order, i)
		for _, o := range g.GetNode()[i].GetOutput() {
			for _, c := range v.Consumers[o] {
				if indeg[c]--; indeg[c] == 0 {
					ready = append(ready, c)
				}
			}
		}
	}
	if len(v.Order) != len(g.GetNode()) {
		for i, d := range indeg {
			if d > 0 {
				return nil, fmt.Errorf("the graph has a cycle through node %s", NodeName(g.GetNode()[i]))
			}
		}
	}
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...), g.GetValueInfo()...) {
		if dims, ok := valueDims(vi); ok {
			v.Shapes[vi.GetName()] = dims
		}
	}
	for name, t := range v.Inits {
		v.Shapes[name] = append([]int64{}, t.GetDims()...)
	}
	return v, nil
}

func valueDims(vi *onnxpb.ValueInfoProto) ([]int64, bool) {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return nil, false
	}
	var dims []int64
	for _, d := range tt.GetShape().GetDim() {
		if dv, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			dims = append(dims, dv.DimValue)
		} else {
			dims = append(dims, -1)
		}
	}
	return dims, true
}

// Attr returns a node's attribute by name, or nil.
func Attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// Bypass rewires every reader of value to to read value from instead,
// graph outputs included, then removes the nodes that no longer contribute
// to any graph output: a subgraph from -> ... -> to becomes the identity.
func Bypass(g *onnxpb.GraphProto, from, to string) error {
	v, err := NewGraph(g)
	if err != nil {
		return err
	}
	if _, ok := v.Producer[to]; !ok {
		return fmt.Errorf("bypass: no node outputs %q", to)
	}
	for _, n := range g.GetNode() {
		for i, in := range n.GetInput() {
			if in == to {
				n.Input[i] = from
			}
		}
	}
	for _, o := range g.GetOutput() {
		if o.GetName() == to {
			// keep the output name: an Identity carries from to it
			g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Identity"),
				Name: proto.String("lk_bypass_" + to), Input: []string{from}, Output: []string{to}})
		}
	}
	return Prune(g)
}

// Prune removes nodes whose outputs reach no graph output, and
// initializers nothing reads.
func Prune(g *onnxpb.GraphProto) error {
	v, err := NewGraph(g)
	if err != nil {
		return err
	}
	live := map[int]bool{}
	var stack []string
	for _, o := range g.GetOutput() {
		stack = append(stack, o.GetName())
	}
	seen := map[string]bool{}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[name] {
			continue
		}
		seen[name] = true
		if i, ok := v.Producer[name]; ok && !live[i] {
			live[i] = true
			stack = append(stack, g.GetNode()[i].GetInput()...)
		}
	}
	var nodes []*onnxpb.NodeProto
	for i, n := range g.GetNode() {
		if live[i] {
			nodes = append(nodes, n)
		}
	}
	g.Node = nodes
	var inits []*onnxpb.TensorProto
	for _, t := range g.GetInitializer() {
		if seen[t.GetName()] {
			inits = append(inits, t)
		}
	}
	g.Initializer = inits
	return nil
}

// AddInitializer adds a float32 initializer named name with the given dims
// (its values stored as raw little-endian bytes, as exporters write them).
func AddInitializer(g *onnxpb.GraphProto, name string, dims []int64, vals []float32) {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw})
}

// AddNode appends a node of the default domain; attrs may be nil.
func AddNode(g *onnxpb.GraphProto, op, name string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: outputs, Attribute: attrs}
	g.Node = append(g.Node, n)
	return n
}

// IntAttr, FloatAttr, StringAttr and IntsAttr build attributes for AddNode.
func IntAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func FloatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func StringAttr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func IntsAttr(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// Rename renames a value everywhere: its producer's output, its readers'
// inputs and the graph output of that name.
func Rename(g *onnxpb.GraphProto, old, new string) {
	for _, n := range g.GetNode() {
		for i, in := range n.GetInput() {
			if in == old {
				n.Input[i] = new
			}
		}
		for i, o := range n.GetOutput() {
			if o == old {
				n.Output[i] = new
			}
		}
	}
	for _, o := range g.GetOutput() {
		if o.GetName() == old {
			o.Name = proto.String(new)
		}
	}
}
