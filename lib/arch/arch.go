// Package arch finds the architecture inside an ONNX graph: its residual
// blocks, their stages, and its depthwise convolutions, so that the
// analyses of the paper (feature-map variance, lesions, kernel attention
// distance) run on any exported model without a hand-written layer list.
//
// A residual block is found at an Add node whose two operands both depend
// on the image and meet at a common value, the block's input, where one
// operand (the skip) is that input itself or a short projection of it
// (Conv, BatchNormalization, pooling: ResNet's downsampling shortcut) and
// the other (the body) is longer. Two parallel convolutions summed (a
// RepLKNet large kernel and its small branch) are not a block: neither is
// shorter. A Relu that alone reads the Add's output belongs to the block.
package arch

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Block is one residual block.
type Block struct {
	Index   int     // 1-based, in graph order
	Stage   int     // 1-based; blocks of a stage share output shape
	InStage int     // 1-based position within the stage
	Scope   string  // the common name prefix of its nodes, e.g. /stages.0/stages.0.1
	Add     string  // name of the residual Add node
	Input   string  // the value the block reads
	Output  string  // the value it outputs (the Add's, or the Relu's after it)
	Skip    string  // "identity", or the ops of the projection, e.g. "Conv"
	Nodes   []int   // indices of the nodes of body, skip, Add and trailing Relu
	Shape   []int64 // output shape at batch 1
	InShape []int64 // input shape at batch 1

	shared bool // another block has the same scope
}

// Name is how messages and --list name a block: its scope, or its Add
// node's name where several blocks share a scope (a ViT block's attention
// and MLP residuals).
func (b Block) Name() string {
	if b.Scope != "" && !b.shared {
		return b.Scope
	}
	return b.Add
}

// projection lists the ops a skip path may consist of.
var projection = map[string]bool{"Conv": true, "BatchNormalization": true, "AveragePool": true,
	"MaxPool": true, "Identity": true}

// learned lists the ops at least one of which a block's body has.
var learned = map[string]bool{"Conv": true, "ConvTranspose": true, "MatMul": true, "Gemm": true}

// maxSkip is the longest projection path: Conv then BatchNormalization
// when the export did not fold them, after a pooling layer.
const maxSkip = 3

// Find returns the residual blocks of g reachable from the graph input
// input, in graph order. Stages are not assigned (see Assign).
func Find(g *onnx.Graph, input string) ([]Block, error) {
	nodes := g.P.GetNode()
	// dynamic: values that depend on the image
	dyn := map[string]bool{input: true}
	for _, i := range g.Order {
		for _, in := range nodes[i].GetInput() {
			if dyn[in] {
				for _, o := range nodes[i].GetOutput() {
					dyn[o] = true
				}
				break
			}
		}
	}
	if len(g.Consumers[input]) == 0 {
		return nil, fmt.Errorf("no node reads the input %q", input)
	}
	// immediate dominators over nodes; -1 is a virtual root that outputs the input
	const root = -1
	idom := map[int]int{}
	depth := map[int]int{root: 0}
	lca := func(a, b int) int {
		for a != b {
			if depth[a] < depth[b] {
				a, b = b, a
			}
			a = idom[a]
		}
		return a
	}
	pos := make(map[int]int, len(g.Order))
	for k, i := range g.Order {
		pos[i] = k
		d, first := 0, true
		for _, in := range nodes[i].GetInput() {
			if !dyn[in] {
				continue
			}
			p := root
			if j, ok := g.Producer[in]; ok {
				p = j
			}
			if first {
				d, first = p, false
			} else {
				d = lca(d, p)
			}
		}
		if !first {
			idom[i] = d
			depth[i] = depth[d] + 1
		}
	}
	// ancestors of value v back to (not including) the values produced by
	// dominator d, or the input when d is the root.
	within := func(v string, d int) []int {
		var out []int
		seen := map[int]bool{}
		stack := []string{v}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			j, ok := g.Producer[x]
			if !ok || j == d || seen[j] || !dyn[x] {
				continue
			}
			seen[j] = true
			out = append(out, j)
			for _, in := range nodes[j].GetInput() {
				if dyn[in] {
					stack = append(stack, in)
				}
			}
		}
		return out
	}
	var blocks []Block
	for _, i := range g.Order {
		n := nodes[i]
		if n.GetOpType() != "Add" || len(n.GetInput()) != 2 || !dyn[n.GetInput()[0]] || !dyn[n.GetInput()[1]] {
			continue
		}
		d := idom[i]
		in := input
		if d != root {
			outs := dynOutputs(nodes[d], dyn)
			if len(outs) != 1 {
				continue // the operands meet at a multi-output node (Split): not a block
			}
			in = outs[0]
		}
		a, b := n.GetInput()[0], n.GetInput()[1]
		pa, pb := within(a, d), within(b, d)
		if len(pb) < len(pa) {
			a, b, pa, pb = b, a, pb, pa
		}
		// a is the skip candidate
		if len(pa) >= len(pb) || len(pa) > maxSkip || !allOps(nodes, pa, projection) {
			continue
		}
		if len(pa) > 0 && !chain(nodes, pa, in, a) {
			continue
		}
		if !anyOps(nodes, pb, learned) {
			continue // x + f(x) without weights: an activation's formula (tanh GELU), not a block
		}
		blk := Block{Add: onnx.NodeName(n), Input: in, Output: n.GetOutput()[0], Skip: "identity"}
		if len(pa) > 0 {
			blk.Skip = opsOf(nodes, pa)
		}
		blk.Nodes = append(append(append(blk.Nodes, pa...), pb...), i)
		if cs := g.Consumers[blk.Output]; len(cs) == 1 && nodes[cs[0]].GetOpType() == "Relu" && !isOutput(g.P, blk.Output) {
			blk.Nodes = append(blk.Nodes, cs[0])
			blk.Output = nodes[cs[0]].GetOutput()[0]
		}
		sort.Slice(blk.Nodes, func(x, y int) bool { return pos[blk.Nodes[x]] < pos[blk.Nodes[y]] })
		blk.Scope = scope(nodes, blk.Nodes)
		blocks = append(blocks, blk)
	}
	scopes := map[string]int{}
	for _, b := range blocks {
		scopes[b.Scope]++
	}
	for k := range blocks {
		blocks[k].Index = k + 1
		blocks[k].shared = scopes[blocks[k].Scope] > 1
	}
	return blocks, nil
}

