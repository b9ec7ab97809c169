package grad

import (
	"fmt"
	"math"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// convGeometry reads a Conv's or pool's spatial attributes for nd
// spatial dims, refusing auto_pad (exporters write explicit pads).
func convGeometry(n *onnxpb.NodeProto, xs, k []int64) (strides, pads, dil []int64, err error) {
	nd := len(xs) - 2
	strides = attrInts(n, "strides", repeat(1, nd))
	dil = attrInts(n, "dilations", repeat(1, nd))
	pads = attrInts(n, "pads", repeat(0, 2*nd))
	if len(strides) != nd || len(pads) != 2*nd || len(dil) != nd || len(k) != nd {
		return nil, nil, nil, fmt.Errorf("strides %v, pads %v, dilations %v, kernel %v do not fit %d spatial dims", strides, pads, dil, k, nd)
	}
	switch ap := string(onnx.Attr(n, "auto_pad").GetS()); ap {
	case "", "NOTSET":
	case "VALID":
		pads = repeat(0, 2*nd)
	case "SAME_UPPER", "SAME_LOWER":
		// the output is ceil(in / stride); the padding it takes is split
		// in two, the odd one at the end (UPPER) or the beginning (LOWER)
		pads = make([]int64, 2*nd)
		for i := 0; i < nd; i++ {
			in := xs[2+i]
			out := (in + strides[i] - 1) / strides[i]
			total := max((out-1)*strides[i]+(k[i]-1)*dil[i]+1-in, 0)
			small, big := total/2, total-total/2
			if ap == "SAME_UPPER" {
				pads[i], pads[i+nd] = small, big
			} else {
				pads[i], pads[i+nd] = big, small
			}
		}
	default:
		return nil, nil, nil, fmt.Errorf("auto_pad=%s is not an ONNX padding", ap)
	}
	return strides, pads, dil, nil
}

// transposed is the ConvTranspose that maps a gradient of shape gs back to
// shape xs, inverting a strided window op with kernel k.
func (b *builder) transposed(g, w string, xs, gs, k, strides, pads, dil []int64, group int64) string {
	nd := len(k)
	outPad := make([]int64, nd)
	for i := 0; i < nd; i++ {
		// ConvTranspose's output size without output_padding
		full := strides[i]*(gs[2+i]-1) + (k[i]-1)*dil[i] + 1 - pads[i] - pads[i+nd]
		outPad[i] = xs[2+i] - full
	}
	attrs := []*onnxpb.AttributeProto{onnx.IntsAttr("strides", strides...), onnx.IntsAttr("pads", pads...),
		onnx.IntsAttr("dilations", dil...), onnx.IntAttr("group", group)}
	for _, p := range outPad {
		if p != 0 {
			attrs = append(attrs, onnx.IntsAttr("output_padding", outPad...))
			break
		}
	}
	return b.op("ConvTranspose", []string{g, w}, attrs...)
}

func (b *builder) conv(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	x, w := n.GetInput()[0], n.GetInput()[1]
	res := make([]string, len(n.GetInput()))
	gs, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	if need(1) {
		if res[1], err = b.convWeight(n, g, x, w); err != nil {
			return nil, err
		}
	}
	if need(2) { // bias: sum over batch and space
		axes := []int64{0}
		for i := 2; i < len(gs); i++ {
			axes = append(axes, int64(i))
		}
		res[2] = b.op("ReduceSum", []string{g, b.constI(axes...)}, onnx.IntAttr("keepdims", 0))
	}
	if !need(0) {
		return res, nil
	}
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	ws, err := b.shape(w)
	if err != nil {
		return nil, err
	}
	strides, pads, dil, err := convGeometry(n, xs, ws[2:])
	if err != nil {
		return nil, err
	}
	group := attrI(n, "group", 1)
	if fc, ok, err := b.flippedConv(g, w, ws, strides, pads, dil, group); err != nil {
		return nil, err
	} else if ok {
		res[0] = fc
		return res, nil
	}
	res[0] = b.transposed(g, w, xs, gs, ws[2:], strides, pads, dil, group)
	return res, nil
}

// convWeight is the gradient of a 2-D Conv's weights: a correlation of
// the input with the output gradient over batch and space, itself a Conv
// in which the batch plays the channels, the original stride the dilation
// and the original dilation the stride. group 1 and depthwise (one input
// channel per group) Convs are covered.
func (b *builder) convWeight(n *onnxpb.NodeProto, g, x, w string) (string, error) {
	xs, err := b.shape(x)
	if err != nil {
		return "", err
	}
	ws, err := b.shape(w)
	if err != nil {
		return "", err
	}
	if len(xs) != 4 {
		return "", fmt.Errorf("gradients of Conv weights are implemented for 2-D convolutions only")
	}
	strides, pads, dil, err := convGeometry(n, xs, ws[2:])
	if err != nil {
		return "", err
	}
	group := attrI(n, "group", 1)
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	swap := onnx.IntsAttr("perm", 1, 0, 2, 3)
	gt := b.op("Transpose", []string{g}, swap) // M x N x Ho x Wo: the "kernels"
	attrs := []*onnxpb.AttributeProto{onnx.IntsAttr("strides", dil...), onnx.IntsAttr("dilations", strides...), onnx.IntsAttr("pads", pads...)}
	crop := func(v string) string {
		return b.op("Slice", []string{v, b.constI(0, 0), b.constI(kh, kw), b.constI(2, 3)})
	}
	switch {
	case group == 1: // input as C "images" of N channels: C x M x kh' x kw'
		xt := b.op("Transpose", []string{x}, swap)
		full := b.op("Conv", []string{xt, gt}, attrs...)
		return b.op("Transpose", []string{crop(full)}, swap), nil
	case cg == 1: // depthwise: one image of C*N channels, group C: 1 x M x kh' x kw'
		xt := b.op("Reshape", []string{b.op("Transpose", []string{x}, swap), b.constI(1, -1, xs[2], xs[3])})
		full := b.op("Conv", []string{xt, gt}, append(attrs, onnx.IntAttr("group", group))...)
		return b.op("Reshape", []string{crop(full), b.constI(m, 1, kh, kw)}), nil
	}
	return "", fmt.Errorf("gradients of the weights of a Conv with %d groups of %d channels are not implemented (group 1 and depthwise are)", group, cg)
}

// flippedConv is the input gradient of a stride-1 Conv with constant
// weights as a Conv of the gradient with the kernel flipped in space and
// its in/out channels swapped within each group, padded by d(k-1) - pad.
// It is the same linear map as the ConvTranspose, but ONNX Runtime runs
// depthwise Convs far faster than grouped ConvTransposes (a 31x31
// depthwise kernel's gradient: BENCH.md). ok is false when the Conv does
// not qualify (strides, weights computed in the graph, pads past the
// kernel's reach).
func (b *builder) flippedConv(g, w string, ws, strides, pads, dil []int64, group int64) (string, bool, error) {
	nd := len(ws) - 2
	newPads := make([]int64, 2*nd)
	for i := 0; i < nd; i++ {
		if strides[i] != 1 {
			return "", false, nil
		}
		reach := dil[i] * (ws[2+i] - 1)
		newPads[i], newPads[i+nd] = reach-pads[i], reach-pads[i+nd]
		if newPads[i] < 0 || newPads[i+nd] < 0 {
			return "", false, nil
		}
	}
	t, ok := b.consts[w]
	if !ok || nd != 2 {
		return "", false, nil
	}
	vals, err := b.m.Float32s(t)
	if err != nil {
		return "", false, err
	}
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3] // out channels, in channels per group, kernel
	mg := m / group
	out := make([]float32, len(vals))
	// W'[c, o', y, x] = W[o, c', kh-1-y, kw-1-x] where, in group q,
	// c = q*cg + c' and o = q*mg + o'
	for q := int64(0); q < group; q++ {
		for o := int64(0); o < mg; o++ {
			for c := int64(0); c < cg; c++ {
				src := ((q*mg+o)*cg + c) * kh * kw
				dst := ((q*cg+c)*mg + o) * kh * kw
				for y := int64(0); y < kh; y++ {
					for x := int64(0); x < kw; x++ {
						out[dst+y*kw+x] = vals[src+(kh-1-y)*kw+(kw-1-x)]
					}
				}
			}
		}
	}
	wf := b.constF([]int64{group * cg, mg, kh, kw}, out...)
	return b.op("Conv", []string{g, wf}, onnx.IntsAttr("pads", newPads...), onnx.IntsAttr("dilations", dil...),
		onnx.IntAttr("group", group)), true, nil
}

