package kernel

import (
	"fmt"
	"math"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Layer is one depthwise convolution's kernels.
type Layer struct {
	Node     int    // index of the Conv node in the graph
	Name     string // the node's name
	Kernel   int    // K of the K x K kernel
	Channels int
	Weights  []float32 // Channels x K x K, row-major
	Small    string    // the merged parallel small kernel's node, if any
}

// conv is a depthwise Conv node with a square kernel held in an initializer.
type conv struct {
	node   int
	c, k   int
	weight *onnxpb.TensorProto
}

// depthwise reports whether node i is a depthwise Conv (group equal to the
// channels, one input channel per group) with a square kernel.
func depthwise(g *onnx.Graph, i int) (conv, bool) {
	n := g.P.GetNode()[i]
	if n.GetOpType() != "Conv" || len(n.GetInput()) < 2 {
		return conv{}, false
	}
	w, ok := g.Inits[n.GetInput()[1]]
	if !ok {
		return conv{}, false
	}
	d := w.GetDims()
	grp := onnx.Attr(n, "group")
	if len(d) != 4 || d[1] != 1 || grp == nil || grp.GetI() != d[0] || d[0] < 2 || d[2] != d[3] {
		return conv{}, false
	}
	return conv{node: i, c: int(d[0]), k: int(d[2]), weight: w}, true
}

// IsDepthwise reports whether node i of g is a depthwise Conv with a square
// kernel held in an initializer, and its channels and kernel size.
func IsDepthwise(g *onnx.Graph, i int) (channels, k int, ok bool) {
	c, ok := depthwise(g, i)
	return c.c, c.k, ok
}

// Depthwise returns the depthwise convolutions of g with a kernel of at
// least minKernel, in graph order. A depthwise conv that runs beside a
// larger one on the same input, their outputs summed (RepLKNet's small
// branch), belongs to the larger one's kernel and is not listed. With
// merge, the small kernel is zero-padded and added to the large one, each
// first scaled by the BatchNormalization that follows it, if any, so that
// the result is the kernel the re-parameterised model uses.
func Depthwise(m *onnx.Model, g *onnx.Graph, minKernel int, merge bool) ([]Layer, error) {
	var layers []Layer
	for _, i := range g.Order {
		c, ok := depthwise(g, i)
		if !ok || c.k < minKernel {
			continue
		}
		sibling, iAmSmall := parallel(g, c)
		if iAmSmall {
			continue
		}
		w, err := m.Float32s(c.weight)
		if err != nil {
			return nil, fmt.Errorf("node %s: weight: %v", onnx.NodeName(g.P.GetNode()[i]), err)
		}
		l := Layer{Node: i, Name: onnx.NodeName(g.P.GetNode()[i]), Kernel: c.k, Channels: c.c, Weights: w}
		if merge && sibling != nil {
			if err := scaleByBN(m, g, c.node, l.Weights, c.k*c.k); err != nil {
				return nil, err
			}
			ws, err := m.Float32s(sibling.weight)
			if err != nil {
				return nil, fmt.Errorf("node %s: weight: %v", onnx.NodeName(g.P.GetNode()[sibling.node]), err)
			}
			if err := scaleByBN(m, g, sibling.node, ws, sibling.k*sibling.k); err != nil {
				return nil, err
			}
			for ch := 0; ch < c.c; ch++ {
				Merge(l.Weights[ch*c.k*c.k:(ch+1)*c.k*c.k], c.k, ws[ch*sibling.k*sibling.k:(ch+1)*sibling.k*sibling.k], sibling.k)
			}
			l.Small = onnx.NodeName(g.P.GetNode()[sibling.node])
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// afterBN follows a value through a BatchNormalization that alone reads
// it, returning the value the branch contributes and the BN node (-1).
func afterBN(g *onnx.Graph, v string) (string, int) {
	if cs := g.Consumers[v]; len(cs) == 1 && g.P.GetNode()[cs[0]].GetOpType() == "BatchNormalization" {
		return g.P.GetNode()[cs[0]].GetOutput()[0], cs[0]
	}
	return v, -1
}

// parallel finds the depthwise conv that reads c's input with the same
// channels and whose output (after an optional BN) is summed with c's.
// It returns the sibling when it has the smaller kernel, and reports
// whether c itself is the smaller one.
func parallel(g *onnx.Graph, c conv) (*conv, bool) {
	n := g.P.GetNode()[c.node]
	out, _ := afterBN(g, n.GetOutput()[0])
	for _, j := range g.Consumers[n.GetInput()[0]] {
		if j == c.node {
			continue
		}
		s, ok := depthwise(g, j)
		if !ok || s.c != c.c || s.k == c.k {
			continue
		}
		sout, _ := afterBN(g, g.P.GetNode()[j].GetOutput()[0])
		for _, a := range g.Consumers[out] {
			an := g.P.GetNode()[a]
			if an.GetOpType() == "Add" && len(an.GetInput()) == 2 &&
				(an.GetInput()[0] == sout || an.GetInput()[1] == sout) {
				if s.k < c.k {
					return &s, false
				}
				return nil, true
			}
		}
	}
	return nil, false
}

// scaleByBN multiplies each channel's kernel (size per channel) by
// gamma / sqrt(var + eps) of the BatchNormalization after node i, if any.
func scaleByBN(m *onnx.Model, g *onnx.Graph, i int, w []float32, size int) error {
	_, bn := afterBN(g, g.P.GetNode()[i].GetOutput()[0])
	if bn < 0 {
		return nil
	}
	n := g.P.GetNode()[bn]
	if len(n.GetInput()) < 5 {
		return fmt.Errorf("node %s: BatchNormalization with %d inputs, want 5", onnx.NodeName(n), len(n.GetInput()))
	}
	get := func(k int) ([]float32, error) {
		t, ok := g.Inits[n.GetInput()[k]]
		if !ok {
			return nil, fmt.Errorf("node %s: input %q is not an initializer", onnx.NodeName(n), n.GetInput()[k])
		}
		v, err := m.Float32s(t)
		if err == nil && len(v) != len(w)/size {
			err = fmt.Errorf("node %s: %d values in %q for %d channels", onnx.NodeName(n), len(v), n.GetInput()[k], len(w)/size)
		}
		return v, err
	}
	gamma, err := get(1)
	if err != nil {
		return err
	}
	variance, err := get(4)
	if err != nil {
		return err
	}
	eps := float32(1e-5)
	if a := onnx.Attr(n, "epsilon"); a != nil {
		eps = a.GetF()
	}
	for ch := range gamma {
		s := gamma[ch] / float32(math.Sqrt(float64(variance[ch]+eps)))
		for k := ch * size; k < (ch+1)*size; k++ {
			w[k] *= s
		}
	}
	return nil
}
