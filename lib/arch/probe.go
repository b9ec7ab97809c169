package arch

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/ort"
)

// Probe runs the model once on a zero image of shape in (batch 1) with the
// given values added as outputs and returns their shapes. ONNX Runtime's
// own shape computation is exact for every op it runs, where a static
// inference in Go would cover only the ops it knows.
func Probe(m *onnx.Model, input string, in []int64, values []string, threads int) (map[string][]int64, error) {
	if len(values) == 0 {
		return map[string][]int64{}, nil
	}
	ts, err := RunWithOutputs(m, input, in, make([]float32, size(in)), values, threads)
	if err != nil {
		return nil, err
	}
	shapes := map[string][]int64{}
	for i, v := range values {
		shapes[v] = ts[i].Shape
	}
	return shapes, nil
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
		onnx.AddOutput(g, v, nil)
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

// RunWithOutputs runs m on x (shape in) and returns the given values.
func RunWithOutputs(m *onnx.Model, input string, in []int64, x []float32, values []string, threads int) ([]ort.Tensor, error) {
	path, cleanup, err := WithOutputs(m, values)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	s, err := ort.NewSession(path, input, values, ort.Options{Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	defer s.Close()
	return s.RunAlloc(x, in)
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