func (b *builder) gemm(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	in := n.GetInput()
	alpha, beta := attrF(n, "alpha", 1), attrF(n, "beta", 1)
	ta, tb := attrI(n, "transA", 0), attrI(n, "transB", 0)
	res := make([]string, len(in))
	scaled := func(v string, s float32) string {
		if s == 1 {
			return v
		}
		return b.op("Mul", []string{v, b.scalar(s)})
	}
	gemm := func(a, bb string, ta, tb int64) string {
		return b.op("Gemm", []string{a, bb}, onnx.IntAttr("transA", ta), onnx.IntAttr("transB", tb))
	}
	if need(0) { // dA' = g op(B)^T; A = A'^T when transA
		if ta == 0 {
			res[0] = scaled(gemm(g, in[1], 0, 1-tb), alpha)
		} else {
			res[0] = scaled(gemm(in[1], g, tb, 1), alpha)
		}
	}
	if need(1) { // dB' = op(A)^T g; B = B'^T when transB
		if tb == 0 {
			res[1] = scaled(gemm(in[0], g, 1-ta, 0), alpha)
		} else {
			res[1] = scaled(gemm(g, in[0], 1, ta), alpha)
		}
	}
	if need(2) {
		gs, err := b.shape(n.GetOutput()[0])
		if err != nil {
			return nil, err
		}
		u, err := b.unbroadcast(scaled(g, beta), gs, in[2])
		if err != nil {
			return nil, err
		}
		res[2] = u
	}
	return res, nil
}

