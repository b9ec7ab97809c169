package onnx

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// maxInlineDepth bounds nested function calls: a function that calls
// itself, directly or not, is an error rather than a hang.
const maxInlineDepth = 32

// Inline replaces every call of a model-local function in the main graph
// (and in the subgraphs of its If and Loop nodes) by the function's body,
// as ONNX Runtime does when it loads the model, so that every Go consumer
// (gradients, blocks, lesions, summaries) sees the standard operators the
// functions are made of. torch.onnx.export(dynamo=True) writes batch norm,
// layer norm, GELU and more as functions of domain pkg.onnxscript.torch_lib.
//
// Formal inputs and outputs become the call's values (an omitted optional
// input stays omitted); the body's own values and nodes are prefixed with
// the call's name, made unique against every name in the model; attribute
// references (ref_attr_name) take the call's attribute, else the
// function's default, else are dropped, as the ONNX spec says. Function
// opset imports of other domains are added to the model's; a function
// that needs a different version of the standard operator set than the
// model is an error naming it. The model's functions and the imports only
// they used are removed.
func Inline(mp *onnxpb.ModelProto) error {
	if len(mp.GetFunctions()) == 0 || mp.GetGraph() == nil {
		return nil
	}
	in := &inliner{mp: mp, funcs: map[string]*onnxpb.FunctionProto{}, names: map[string]bool{}}
	for _, f := range mp.GetFunctions() {
		in.funcs[funcKey(f.GetDomain(), f.GetName(), f.GetOverload())] = f
	}
	in.collect(mp.GetGraph())
	opset := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		opset[normDomain(o.GetDomain())] = o.GetVersion()
	}
	in.opset = opset
	nodes, err := in.nodes(mp.GetGraph().GetNode(), 0)
	if err != nil {
		return err
	}
	mp.Graph.Node = nodes
	mp.Functions = nil
	used := map[string]bool{"": true, "ai.onnx.ml": true}
	markDomains(mp.GetGraph(), used)
	var imports []*onnxpb.OperatorSetIdProto
	for _, o := range mp.GetOpsetImport() {
		if used[normDomain(o.GetDomain())] {
			imports = append(imports, o)
		}
	}
	for d, v := range in.added {
		if used[d] && opset[d] == 0 {
			imports = append(imports, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(v)})
		}
	}
	mp.OpsetImport = imports
	return nil
}

type inliner struct {
	mp    *onnxpb.ModelProto
	funcs map[string]*onnxpb.FunctionProto
	names map[string]bool // every value and node name in use
	opset map[string]int64
	added map[string]int64 // domains functions import that the model did not
	calls int
}

func funcKey(domain, name, overload string) string {
	return normDomain(domain) + "\x00" + name + "\x00" + overload
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// collect records the names the graph (and its subgraphs) use.
func (in *inliner) collect(g *onnxpb.GraphProto) {
	for _, t := range g.GetInitializer() {
		in.names[t.GetName()] = true
	}
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...), g.GetValueInfo()...) {
		in.names[vi.GetName()] = true
	}
	for _, n := range g.GetNode() {
		in.names[n.GetName()] = true
		for _, v := range append(append([]string{}, n.GetInput()...), n.GetOutput()...) {
			in.names[v] = true
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				in.collect(a.GetG())
			}
			for _, sg := range a.GetGraphs() {
				in.collect(sg)
			}
		}
	}
}

// fresh returns base, or base with a numeric suffix, unused so far.
func (in *inliner) fresh(base string) string {
	name := base
	for k := 1; in.names[name]; k++ {
		name = base + "_" + strconv.Itoa(k)
	}
	in.names[name] = true
	return name
}

// nodes returns ns with every function call expanded, recursively.
func (in *inliner) nodes(ns []*onnxpb.NodeProto, depth int) ([]*onnxpb.NodeProto, error) {
	var out []*onnxpb.NodeProto
	for _, n := range ns {
		if err := in.subgraphs(n, depth); err != nil {
			return nil, err
		}
		f := in.funcs[funcKey(n.GetDomain(), n.GetOpType(), n.GetOverload())]
		if f == nil {
			out = append(out, n)
			continue
		}
		if depth >= maxInlineDepth {
			return nil, fmt.Errorf("node %s calls function %s nested more than %d deep (a function that calls itself?)", NodeName(n), f.GetName(), maxInlineDepth)
		}
		body, err := in.expand(n, f)
		if err != nil {
			return nil, err
		}
		if body, err = in.nodes(body, depth+1); err != nil {
			return nil, err
		}
		out = append(out, body...)
	}
	return out, nil
}

// subgraphs inlines the calls inside n's graph attributes.
func (in *inliner) subgraphs(n *onnxpb.NodeProto, depth int) error {
	for _, a := range n.GetAttribute() {
		gs := a.GetGraphs()
		if a.GetG() != nil {
			gs = append([]*onnxpb.GraphProto{a.GetG()}, gs...)
		}
		for _, g := range gs {
			nodes, err := in.nodes(g.GetNode(), depth)
			if err != nil {
				return err
			}
			g.Node = nodes
		}
	}
	return nil
}