func dynOutputs(n *onnxpb.NodeProto, dyn map[string]bool) []string {
	var out []string
	for _, o := range n.GetOutput() {
		if dyn[o] {
			out = append(out, o)
		}
	}
	return out
}

func isOutput(g *onnxpb.GraphProto, v string) bool {
	for _, o := range g.GetOutput() {
		if o.GetName() == v {
			return true
		}
	}
	return false
}

func allOps(nodes []*onnxpb.NodeProto, idx []int, ok map[string]bool) bool {
	for _, i := range idx {
		if !ok[nodes[i].GetOpType()] {
			return false
		}
	}
	return true
}

func anyOps(nodes []*onnxpb.NodeProto, idx []int, ok map[string]bool) bool {
	for _, i := range idx {
		if ok[nodes[i].GetOpType()] {
			return true
		}
	}
	return false
}

// chain reports whether idx is a single path from value from to value to,
// each node reading the previous one's output.
func chain(nodes []*onnxpb.NodeProto, idx []int, from, to string) bool {
	byOut := map[string]int{}
	for _, i := range idx {
		byOut[nodes[i].GetOutput()[0]] = i
	}
	v, steps := to, 0
	for v != from {
		i, ok := byOut[v]
		if !ok || steps > len(idx) {
			return false
		}
		v = nodes[i].GetInput()[0]
		steps++
	}
	return steps == len(idx)
}

func opsOf(nodes []*onnxpb.NodeProto, idx []int) string {
	var ops []string
	for k := len(idx) - 1; k >= 0; k-- { // within() walks backwards
		ops = append(ops, nodes[idx[k]].GetOpType())
	}
	return strings.Join(ops, "+")
}

// scope is the longest common /-separated prefix of the nodes' names
// ("" when they share none or are unnamed).
func scope(nodes []*onnxpb.NodeProto, idx []int) string {
	var common []string
	for k, i := range idx {
		parts := strings.Split(nodes[i].GetName(), "/")
		parts = parts[:len(parts)-1] // the last part names the node itself
		if k == 0 {
			common = parts
			continue
		}
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	return strings.Join(common, "/")
}

// Assign numbers stages from the block output shapes (value -> dims at
// batch 1): consecutive blocks with the same output shape share a stage.
func Assign(blocks []Block, shapes map[string][]int64) error {
	prev := ""
	stage, k := 0, 0
	for i := range blocks {
		s, ok := shapes[blocks[i].Output]
		if !ok {
			return fmt.Errorf("no shape for the output %q of block %s", blocks[i].Output, blocks[i].Name())
		}
		blocks[i].Shape = s
		blocks[i].InShape = shapes[blocks[i].Input]
		key := fmt.Sprint(s[1:])
		if key != prev {
			stage++
			k = 0
			prev = key
		}
		k++
		blocks[i].Stage, blocks[i].InStage = stage, k
	}
	return nil
}