func swapLast(r int) []int64 {
	p := make([]int64, r)
	for i := range p {
		p[i] = int64(i)
	}
	p[r-1], p[r-2] = p[r-2], p[r-1]
	return p
}

func (b *builder) matmul(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	a, bb := n.GetInput()[0], n.GetInput()[1]
	as, err := b.shape(a)
	if err != nil {
		return nil, err
	}
	bs, err := b.shape(bb)
	if err != nil {
		return nil, err
	}
	os, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	if len(as) < 2 || len(bs) < 2 {
		return nil, fmt.Errorf("MatMul of a 1-D operand (shapes %v, %v) is not supported", as, bs)
	}
	res := make([]string, 2)
	batch := os[:len(os)-2]
	if need(0) { // g B^T, summed over broadcast batch dims
		bt := b.op("Transpose", []string{bb}, onnx.IntsAttr("perm", swapLast(len(bs))...))
		ga := b.op("MatMul", []string{g, bt})
		if res[0], err = b.unbroadcast(ga, append(append([]int64{}, batch...), as[len(as)-2:]...), a); err != nil {
			return nil, err
		}
	}
	if need(1) { // A^T g
		at := b.op("Transpose", []string{a}, onnx.IntsAttr("perm", swapLast(len(as))...))
		gb := b.op("MatMul", []string{at, g})
		if res[1], err = b.unbroadcast(gb, append(append([]int64{}, batch...), bs[len(bs)-2:]...), bb); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// layerNorm: y = xhat * scale + B over the axes from axis on, with
// xhat = (x - mean) / sqrt(var + eps);
// dx = (gh - mean(gh) - xhat mean(gh xhat)) / sqrt(var + eps), gh = g scale.
func (b *builder) layerNorm(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	in := n.GetInput()
	x := in[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	axis := normAxis(attrI(n, "axis", -1), len(xs))
	eps := attrF(n, "epsilon", 1e-5)
	var axes []int64
	count := int64(1)
	for i := axis; i < int64(len(xs)); i++ {
		axes = append(axes, i)
		count *= xs[i]
	}
	ax := b.constI(axes...)
	mean := func(v string) string {
		return b.op("Div", []string{b.op("ReduceSum", []string{v, ax}, onnx.IntAttr("keepdims", 1)), b.scalar(float32(count))})
	}
	xc := b.op("Sub", []string{x, mean(x)})
	inv := b.op("Reciprocal", []string{b.op("Sqrt", []string{b.op("Add", []string{mean(b.op("Mul", []string{xc, xc})), b.scalar(eps)})})})
	xhat := b.op("Mul", []string{xc, inv})
	res := make([]string, len(in))
	if need(0) {
		gh := b.op("Mul", []string{g, in[1]})
		t := b.op("Sub", []string{b.op("Sub", []string{gh, mean(gh)}), b.op("Mul", []string{xhat, mean(b.op("Mul", []string{gh, xhat}))})})
		res[0] = b.op("Mul", []string{t, inv})
	}
	if need(1) || need(2) {
		gs, err := b.shape(n.GetOutput()[0])
		if err != nil {
			return nil, err
		}
		if need(1) {
			if res[1], err = b.unbroadcast(b.op("Mul", []string{g, xhat}), gs, in[1]); err != nil {
				return nil, err
			}
		}
		if need(2) {
			if res[2], err = b.unbroadcast(g, gs, in[2]); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// reduce: the gradient of a sum is spread back over the reduced axes (and
// divided by their size for a mean).
func (b *builder) reduce(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	axes := attrInts(n, "axes", nil)
	if a := input(n, 1); a != "" {
		if axes, err = b.ints(a); err != nil {
			return nil, err
		}
	}
	if len(axes) == 0 {
		if attrI(n, "noop_with_empty_axes", 0) != 0 {
			return []string{g}, nil
		}
		for i := range xs {
			axes = append(axes, int64(i))
		}
	}
	axes = sortedAxes(axes, len(xs))
	// g and y back to x's shape
	keep := func(v string) string {
		if attrI(n, "keepdims", 1) == 0 {
			v = b.op("Unsqueeze", []string{v, b.constI(axes...)})
		}
		return b.op("Expand", []string{v, b.op("Shape", []string{x})})
	}
	e := keep(g)
	mul := func(a, c string) []string { return []string{b.op("Mul", []string{a, c})} }
	switch n.GetOpType() {
	case "ReduceSum":
		return []string{e}, nil
	case "ReduceSumSquare": // 2x
		return mul(e, b.op("Mul", []string{x, b.scalar(2)})), nil
	case "ReduceL1": // sign(x)
		return mul(e, b.op("Sign", []string{x})), nil
	case "ReduceL2": // x / y
		return mul(e, b.op("Div", []string{x, keep(n.GetOutput()[0])})), nil
	case "ReduceLogSum": // 1 / sum = exp(-y)
		return mul(e, b.op("Exp", []string{b.op("Neg", []string{keep(n.GetOutput()[0])})})), nil
	case "ReduceLogSumExp": // exp(x - y)
		return mul(e, b.op("Exp", []string{b.op("Sub", []string{x, keep(n.GetOutput()[0])})})), nil
	case "ReduceProd": // y / x
		return mul(e, b.op("Div", []string{keep(n.GetOutput()[0]), x})), nil
	case "ReduceMax", "ReduceMin": // shared evenly by the elements equal to y (PyTorch's amax/amin)
		hit := b.op("Cast", []string{b.op("Equal", []string{x, keep(n.GetOutput()[0])})}, onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT)))
		ties := b.op("ReduceSum", []string{hit, b.constI(axes...)}, onnx.IntAttr("keepdims", 1))
		return mul(e, b.op("Div", []string{hit, b.op("Expand", []string{ties, b.op("Shape", []string{x})})})), nil
	}
	count := int64(1)
	for _, a := range axes {
		if b.batchAxis(x, a) {
			return nil, fmt.Errorf("ReduceMean over the batch axis is not supported")
		}
		count *= xs[a]
	}
	return []string{b.op("Div", []string{e, b.scalar(float32(count))})}, nil
}

func (b *builder) avgPool(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	gs, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	k := attrInts(n, "kernel_shape", nil)
	strides, pads, dil, err := convGeometry(n, xs, k)
	if err != nil {
		return nil, err
	}
	nd := len(k)
	// ceil_mode: the last windows overhang the padded input by over[i];
	// the overhang is never counted
	over := make([]int64, nd)
	overhang := false
	if attrI(n, "ceil_mode", 0) != 0 {
		for i := 0; i < nd; i++ {
			span := (gs[2+i]-1)*strides[i] + (k[i]-1)*dil[i] + 1
			over[i] = max(span-(xs[2+i]+pads[i]+pads[i+nd]), 0)
			overhang = overhang || over[i] > 0
		}
	}
	padded := false
	for _, p := range pads {
		padded = padded || p != 0
	}
	size := int64(1)
	for _, v := range k {
		size *= v
	}
	c := xs[1]
	exclude := padded && attrI(n, "count_include_pad", 0) == 0
	if overhang && attrI(n, "count_include_pad", 0) != 0 {
		// what the divisor of an overhanging window counts then differs
		// between implementations: no gradient rather than a guess
		return nil, fmt.Errorf("AveragePool with ceil_mode and count_include_pad is not supported")
	}
	if exclude || overhang {
		// each window divides by its elements inside x: g over that count
		// (a per-channel convolution of ones over ones), then spread back
		// over the window
		ones := make([]float32, c*size)
		for i := range ones {
			ones[i] = 1
		}
		w := b.constF(append([]int64{c, 1}, k...), ones...)
		onesX := b.op("ConstantOfShape", []string{b.op("Shape", []string{x})}, &onnxpb.AttributeProto{Name: strp("value"),
			Type: onnxpb.AttributeProto_TENSOR.Enum(), T: &onnxpb.TensorProto{Dims: []int64{1},
				DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1}}})
		full := append([]int64{}, pads...) // the explicit padding and the overhang, not counted
		for i := 0; i < nd; i++ {
			full[i+nd] += over[i]
		}
		count := b.op("Conv", []string{onesX, w}, onnx.IntsAttr("kernel_shape", k...), onnx.IntsAttr("strides", strides...),
			onnx.IntsAttr("pads", full...), onnx.IntsAttr("dilations", dil...), onnx.IntAttr("group", c))
		return []string{b.transposed(b.op("Div", []string{g, count}), w, xs, gs, k, strides, full, dil, c)}, nil
	}
	// the transposed convolution of a per-channel kernel of 1/|k|
	vals := make([]float32, c*size)
	for i := range vals {
		vals[i] = 1 / float32(size)
	}
	w := b.constF(append([]int64{c, 1}, k...), vals...)
	return []string{b.transposed(g, w, xs, gs, k, strides, pads, dil, c)}, nil
}

// maxPool routes each output's gradient to the input position that won,
// through MaxPool's Indices output (flat indices over N x C x H x W).
func (b *builder) maxPool(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	if attrI(n, "storage_order", 0) != 0 {
		// the node's Indices are column-major: a row-major twin gives
		// the ones the scatter below reads
		var attrs []*onnxpb.AttributeProto
		for _, a := range n.GetAttribute() {
			if a.GetName() != "storage_order" {
				attrs = append(attrs, a)
			}
		}
		idx := b.opN("MaxPool", 2, []string{x}, attrs...)[1]
		return b.routeMax(x, idx, g), nil
	}
	if len(n.GetOutput()) < 2 || n.GetOutput()[1] == "" {
		idx := fmt.Sprintf("lk_grad/%s_indices", onnx.NodeName(n))
		if len(n.GetOutput()) < 2 {
			n.Output = append(n.Output, idx)
		} else {
			n.Output[1] = idx
		}
	}
	return b.routeMax(x, n.GetOutput()[1], g), nil
}

// routeMax adds each of g's values to the element of x that idx (flat,
// row-major) names.
func (b *builder) routeMax(x, idx, g string) []string {
	flat := b.constI(-1)
	xf := b.op("Reshape", []string{x, flat})
	zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{xf})}) // float zeros
	sc := b.op("ScatterElements", []string{zeros, b.op("Reshape", []string{idx, flat}), b.op("Reshape", []string{g, flat})},
		onnx.IntAttr("axis", 0), &onnxpb.AttributeProto{Name: strp("reduction"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("add")})
	return []string{b.op("Reshape", []string{sc, b.op("Shape", []string{x})})}
}

func (b *builder) pad(n *onnxpb.NodeProto, g string) ([]string, error) {
	if a := onnx.Attr(n, "mode"); a != nil && string(a.GetS()) != "constant" {
		return nil, fmt.Errorf("Pad mode %s is not supported (constant only)", a.GetS())
	}
	pads := attrInts(n, "pads", nil)
	if p := input(n, 1); p != "" {
		var err error
		if pads, err = b.ints(p); err != nil {
			return nil, err
		}
	}
	if a := input(n, 3); a != "" { // pads of these axes only (opset 18)
		axes, err := b.ints(a)
		if err != nil {
			return nil, err
		}
		xs, err := b.shape(input(n, 0))
		if err != nil {
			return nil, err
		}
		rank := len(xs)
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("%d pads for %d axes", len(pads), len(axes))
		}
		full := make([]int64, 2*rank)
		for k, ax := range axes {
			if ax < 0 {
				ax += int64(rank)
			}
			if ax < 0 || int(ax) >= rank {
				return nil, fmt.Errorf("axis %d of a rank-%d input", axes[k], rank)
			}
			full[ax], full[int(ax)+rank] = pads[k], pads[k+len(axes)]
		}
		pads = full
	}
	r := len(pads) / 2
	var starts, ends, axes []int64
	for i := 0; i < r; i++ {
		if pads[i] < 0 || pads[i+r] < 0 {
			return nil, fmt.Errorf("negative pads %v (cropping) are not supported", pads)
		}
		if pads[i] == 0 && pads[i+r] == 0 {
			continue
		}
		end := int64(math.MaxInt64)
		if pads[i+r] > 0 {
			end = -pads[i+r]
		}
		starts, ends, axes = append(starts, pads[i]), append(ends, end), append(axes, int64(i))
	}
	if len(axes) == 0 {
		return []string{g}, nil
	}
	return []string{b.op("Slice", []string{g, b.constI(starts...), b.constI(ends...), b.constI(axes...)})}, nil
}

