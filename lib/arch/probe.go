package arch

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
)

// Probe runs the model once on a zero image of shape in (batch 1) with the
// given values added as outputs and returns their shapes. ONNX Runtime's
// own shape computation is exact for every op it runs, where a static
// inference in Go would cover only the ops it knows.
func Probe(m *onnx.Model, input string, in []int64, values []string, threads int) (map[string][]int64, error) {
	shapes, _, err := ProbeInts(m, input, in, values, threads)
	return shapes, err
}

// ProbeInts is Probe that also returns the values of the int64 ones among
// values: the results of shape computations (Shape, Gather, Mul on dims),
// which a graph transformation may need as constants.
func ProbeInts(m *onnx.Model, input string, in []int64, values []string, threads int) (map[string][]int64, map[string][]int64, error) {
	if len(values) == 0 {
		return map[string][]int64{}, map[string][]int64{}, nil
	}
	p, err := newProber(m, input, values, threads)
	if err != nil {
		return nil, nil, err
	}
	defer p.close()
	return p.at(in)
}

// prober runs a weightless copy of a model with chosen values as its
// outputs, at any input shape, from one ONNX Runtime session.
type prober struct {
	m        *onnx.Model
	path     string
	s        *ort.Session
	cleanup  func()
	values   []string
	viaShape bool
}

func newProber(m *onnx.Model, input string, values []string, threads int) (*prober, error) {
	pm := shapeModel(m)
	outs := values
	viaShape := pm.Opset() >= 5 // Reshape takes its shape as an input from opset 5
	if viaShape {
		// each value as its shape (a 1-D int64 tensor) and flattened to
		// 1-D: a 0-d value (a scalar computed in the graph) cannot come
		// out of onnxruntime_go as it is
		g := pm.Graph()
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("lk_probe/flat"), Dims: []int64{1},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{-1}})
		outs = nil
		for i, v := range values {
			sh, fl := fmt.Sprintf("lk_probe/%d/shape", i), fmt.Sprintf("lk_probe/%d/flat", i)
			onnx.AddNode(g, "Shape", sh, []string{v}, []string{sh})
			onnx.AddNode(g, "Reshape", fl, []string{v, "lk_probe/flat"}, []string{fl})
			outs = append(outs, sh, fl)
		}
	}
	path, cleanup, err := WithOutputs(pm, outs)
	if err != nil {
		return nil, err
	}
	s, err := ort.NewSession(path, input, outs, ort.Options{Threads: threads, NoOptimize: true})
	if err != nil {
		cleanup()
		return nil, CopyError(m.Path, path, "probing shapes", err)
	}
	return &prober{m: m, path: path, s: s, cleanup: cleanup, values: values, viaShape: viaShape}, nil
}

func (p *prober) close() {
	p.s.Close()
	p.cleanup()
}

// at runs the copy on zeros of shape in and returns the values' shapes
// and the contents of the int64 ones.
func (p *prober) at(in []int64) (map[string][]int64, map[string][]int64, error) {
	ts, vs, err := p.s.ShapesInts(make([]float32, size(in)), in)
	if err != nil {
		return nil, nil, CopyError(p.m.Path, p.path, "probing shapes", err)
	}
	shapes, ints := map[string][]int64{}, map[string][]int64{}
	for i, v := range p.values {
		if !p.viaShape {
			shapes[v] = ts[i]
			if vs[i] != nil {
				ints[v] = vs[i]
			}
			continue
		}
		shapes[v] = append([]int64{}, vs[2*i]...)
		if vs[2*i+1] != nil {
			ints[v] = vs[2*i+1]
		}
	}
	return shapes, ints, nil
}

// bigInit is the size from which shapeModel replaces a float initializer.
const bigInit = 1024

// shapeModel returns a copy of m in which every float initializer of at
// least bigInit elements is made at run time by ConstantOfShape (zeros):
// shapes do not depend on the weights' values, and without them the copy
// is small to write and quick for ONNX Runtime to load. Small ones stay,
// as values that decide shapes (Resize scales) are small. ConstantOfShape
// is an opset-9 op: a model of an older opset keeps its weights.
func shapeModel(m *onnx.Model) *onnx.Model {
	c := m.Clone()
	if m.Opset() < 9 {
		return c
	}
	g := c.Graph()
	var keep []*onnxpb.TensorProto
	var made []*onnxpb.NodeProto
	replaced := map[string]bool{}
	for _, t := range g.GetInitializer() {
		n, err := onnx.NumElements(t)
		if err != nil || n < bigInit || len(t.GetDims()) == 0 || !floatTypes[t.GetDataType()] {
			keep = append(keep, t)
			continue
		}
		name := t.GetName()
		replaced[name] = true
		raw := make([]byte, 8*len(t.GetDims()))
		for i, d := range t.GetDims() {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(d))
		}
		keep = append(keep, &onnxpb.TensorProto{Name: proto.String(name + "_lk_dims"), Dims: []int64{int64(len(t.GetDims()))},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), RawData: raw})
		zero := &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(t.GetDataType()), RawData: make([]byte, elemBytes(t.GetDataType()))}
		made = append(made, &onnxpb.NodeProto{OpType: proto.String("ConstantOfShape"), Name: proto.String(name + "_lk_zeros"),
			Input: []string{name + "_lk_dims"}, Output: []string{name},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: zero}}})
	}
	g.Initializer = keep
	g.Node = append(made, g.Node...)
	var inputs []*onnxpb.ValueInfoProto // old exports list initializers as inputs too
	for _, in := range g.GetInput() {
		if !replaced[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	g.Input = inputs
	return c
}

func elemBytes(dt int32) int {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return 2
	case onnxpb.TensorProto_DOUBLE:
		return 8
	}
	return 4
}

func size(dims []int64) int {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	return n
}

// WithOutputs writes a copy of m whose graph outputs are the given values
// into a new temporary folder, and returns its path and a function that
// removes the folder.
func WithOutputs(m *onnx.Model, values []string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "lk-model-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	c := m.Clone()
	g := c.Graph()
	g.Output = nil
	for _, v := range values {
		// no type: ONNX Runtime infers it (shape computations are int64)
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(v)})
	}
	if err := onnx.Prune(g); err != nil {
		cleanup()
		return "", nil, err
	}
	path := filepath.Join(dir, "model.onnx")
	if err := c.Save(path); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("writing the probe model: %v", err)
	}
	return path, cleanup, nil
}

// CopyError reports an ONNX Runtime error about the temporary copy at
// copyPath of the model at path, in terms of the user's model.
func CopyError(path, copyPath, doing string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "model "+copyPath+": ", "")
	msg = strings.ReplaceAll(msg, copyPath, "the model")
	return fmt.Errorf("model %s: %s with ONNX Runtime: %s", path, doing, msg)
}

// Discover finds the blocks of m and assigns their stages, probing the
// shapes of their outputs with one zero image of shape in.
func Discover(m *onnx.Model, input string, in []int64, threads int) (*onnx.Graph, []Block, error) {
	g, err := onnx.NewGraph(m.Graph())
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	blocks, err := Find(g, input)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	var outs []string
	seen := map[string]bool{}
	for _, b := range blocks {
		for _, v := range []string{b.Input, b.Output} {
			if !seen[v] && v != input {
				seen[v] = true
				outs = append(outs, v)
			}
		}
	}
	shapes, err := Probe(m, input, in, outs, threads)
	if err != nil {
		return nil, nil, err
	}
	shapes[input] = in
	if err := Assign(blocks, shapes); err != nil {
		return nil, nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	return g, blocks, nil
}