// expand returns the body of f as called by n: renamed, with attribute
// references resolved.
func (in *inliner) expand(n *onnxpb.NodeProto, f *onnxpb.FunctionProto) ([]*onnxpb.NodeProto, error) {
	where := fmt.Sprintf("node %s (function %s of domain %q)", NodeName(n), f.GetName(), f.GetDomain())
	if len(n.GetInput()) > len(f.GetInput()) {
		return nil, fmt.Errorf("%s: %d inputs, the function takes %d", where, len(n.GetInput()), len(f.GetInput()))
	}
	if len(n.GetOutput()) > len(f.GetOutput()) {
		return nil, fmt.Errorf("%s: %d outputs, the function has %d", where, len(n.GetOutput()), len(f.GetOutput()))
	}
	for _, o := range f.GetOpsetImport() {
		d := normDomain(o.GetDomain())
		have, ok := in.opset[d]
		switch {
		case ok && have != o.GetVersion() && d == "":
			return nil, fmt.Errorf("%s: the function uses version %d of the standard operator set, the model %d; lk reads one version per model (re-export with opset_version=%d)", where, o.GetVersion(), have, o.GetVersion())
		case !ok:
			if in.added == nil {
				in.added = map[string]int64{}
			}
			in.added[d] = o.GetVersion()
		}
	}
	attrs := map[string]*onnxpb.AttributeProto{}
	for _, a := range f.GetAttributeProto() {
		attrs[a.GetName()] = a
	}
	for _, a := range n.GetAttribute() {
		attrs[a.GetName()] = a
	}
	in.calls++
	prefix := n.GetName()
	if prefix == "" {
		prefix = fmt.Sprintf("lk_inline_%d_%s", in.calls, f.GetName())
	}
	rename := map[string]string{"": ""}
	for i, formal := range f.GetInput() {
		actual := ""
		if i < len(n.GetInput()) {
			actual = n.GetInput()[i]
		}
		rename[formal] = actual
	}
	for i, formal := range f.GetOutput() {
		if i < len(n.GetOutput()) {
			rename[formal] = n.GetOutput()[i]
		} else {
			rename[formal] = in.fresh(prefix + "/" + formal)
		}
	}
	name := func(v string) string {
		if r, ok := rename[v]; ok {
			return r
		}
		r := in.fresh(prefix + "/" + v)
		rename[v] = r
		return r
	}
	var out []*onnxpb.NodeProto
	for k, bn := range f.GetNode() {
		c := proto.Clone(bn).(*onnxpb.NodeProto)
		base := bn.GetName()
		if base == "" {
			base = fmt.Sprintf("%s_%d", bn.GetOpType(), k)
		}
		c.Name = proto.String(in.fresh(prefix + "/" + base))
		for i, v := range c.GetInput() {
			c.Input[i] = name(v)
		}
		for i, v := range c.GetOutput() {
			c.Output[i] = name(v)
		}
		var kept []*onnxpb.AttributeProto
		for _, a := range c.GetAttribute() {
			if ref := a.GetRefAttrName(); ref != "" {
				given, ok := attrs[ref]
				if !ok {
					continue // neither given nor defaulted: the attribute is absent
				}
				r := proto.Clone(given).(*onnxpb.AttributeProto)
				r.Name = proto.String(a.GetName())
				a = r
			}
			if err := renameSubgraphs(a, rename); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			kept = append(kept, a)
		}
		c.Attribute = kept
		out = append(out, c)
	}
	return out, nil
}

// renameSubgraphs renames, inside a body node's graph attributes, the
// outer values the subgraph reads by the names they got outside.
func renameSubgraphs(a *onnxpb.AttributeProto, rename map[string]string) error {
	gs := a.GetGraphs()
	if a.GetG() != nil {
		gs = append([]*onnxpb.GraphProto{a.GetG()}, gs...)
	}
	for _, g := range gs {
		local := map[string]bool{}
		for _, vi := range g.GetInput() {
			local[vi.GetName()] = true
		}
		for _, t := range g.GetInitializer() {
			local[t.GetName()] = true
		}
		for _, n := range g.GetNode() {
			for _, o := range n.GetOutput() {
				local[o] = true
			}
		}
		for _, n := range g.GetNode() {
			for i, v := range n.GetInput() {
				if r, ok := rename[v]; ok && !local[v] {
					n.Input[i] = r
				}
			}
			for _, sa := range n.GetAttribute() {
				if err := renameSubgraphs(sa, rename); err != nil {
					return err
				}
			}
		}
		for _, o := range g.GetOutput() {
			if r, ok := rename[o.GetName()]; ok && !local[o.GetName()] {
				o.Name = proto.String(r)
			}
		}
	}
	return nil
}

// markDomains records the domains g's nodes (and subgraphs') use.
func markDomains(g *onnxpb.GraphProto, used map[string]bool) {
	for _, n := range g.GetNode() {
		used[normDomain(n.GetDomain())] = true
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				markDomains(a.GetG(), used)
			}
			for _, sg := range a.GetGraphs() {
				markDomains(sg, used)
			}
		}
	}
}