func (b *builder) concat(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	os, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	axis := normAxis(attrI(n, "axis", 0), len(os))
	if b.batchAxis(n.GetOutput()[0], axis) {
		return nil, fmt.Errorf("Concat along the batch axis is not supported")
	}
	res := make([]string, len(n.GetInput()))
	var off int64
	for k, in := range n.GetInput() {
		s, err := b.shape(in)
		if err != nil {
			return nil, err
		}
		if need(k) {
			res[k] = b.op("Slice", []string{g, b.constI(off), b.constI(off + s[axis]), b.constI(axis)})
		}
		off += s[axis]
	}
	return res, nil
}

func (b *builder) split(n *onnxpb.NodeProto, gouts []string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	axis := normAxis(attrI(n, "axis", 0), len(xs))
	parts := make([]string, len(gouts))
	for k, o := range n.GetOutput() {
		if gouts[k] != "" {
			parts[k] = gouts[k]
			continue
		}
		// an output no gradient reaches contributes zeros of its shape
		parts[k] = b.op("ConstantOfShape", []string{b.op("Shape", []string{o})}) // float zeros
	}
	return []string{b.op("Concat", parts, onnx.IntAttr("axis", axis))}, nil
}

// slice: a unit-step slice's gradient is the gradient padded back with
// zeros to the input's extent.
// sliceSteps is the gradient of a Slice with steps other than 1 (a
// reversal, every other row): along each sliced axis the slice is a
// gather of the positions ONNX's rules pick, so g is scattered back one
// axis at a time, by the one-hot of those positions.
func (b *builder) sliceSteps(x, g string, xs, starts, ends, axes, steps []int64) ([]string, error) {
	r := len(xs)
	cur := append([]int64{}, xs...) // g's shape as the axes are restored
	var idxs [][]int64
	for i, a := range axes {
		a = normAxis(a, r)
		if b.batchAxis(x, a) {
			return nil, fmt.Errorf("Slice along the batch axis is not supported")
		}
		d, st, start, end := xs[a], steps[i], starts[i], ends[i]
		if st == 0 {
			return nil, fmt.Errorf("Slice with step 0")
		}
		if start < 0 {
			start += d
		}
		if end < 0 {
			end += d
		}
		var idx []int64
		if st > 0 {
			start, end = max(0, min(start, d)), max(0, min(end, d))
			for p := start; p < end; p += st {
				idx = append(idx, p)
			}
		} else {
			start, end = max(0, min(start, d-1)), max(-1, min(end, d-1))
			for p := start; p > end; p += st {
				idx = append(idx, p)
			}
		}
		cur[a] = int64(len(idx))
		idxs = append(idxs, idx)
	}
	for i, a := range axes {
		a = normAxis(a, r)
		pre, post, err := b.aroundAxis(x, cur, a)
		if err != nil {
			return nil, err
		}
		if g, err = b.scatterBack(g, pre, post, idxs[i], xs[a]); err != nil {
			return nil, err
		}
		cur[a] = xs[a]
		shape := append([]int64{}, cur...)
		for j := range shape {
			if b.batchAxis(x, int64(j)) {
				shape[j] = -1
			}
		}
		g = b.op("Reshape", []string{g, b.constI(shape...)})
	}
	return []string{g}, nil
}

