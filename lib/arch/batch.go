package arch

import (
	"fmt"
	"slices"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Batch is how many images a model's graph takes in one run.
type Batch struct {
	N   int    // 0: any number; else exactly N (short batches are padded)
	Why string // where a fixed N comes from, for the note a tool prints
}

// Note is the line a tool prints once on stderr for a fixed batch, or "".
func (b Batch) Note(path string) string {
	if b.N == 0 {
		return ""
	}
	return fmt.Sprintf("model %s runs at a fixed batch of %d (%s); short batches are padded with zeros and their extra rows dropped", path, b.N, b.Why)
}

// maxBakedBatch bounds the batches FindBatch tries from a graph's constants.
const maxBakedBatch = 4096

// FindBatch finds the batch the graph of m runs at, from input (one image
// is chw) to output, by running a weightless copy of it. A batch declared
// on the input is honoured (and checked). A dynamic one must work at 2 and
// 3 images, with output's first axis following; otherwise the export
// wrote its example batch into the graph's constants (the dynamo exporter
// writes it into Reshape and Expand shapes, so relabelling the input as
// dynamic does not free it), and the batch is the smallest of those
// constants' leading values (and 1) at which the graph runs. ONNX
// Runtime's own text is never the whole error: it says which batch was
// tried and what to do.
func FindBatch(m *onnx.Model, input, output string, chw []int64, threads int) (Batch, error) {
	ins, _ := m.IO()
	var declared int64 = -1
	var desc string
	for _, in := range ins {
		if in.Name == input && len(in.Dims) > 0 {
			declared, desc = in.Dims[0], in.String()
		}
	}
	p, err := newProber(m, input, []string{output}, threads)
	if err != nil {
		return Batch{}, err
	}
	defer p.close()
	runs := func(b int64) error {
		shapes, _, err := p.at(append([]int64{b}, chw...))
		if err != nil {
			return err
		}
		if os := shapes[output]; len(os) == 0 || os[0] != b {
			return fmt.Errorf("model %s: output %s has shape %v for %d images: its first axis is not the batch", m.Path, output, os, b)
		}
		return nil
	}
	if declared > 0 {
		if err := runs(declared); err != nil {
			return Batch{}, fmt.Errorf("input %s declares a fixed batch of %d, and the graph does not run at it: %w", desc, declared, err)
		}
		return Batch{N: int(declared), Why: fmt.Sprintf("declared by its input %s", desc)}, nil
	}
	err2 := runs(2)
	err3 := runs(3)
	if err2 == nil && err3 == nil {
		return Batch{}, nil
	}
	failed := err2
	if failed == nil {
		failed = err3
	}
	for _, b := range bakedBatches(m) {
		if b == 2 && err2 != nil || b == 3 && err3 != nil {
			continue
		}
		if runs(b) == nil {
			return Batch{N: int(b), Why: fmt.Sprintf("its input %s is declared dynamic, but the export wrote batch %d into the graph's shape constants", desc, b)}, nil
		}
	}
	return Batch{}, &BatchError{Model: m.Path, Input: desc, Err: failed}
}

// BatchError is a graph that runs at no batch lk could find.
type BatchError struct {
	Model, Input string
	Err          error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("model %s: input %s is declared with a dynamic batch, but the graph does not run at 2 or 3 images, nor at any batch its Reshape/Expand constants name: %v. Re-export it with a dynamic batch (torch.onnx.export(..., dynamic_axes={INPUT: {0: \"batch\"}, OUTPUT: {0: \"batch\"}}), or dynamic_shapes with dynamo=True), or with a fixed batch declared on its input",
		e.Model, e.Input, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// bakedBatches are the batches an export may have written into the graph:
// 1 and the positive leading values of int64 constants that give Reshape
// or Expand their shape (directly or through a Concat) or ConstantOfShape
// its shape, ascending.
func bakedBatches(m *onnx.Model) []int64 {
	g := m.Graph()
	consts := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		consts[t.GetName()] = t
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
		if n.GetOpType() == "Constant" && len(n.GetOutput()) == 1 {
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && a.GetT() != nil {
					consts[n.GetOutput()[0]] = a.GetT()
				}
			}
		}
	}
	set := map[int64]bool{1: true}
	var add func(v string, depth int)
	add = func(v string, depth int) {
		if t, ok := consts[v]; ok {
			if vals, err := m.Int64s(t); err == nil && len(vals) > 0 && vals[0] > 0 && vals[0] <= maxBakedBatch {
				set[vals[0]] = true
			}
			return
		}
		if n := producer[v]; n != nil && n.GetOpType() == "Concat" && depth < 2 && len(n.GetInput()) > 0 {
			add(n.GetInput()[0], depth+1)
		}
	}
	for _, n := range g.GetNode() {
		switch n.GetOpType() {
		case "Reshape", "Expand":
			if len(n.GetInput()) > 1 {
				add(n.GetInput()[1], 0)
			}
		case "ConstantOfShape":
			if len(n.GetInput()) > 0 {
				add(n.GetInput()[0], 0)
			}
		}
	}
	var out []int64
	for b := range set {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}
