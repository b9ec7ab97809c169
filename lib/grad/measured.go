package grad

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
)

// resize: Resize is linear in its input and separable, in every mode
// (nearest, linear, cubic, antialiased): each output element is a product
// of per-axis weights times the input. So its gradient is the gradient
// multiplied, axis by axis, by the transposed per-axis weight matrices A_d
// (out x in). Rather than re-deriving ONNX's coordinate transformations,
// rounding modes and cubic coefficients, the matrices are measured: ONNX
// Runtime runs the node itself on inputs that are one-hot along axis d and
// constant along the others (the weights of every mode sum to 1, so the
// other axes leave the constant as it is). A random input then checks
// that the product of the measured matrices is the node; if not, it is
// refused. Batch axes (whose size follows the batch) must not be resized.
// tf_crop_and_resize, whose extrapolated points ignore the input, is not
// supported, nor are scales or sizes computed at run time.
func (b *builder) resize(n *onnxpb.NodeProto, g string) ([]string, error) {
	if attrS(n, "coordinate_transformation_mode") == "tf_crop_and_resize" {
		return nil, fmt.Errorf("Resize with tf_crop_and_resize is not supported")
	}
	x, out, xs, ys, err := b.ioShapes(n)
	if err != nil {
		return nil, err
	}
	if len(xs) != len(ys) {
		return nil, fmt.Errorf("Resize from %v to %v", xs, ys)
	}
	run, done, err := b.alone(n, xs, ys)
	if err != nil {
		return nil, err
	}
	defer done()
	// strides of a row-major shape
	strides := func(d []int64) []int {
		st := make([]int, len(d))
		p := 1
		for i := len(d) - 1; i >= 0; i-- {
			st[i] = p
			p *= int(d[i])
		}
		return st
	}
	xst, yst := strides(xs), strides(ys)
	mats := make([][]float32, len(xs)) // A_d, ys[d] x xs[d], row-major; nil: identity
	probe := make([]float32, len1(xs))
	for d := range xs {
		if b.batchAxis(x, int64(d)) {
			if !b.batchAxis(out, int64(d)) || ys[d] != xs[d] {
				return nil, fmt.Errorf("Resize changes the batch axis %d", d)
			}
			continue
		}
		nd, md := int(xs[d]), int(ys[d])
		a := make([]float32, md*nd)
		for i := 0; i < nd; i++ {
			for p := range probe {
				probe[p] = 0
				if (p/xst[d])%nd == i {
					probe[p] = 1
				}
			}
			y, err := run(probe)
			if err != nil {
				return nil, err
			}
			for k := 0; k < md; k++ {
				a[k*nd+i] = y[k*yst[d]] // index 0 on every other axis
			}
		}
		identity := nd == md
		for k := 0; k < md && identity; k++ {
			for i := 0; i < nd; i++ {
				if want := float32(0); (k == i && a[k*nd+i] != 1) || (k != i && a[k*nd+i] != want) {
					identity = false
				}
			}
		}
		if !identity {
			mats[d] = a
		}
	}
	err = matchesNode("Resize", len(probe), run, func(in []float32) []float32 {
		got, shape := in, append([]int64(nil), xs...)
		for d, a := range mats {
			if a != nil {
				got, shape = applyAxis(got, shape, d, a, int(ys[d]))
			}
		}
		return got
	})
	if err != nil {
		return nil, err
	}
	// the gradient: g times A_d over each resized axis
	rank := len(xs)
	for d, a := range mats {
		if a == nil {
			continue
		}
		perm := make([]int64, rank)
		inv := make([]int64, rank)
		for i, j := 0, 0; i < rank; i++ {
			if i != d {
				perm[j] = int64(i)
				j++
			}
		}
		perm[rank-1] = int64(d)
		for i, p := range perm {
			inv[p] = int64(i)
		}
		w := b.constF([]int64{ys[d], xs[d]}, a...)
		g = b.op("Transpose", []string{b.op("MatMul", []string{b.op("Transpose", []string{g}, onnx.IntsAttr("perm", perm...)), w})}, onnx.IntsAttr("perm", inv...))
	}
	return []string{g}, nil
}