func (b *builder) slice(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	starts, err := b.ints(input(n, 1))
	if err != nil {
		return nil, err
	}
	ends, err := b.ints(input(n, 2))
	if err != nil {
		return nil, err
	}
	axes := make([]int64, len(starts))
	for i := range axes {
		axes[i] = int64(i)
	}
	if a := input(n, 3); a != "" {
		if axes, err = b.ints(a); err != nil {
			return nil, err
		}
	}
	if s := input(n, 4); s != "" {
		steps, err := b.ints(s)
		if err != nil {
			return nil, err
		}
		for _, st := range steps {
			if st != 1 {
				return b.sliceSteps(x, g, xs, starts, ends, axes, steps)
			}
		}
	}
	r := len(xs)
	pads := make([]int64, 2*r)
	for i, a := range axes {
		a = normAxis(a, r)
		if b.batchAxis(x, a) {
			return nil, fmt.Errorf("Slice along the batch axis is not supported")
		}
		d := xs[a]
		clamp := func(v int64) int64 {
			if v < 0 {
				v += d
			}
			return max(0, min(v, d))
		}
		s, e := clamp(starts[i]), clamp(ends[i])
		pads[a], pads[int(a)+r] = s, d-max(e, s)
	}
	return []string{b.op("Pad", []string{g, b.constI(pads...)})}, nil
}

// gatherMany is the gradient of Gather by a constant tensor of indices:
// the gathered positions scattered back (an index taken twice gets both
// gradients; a negative one counts from the end).
func (b *builder) gatherMany(x, g string, xs []int64, axis int64, idx []int64) ([]string, error) {
	d := xs[axis]
	pos := make([]int64, len(idx))
	for k, i := range idx {
		if pos[k] = i; i < 0 {
			pos[k] = i + d
		}
	}
	pre, post, err := b.aroundAxis(x, xs, axis)
	if err != nil {
		return nil, err
	}
	back, err := b.scatterBack(g, pre, post, pos, d)
	if err != nil {
		return nil, err
	}
	return []string{b.like(back, x)}, nil
}

// aroundAxis returns the sizes of the axes of shape before and after axis,
// flattened, as scatterBack views a value: -1 before when the batch axis
// (one of x's) is among them. A batch axis after it is an error.
func (b *builder) aroundAxis(x string, shape []int64, axis int64) (pre, post int64, err error) {
	pre, post = 1, 1
	for j := int64(0); j < axis; j++ {
		if b.batchAxis(x, j) {
			pre = -1
		} else if pre > 0 {
			pre *= shape[j]
		}
	}
	for j := axis + 1; j < int64(len(shape)); j++ {
		if b.batchAxis(x, j) {
			return 0, 0, fmt.Errorf("taking positions along an axis before the batch axis is not supported")
		}
		post *= shape[j]
	}
	return pre, post, nil
}