// alone runs node n by itself in ONNX Runtime, its first input x (of
// shape xs) fed, its other inputs constants of the graph (an error
// otherwise), for gradients of ops that are linear in x and measured
// rather than derived. done frees the session.
func (b *builder) alone(n *onnxpb.NodeProto, xs, ys []int64) (run func([]float32) ([]float32, error), done func(), err error) {
	op := n.GetOpType()
	g1 := &onnxpb.GraphProto{Name: proto.String("alone")}
	g1.Input = []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, xs...)}
	g1.Output = []*onnxpb.ValueInfoProto{tensorInfo("y", onnxpb.TensorProto_FLOAT, ys...)}
	ins := []string{"x"}
	for k, v := range n.GetInput()[1:] {
		if v == "" {
			ins = append(ins, "")
			continue
		}
		t, ok := b.consts[v]
		if !ok {
			return nil, nil, fmt.Errorf("%s with %s computed at run time is not supported", op, v)
		}
		c := &onnxpb.TensorProto{Name: proto.String(fmt.Sprintf("c%d", k)), Dims: t.GetDims(), DataType: proto.Int32(t.GetDataType())}
		switch t.GetDataType() {
		case int32(onnxpb.TensorProto_FLOAT):
			if c.FloatData, err = b.m.Float32s(t); err != nil {
				return nil, nil, err
			}
		case int32(onnxpb.TensorProto_INT64):
			if c.Int64Data, err = b.m.Int64s(t); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("%s input %s of type %d", op, v, t.GetDataType())
		}
		g1.Initializer = append(g1.Initializer, c)
		ins = append(ins, c.GetName())
	}
	g1.Node = []*onnxpb.NodeProto{{OpType: proto.String(op), Input: ins, Output: []string{"y"}, Attribute: n.GetAttribute()}}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g1,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(max(b.m.Opset(), gradOpset))}}}
	dir, err := os.MkdirTemp("", "lk-grad-alone-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir) // the session has read it
	path := filepath.Join(dir, "alone.onnx")
	if err := (&onnx.Model{Proto: mp}).Save(path); err != nil {
		return nil, nil, err
	}
	s, err := ort.NewSession(path, "x", []string{"y"}, ort.Options{Threads: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("running %s alone: %v", op, err)
	}
	run = func(in []float32) ([]float32, error) {
		o, err := s.RunAlloc(in, xs)
		if err != nil {
			return nil, fmt.Errorf("running %s alone: %v", op, err)
		}
		return o[0].Data, nil
	}
	return run, func() { s.Close() }, nil
}

// ioShapes returns node n's first input and its output, with their shapes
// at batch 2.
func (b *builder) ioShapes(n *onnxpb.NodeProto) (x, out string, xs, ys []int64, err error) {
	x, out = input(n, 0), n.GetOutput()[0]
	if xs, err = b.shape(x); err != nil {
		return
	}
	ys, err = b.shape(out)
	return
}

// matchesNode checks measured weights: what predict makes of a test input
// (values in (-0.5, 1.5) in no pattern weights could cancel) must be what
// the node, run alone, makes of it.
func matchesNode(op string, size int, run func([]float32) ([]float32, error), predict func([]float32) []float32) error {
	in := make([]float32, size)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)*1.7+0.3)) + 0.5
	}
	want, err := run(in)
	if err != nil {
		return err
	}
	got := predict(in)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
			return fmt.Errorf("%s: the weights measured from the node do not reproduce it here (element %d: %g, the node %g): it is not linear in its input", op, i, got[i], want[i])
		}
	}
	return nil
}

// applyAxis multiplies v (row-major, shape) along axis d by a (m x n).
func applyAxis(v []float32, shape []int64, d int, a []float32, m int) ([]float32, []int64) {
	n := int(shape[d])
	outer, inner := 1, 1
	for i := 0; i < d; i++ {
		outer *= int(shape[i])
	}
	for i := d + 1; i < len(shape); i++ {
		inner *= int(shape[i])
	}
	out := make([]float32, outer*m*inner)
	for o := 0; o < outer; o++ {
		for k := 0; k < m; k++ {
			for i := 0; i < n; i++ {
				w := a[k*n+i]
				if w == 0 {
					continue
				}
				src := v[(o*n+i)*inner : (o*n+i+1)*inner]
				dst := out[(o*m+k)*inner : (o*m+k+1)*inner]
				for j, s := range src {
					dst[j] += w * s
				}
			}
		}
	}
	ns := append([]int64(nil), shape...)
	ns[d] = int64(m)
	return out, ns
}