// scatterBack is the adjoint of taking the positions pos (each in [0, d))
// along an axis: g, viewed as [pre, len(pos), post], times the positions'
// one-hot [len(pos), d], is [pre, d, post]. Gather by many indices and
// Slice by steps other than 1 both take positions so.
func (b *builder) scatterBack(g string, pre, post int64, pos []int64, d int64) (string, error) {
	onehot := make([]float32, int64(len(pos))*d)
	for k, p := range pos {
		if p < 0 || p >= d {
			return "", fmt.Errorf("position %d outside an axis of %d", p, d)
		}
		onehot[int64(k)*d+p] = 1
	}
	g3 := b.op("Reshape", []string{g, b.constI(pre, int64(len(pos)), post)})
	m := b.op("MatMul", []string{b.op("Transpose", []string{g3}, onnx.IntsAttr("perm", 0, 2, 1)), b.constF([]int64{int64(len(pos)), d}, onehot...)})
	return b.op("Transpose", []string{m}, onnx.IntsAttr("perm", 0, 2, 1)), nil
}

// gather with one constant index (a ViT's class token, x[:, 0]): the
// gradient is placed back at that index, zeros elsewhere.
func (b *builder) gather(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	idx, err := b.ints(input(n, 1))
	if err != nil {
		return nil, err
	}
	t := b.consts[input(n, 1)]
	r := len(xs)
	axis := normAxis(attrI(n, "axis", 0), r)
	if b.batchAxis(x, axis) {
		return nil, fmt.Errorf("Gather along the batch axis is not supported")
	}
	if len(idx) != 1 || len(t.GetDims()) != 0 {
		return b.gatherMany(x, g, xs, axis, idx)
	}
	i := idx[0]
	if i < 0 {
		i += xs[axis]
	}
	u := b.op("Unsqueeze", []string{g, b.constI(axis)})
	pads := make([]int64, 2*r)
	pads[axis], pads[int(axis)+r] = i, xs[axis]-1-i
	return []string{b.op("Pad", []string{u, b.constI(pads...)})}, nil
}

func strp(s string) *string { return &s }