// gridSample: for a constant grid, GridSample is linear in its input:
// Y[n,c,p] = sum_q W_n[p,q] X[n,c,q] over output positions p and input
// positions q, the same weights for every channel, whatever the mode and
// padding. W is measured by running the node alone on inputs one-hot at
// each input position (and checked on a random input); the gradient is
// g[n,c,:] W_n. The gradient with respect to the grid is not supported.
func (b *builder) gridSample(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	if need(1) {
		return nil, fmt.Errorf("GridSample's gradient with respect to its grid is not supported")
	}
	_, _, xs, ys, err := b.ioShapes(n)
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 || len(ys) != 4 {
		return nil, fmt.Errorf("GridSample from %v to %v: only 4-D inputs are supported", xs, ys)
	}
	run, done, err := b.alone(n, xs, ys)
	if err != nil {
		return nil, err
	}
	defer done()
	nb, c := int(xs[0]), int(xs[1])
	q, p := int(xs[2]*xs[3]), int(ys[2]*ys[3])
	w := make([]float32, nb*p*q)
	probe := make([]float32, nb*c*q)
	for at := 0; at < q; at++ {
		for i := range probe {
			probe[i] = 0
			if i%q == at {
				probe[i] = 1
			}
		}
		y, err := run(probe)
		if err != nil {
			return nil, err
		}
		for k := 0; k < nb; k++ {
			for j := 0; j < p; j++ {
				w[(k*p+j)*q+at] = y[k*c*p+j] // channel 0
			}
		}
	}
	err = matchesNode("GridSample", len(probe), run, func(in []float32) []float32 {
		got := make([]float32, nb*c*p)
		for k := 0; k < nb; k++ {
			for ch := 0; ch < c; ch++ {
				for j := 0; j < p; j++ {
					for i := 0; i < q; i++ {
						got[(k*c+ch)*p+j] += w[(k*p+j)*q+i] * in[(k*c+ch)*q+i]
					}
				}
			}
		}
		return got
	})
	if err != nil {
		return nil, err
	}
	wm := b.constF([]int64{int64(nb), int64(p), int64(q)}, w...)
	gr := b.op("Reshape", []string{g, b.constI(int64(nb), int64(c), int64(p))})
	return []string{b.op("Reshape", []string{b.op("MatMul", []string{gr, wm}), b.constI(xs...)})}, nil
}

// linear: ops that are linear in their first input when their other
// inputs are constants (RoiAlign, MaxUnpool) get the gradient
// g J, with the Jacobian J measured column by column by running the node
// alone on one-hot inputs, and checked to reproduce the node on a random
// input. J has as many columns as the input has elements, so inputs with a
// batch axis (whose size the Jacobian cannot follow) are refused.
func (b *builder) linear(n *onnxpb.NodeProto, g string) ([]string, error) {
	op := n.GetOpType()
	x, _, xs, ys, err := b.ioShapes(n)
	if err != nil {
		return nil, err
	}
	for d := range xs {
		if b.batchAxis(x, int64(d)) {
			return nil, fmt.Errorf("%s on a value with a batch axis is not supported", op)
		}
	}
	nx, ny := len1(xs), len1(ys)
	if nx*ny > 1<<24 {
		return nil, fmt.Errorf("%s from %v to %v: its Jacobian is too large to measure", op, xs, ys)
	}
	run, done, err := b.alone(n, xs, ys)
	if err != nil {
		return nil, err
	}
	defer done()
	jac := make([]float32, nx*ny) // [nx, ny]: row i is the output for the i-th one-hot input
	probe := make([]float32, nx)
	zero, err := run(probe)
	if err != nil {
		return nil, err
	}
	for i := 0; i < nx; i++ {
		probe[i] = 1
		y, err := run(probe)
		probe[i] = 0
		if err != nil {
			return nil, err
		}
		for j, v := range y {
			jac[i*ny+j] = v - zero[j]
		}
	}
	err = matchesNode(op, nx, run, func(in []float32) []float32 {
		got := append([]float32(nil), zero...)
		for i, v := range in {
			for j := range got {
				got[j] += v * jac[i*ny+j]
			}
		}
		return got
	})
	if err != nil {
		return nil, err
	}
	jm := b.constF([]int64{int64(nx), int64(ny)}, jac...)
	flat := b.op("Reshape", []string{g, b.constI(int64(ny), 1)})
	return []string{b.op("Reshape", []string{b.op("MatMul", []string{jm, flat}), b.constI(xs...)})}, nil
}
