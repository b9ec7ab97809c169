package grad

import (
	"fmt"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// zeroGrad lists the piecewise-constant ops: their gradient is 0 (where it
// exists), so a path through them contributes nothing rather than failing.
var zeroGrad = map[string]bool{"Ceil": true, "Floor": true, "Round": true, "Sign": true, "Hardmax": true}

// elementwise returns dy/dx, as a value of x's shape, for the unary
// elementwise ops whose derivative is a closed form of x and y = op(x);
// ok is false for other ops.
func (b *builder) elementwise(n *onnxpb.NodeProto, x, y string) (d string, ok bool) {
	c := b.scalar
	mul := func(a, b2 string) string { return b.op("Mul", []string{a, b2}) }
	add := func(a, b2 string) string { return b.op("Add", []string{a, b2}) }
	sub := func(a, b2 string) string { return b.op("Sub", []string{a, b2}) }
	div := func(a, b2 string) string { return b.op("Div", []string{a, b2}) }
	un := func(op, a string) string { return b.op(op, []string{a}) }
	where := func(cond, a, b2 string) string { return b.op("Where", []string{cond, a, b2}) }
	gt := func(a, b2 string) string { return b.op("Greater", []string{a, b2}) }
	lt := func(a, b2 string) string { return b.op("Less", []string{a, b2}) }
	x2 := func() string { return mul(x, x) }
	switch n.GetOpType() {
	case "Abs":
		return un("Sign", x), true
	case "Sin":
		return un("Cos", x), true
	case "Cos":
		return un("Neg", un("Sin", x)), true
	case "Tan": // 1 + tan^2
		return add(c(1), mul(y, y)), true
	case "Asin": // 1/sqrt(1-x^2)
		return un("Reciprocal", un("Sqrt", sub(c(1), x2()))), true
	case "Acos":
		return un("Neg", un("Reciprocal", un("Sqrt", sub(c(1), x2())))), true
	case "Atan": // 1/(1+x^2)
		return un("Reciprocal", add(c(1), x2())), true
	case "Sinh":
		return un("Cosh", x), true
	case "Cosh":
		return un("Sinh", x), true
	case "Asinh": // 1/sqrt(x^2+1)
		return un("Reciprocal", un("Sqrt", add(x2(), c(1)))), true
	case "Acosh": // 1/sqrt(x^2-1)
		return un("Reciprocal", un("Sqrt", sub(x2(), c(1)))), true
	case "Atanh": // 1/(1-x^2)
		return un("Reciprocal", sub(c(1), x2())), true
	case "Elu": // 1 for x > 0, y + alpha below
		alpha := attrF(n, "alpha", 1)
		return where(gt(x, c(0)), c(1), add(y, c(alpha))), true
	case "Selu": // gamma for x > 0, y + gamma alpha below
		alpha, gamma := attrF(n, "alpha", 1.67326319217681884765625), attrF(n, "gamma", 1.05070102214813232421875)
		return where(gt(x, c(0)), c(gamma), add(y, c(gamma*alpha))), true
	case "Celu": // 1 for x > 0, exp(x/alpha) below
		alpha := attrF(n, "alpha", 1)
		return where(gt(x, c(0)), c(1), un("Exp", div(x, c(alpha)))), true
	case "Softplus": // sigmoid(x)
		return un("Sigmoid", x), true
	case "Softsign": // 1/(1+|x|)^2
		s := add(c(1), un("Abs", x))
		return un("Reciprocal", mul(s, s)), true
	case "ThresholdedRelu": // 1 above alpha
		alpha := attrF(n, "alpha", 1)
		return where(gt(x, c(alpha)), c(1), c(0)), true
	case "Shrink": // 1 outside [-lambd, lambd]
		lambd := attrF(n, "lambd", 0.5)
		return where(b.op("Or", []string{lt(x, c(-lambd)), gt(x, c(lambd))}), c(1), c(0)), true
	}
	return "", false
}

// variadic is the gradient of Sum, Mean, Max and Min over their inputs
// (broadcast together): each input gets g (Sum), g/n (Mean), or g where
// it equals the output, shared evenly by the inputs that tie (as PyTorch
// shares a tie of max or min).
func (b *builder) variadic(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	in, y := n.GetInput(), n.GetOutput()[0]
	gs, err := b.shape(y)
	if err != nil {
		return nil, err
	}
	f32 := onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT))
	var ties string
	if op := n.GetOpType(); op == "Max" || op == "Min" {
		for _, v := range in {
			hit := b.op("Cast", []string{b.op("Equal", []string{v, y})}, f32)
			if ties == "" {
				ties = b.op("Add", []string{hit, b.scalar(0)}) // broadcast by the sum below
				continue
			}
			ties = b.op("Add", []string{ties, hit})
		}
	}
	res := make([]string, len(in))
	for k, v := range in {
		if !need(k) {
			continue
		}
		var gk string
		switch n.GetOpType() {
		case "Sum":
			gk = g
		case "Mean":
			gk = b.op("Div", []string{g, b.scalar(float32(len(in)))})
		default:
			hit := b.op("Cast", []string{b.op("Equal", []string{v, y})}, f32)
			gk = b.op("Mul", []string{g, b.op("Div", []string{hit, ties})})
		}
		// broadcast to the output's shape first, then back to v's
		gk = b.op("Expand", []string{gk, b.op("Shape", []string{y})})
		if res[k], err = b.unbroadcast(gk, gs, v); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// gatherElements is the gradient of GatherElements in its data: g added
// back at the gathered positions (an index taken twice gets both).
func (b *builder) gatherElements(n *onnxpb.NodeProto, g string) ([]string, error) {
	x, idx := n.GetInput()[0], n.GetInput()[1]
	zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{x})}) // float zeros
	return []string{b.op("ScatterElements", []string{zeros, idx, g}, onnx.IntAttr("axis", attrI(n, "axis", 0)),
		&onnxpb.AttributeProto{Name: strp("reduction"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte("add")})}, nil
}

// tile is the gradient of Tile: the copies' gradients summed. g, of shape
// [r0 d0, r1 d1, ...], is viewed as [r0, d0, r1, d1, ...] and summed over
// the r axes.
func (b *builder) tile(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	reps, err := b.ints(n.GetInput()[1])
	if err != nil {
		return nil, err
	}
	var view, axes []int64
	for i, d := range xs {
		if b.batchAxis(x, int64(i)) && reps[i] != 1 {
			return nil, fmt.Errorf("Tile along the batch axis is not supported")
		}
		view = append(view, reps[i], d)
		axes = append(axes, int64(2*i))
	}
	if b.batchAxis(x, 0) {
		view[1] = -1
	}
	r := b.op("ReduceSum", []string{b.op("Reshape", []string{g, b.constI(view...)}), b.constI(axes...)}, onnx.IntAttr("keepdims", 0))
	return []string{b.like(r, x)}, nil
}

// depthSpace is the gradient of DepthToSpace and SpaceToDepth: both only
// move elements, as reshape, transpose, reshape, so the gradient moves
// them back: g viewed as the transposed 6-D tensor, the inverse
// transposition, x's shape.
func (b *builder) depthSpace(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	if len(xs) != 4 {
		return nil, fmt.Errorf("%s of a %d-D value (4-D only)", n.GetOpType(), len(xs))
	}
	k := attrI(n, "blocksize", 0)
	if k <= 0 {
		return nil, fmt.Errorf("%s without a blocksize", n.GetOpType())
	}
	nb, c, h, w := xs[0], xs[1], xs[2], xs[3]
	if b.batchAxis(x, 0) {
		nb = -1
	}
	var view, inv []int64
	switch {
	case n.GetOpType() == "SpaceToDepth": // x -> [N,C,H/k,k,W/k,k] -> perm 0,3,5,1,2,4
		view, inv = []int64{nb, k, k, c, h / k, w / k}, []int64{0, 3, 4, 1, 5, 2}
	case string(onnx.Attr(n, "mode").GetS()) == "CRD": // x -> [N,C/k²,k,k,H,W] -> perm 0,1,4,2,5,3
		view, inv = []int64{nb, c / (k * k), h, k, w, k}, []int64{0, 1, 3, 5, 2, 4}
	default: // DCR: x -> [N,k,k,C/k²,H,W] -> perm 0,3,4,1,5,2
		view, inv = []int64{nb, c / (k * k), h, k, w, k}, []int64{0, 3, 5, 1, 2, 4}
	}
	t := b.op("Transpose", []string{b.op("Reshape", []string{g, b.constI(view...)})}, onnx.IntsAttr("perm", inv...))
	return []string{b.like(t, x)}, nil
}

// instanceNorm is the gradient of InstanceNormalization in its input:
// y = scale[c] (x - mean) / sqrt(var + eps) + B[c], mean and var per image
// and channel over the spatial axes, so the rule is layer normalisation's
// over those axes with the scale broadcast along the channels.
func (b *builder) instanceNorm(n *onnxpb.NodeProto, g string) ([]string, error) {
	in := n.GetInput()
	x := in[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	if len(xs) < 3 {
		return nil, fmt.Errorf("InstanceNormalization of a %d-D value", len(xs))
	}
	var axes []int64
	count := int64(1)
	for i := 2; i < len(xs); i++ {
		axes = append(axes, int64(i))
		count *= xs[i]
	}
	ax := b.constI(axes...)
	mean := func(v string) string {
		return b.op("Div", []string{b.op("ReduceSum", []string{v, ax}, onnx.IntAttr("keepdims", 1)), b.scalar(float32(count))})
	}
	eps := attrF(n, "epsilon", 1e-5)
	xc := b.op("Sub", []string{x, mean(x)})
	inv := b.op("Reciprocal", []string{b.op("Sqrt", []string{b.op("Add", []string{mean(b.op("Mul", []string{xc, xc})), b.scalar(eps)})})})
	xhat := b.op("Mul", []string{xc, inv})
	cdims := append([]int64{-1}, make([]int64, len(xs)-2)...)
	for i := 1; i < len(cdims); i++ {
		cdims[i] = 1
	}
	gh := b.op("Mul", []string{g, b.op("Reshape", []string{in[1], b.constI(cdims...)})})
	t := b.op("Sub", []string{b.op("Sub", []string{gh, mean(gh)}), b.op("Mul", []string{xhat, mean(b.op("Mul", []string{gh, xhat}))})})
	return []string{b.op("Mul", []string{t, inv})}, nil
}

// convTranspose is the gradient of ConvTranspose in its input: the
// convolution with the same weights, strides, dilations and group (the
// adjoint of a transposed convolution), with the padding the forward op
// used, worked out from its output size as the ONNX spec does when
// output_shape or auto_pad set it.
func (b *builder) convTranspose(n *onnxpb.NodeProto, g string) ([]string, error) {
	x, w := n.GetInput()[0], n.GetInput()[1]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	ws, err := b.shape(w)
	if err != nil {
		return nil, err
	}
	ys, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	nd := len(xs) - 2
	k := ws[2:]
	strides := attrInts(n, "strides", repeat(1, nd))
	dil := attrInts(n, "dilations", repeat(1, nd))
	outPad := attrInts(n, "output_padding", repeat(0, nd))
	pads := attrInts(n, "pads", nil)
	if len(strides) != nd || len(dil) != nd || len(outPad) != nd || len(k) != nd {
		return nil, fmt.Errorf("ConvTranspose: strides %v, dilations %v, output_padding %v do not fit %d spatial dims", strides, dil, outPad, nd)
	}
	if pads == nil || onnx.Attr(n, "output_shape") != nil {
		upper := string(onnx.Attr(n, "auto_pad").GetS()) == "SAME_UPPER"
		pads = make([]int64, 2*nd)
		for i := 0; i < nd; i++ {
			total := strides[i]*(xs[2+i]-1) + outPad[i] + (k[i]-1)*dil[i] + 1 - ys[2+i]
			if total < 0 {
				// an output_shape past the natural size: the extra rows
				// come at the end and see none of x
				continue
			}
			if upper {
				pads[i], pads[i+nd] = total/2, total-total/2
			} else {
				pads[i], pads[i+nd] = total-total/2, total/2
			}
		}
	}
	return []string{b.op("Conv", []string{g, w}, onnx.IntsAttr("kernel_shape", k...), onnx.IntsAttr("strides", strides...),
		onnx.IntsAttr("pads", pads...), onnx.IntsAttr("dilations", dil...), onnx.IntAttr("group", attrI(n, "group", 1)))}, nil
}

// lrn is the gradient of LRN, y = x s^-beta with s = bias + alpha/size
// times the sum of x^2 over a window of channels [c-lo, c+hi]:
// dx = g s^-beta - (2 alpha beta / size) x W'(g x s^(-beta-1)), W' the sum
// over the transposed window [c-hi, c+lo]. Window sums run as a
// convolution of ones along the channels, viewed as a spatial axis.
func (b *builder) lrn(n *onnxpb.NodeProto, g string) ([]string, error) {
	x := n.GetInput()[0]
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	if len(xs) < 3 {
		return nil, fmt.Errorf("LRN of a %d-D value", len(xs))
	}
	size := attrI(n, "size", 0)
	if size <= 0 {
		return nil, fmt.Errorf("LRN without a size")
	}
	alpha, beta, bias := attrF(n, "alpha", 1e-4), attrF(n, "beta", 0.75), attrF(n, "bias", 1)
	lo, hi := (size-1)/2, size-1-(size-1)/2
	rest := int64(1)
	for _, d := range xs[2:] {
		rest *= d
	}
	ones := make([]float32, size)
	for i := range ones {
		ones[i] = 1
	}
	w := b.constF([]int64{1, 1, size, 1}, ones...)
	window := func(v string, before, after int64) string {
		v4 := b.op("Reshape", []string{v, b.constI(-1, 1, xs[1], rest)})
		c := b.op("Conv", []string{v4, w}, onnx.IntsAttr("kernel_shape", size, 1), onnx.IntsAttr("pads", before, 0, after, 0))
		return b.like(c, x)
	}
	sq := b.op("Mul", []string{x, x})
	sv := b.op("Add", []string{b.scalar(bias), b.op("Mul", []string{b.scalar(alpha / float32(size)), window(sq, lo, hi)})})
	t := b.op("Mul", []string{b.op("Mul", []string{g, x}), b.op("Pow", []string{sv, b.scalar(-beta - 1)})})
	first := b.op("Mul", []string{g, b.op("Pow", []string{sv, b.scalar(-beta)})})
	second := b.op("Mul", []string{b.op("Mul", []string{x, b.scalar(2 * alpha * beta / float32(size))}), window(t, hi, lo)})
	return []string{b.op("Sub", []string{first, second})}, nil
}

// gatherND: the picked slices' gradients added back where they came from
// (ScatterND with reduction add, so an index picked twice gets both), onto
// zeros shaped like the input. Batch dimensions are not supported.
func (b *builder) gatherND(n *onnxpb.NodeProto, g string) ([]string, error) {
	if attrI(n, "batch_dims", 0) != 0 {
		return nil, fmt.Errorf("GatherND with batch_dims is not supported")
	}
	x := input(n, 0)
	zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{x})})
	return []string{b.op("ScatterND", []string{zeros, input(n, 1), g}, onnx.StringAttr("reduction", "add"))}, nil
}

// scatter (ScatterElements, ScatterND): without a reduction the data's
// gradient is g with the written positions zeroed (they were replaced) and
// the updates' is g read back at those positions; with reduction add the
// data's gradient is g itself. Indices are taken as distinct without a
// reduction (ONNX leaves which of two updates of one position wins
// unspecified). With max or min, each value that the result equals (the
// data's or an update's) gets its position's gradient. The mul
// reduction is not supported.
func (b *builder) scatter(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	nd := n.GetOpType() == "ScatterND"
	red := attrS(n, "reduction")
	if red != "" && red != "none" && red != "add" && red != "max" && red != "min" {
		return nil, fmt.Errorf("%s with reduction %s is not supported", n.GetOpType(), red)
	}
	idx, upd := input(n, 1), input(n, 2)
	gather := func(v string) string {
		if nd {
			return b.op("GatherND", []string{v, idx})
		}
		return b.op("GatherElements", []string{v, idx}, onnx.IntAttr("axis", attrI(n, "axis", 0)))
	}
	res := make([]string, 3)
	if red == "max" || red == "min" {
		out, f32 := n.GetOutput()[0], onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT))
		won := func(v, at string) string { return b.op("Cast", []string{b.op("Equal", []string{at, v})}, f32) }
		if need(0) {
			res[0] = b.op("Mul", []string{g, won(input(n, 0), out)})
		}
		if need(2) {
			res[2] = b.op("Mul", []string{gather(g), won(upd, gather(out))})
		}
		return res, nil
	}
	if need(0) {
		res[0] = g
		if red != "add" {
			zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{upd})})
			if nd {
				res[0] = b.op("ScatterND", []string{g, idx, zeros})
			} else {
				res[0] = b.op("ScatterElements", []string{g, idx, zeros}, onnx.IntAttr("axis", attrI(n, "axis", 0)))
			}
		}
	}
	if need(2) {
		res[2] = gather(g)
	}
	return res, nil
}

// topK: the values' gradient goes back to the positions they were taken
// from.
func (b *builder) topK(n *onnxpb.NodeProto, g string) ([]string, error) {
	if g == "" {
		return nil, nil
	}
	x := input(n, 0)
	zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{x})})
	return []string{b.op("ScatterElements", []string{zeros, n.GetOutput()[1], g}, onnx.IntAttr("axis", attrI(n, "axis", -1)), onnx.StringAttr("reduction", "add"))}, nil
}

// mod (fmod for floats: a - b trunc(a/b)): d/da = 1, d/db = -trunc(a/b),
// with trunc(v) = sign(v) floor(|v|).
func (b *builder) mod(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	a, d := input(n, 0), input(n, 1)
	gs, err := b.shape(n.GetOutput()[0])
	if err != nil {
		return nil, err
	}
	res := make([]string, 2)
	if need(0) {
		if res[0], err = b.unbroadcast(g, gs, a); err != nil {
			return nil, err
		}
	}
	if need(1) {
		q := b.op("Div", []string{a, d})
		trunc := b.op("Mul", []string{b.op("Sign", []string{q}), b.op("Floor", []string{b.op("Abs", []string{q})})})
		if res[1], err = b.unbroadcast(b.op("Neg", []string{b.op("Mul", []string{g, trunc})}), gs, d); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// oneHot: piecewise constant in its indices (a zero gradient); the two
// values get the sums of the gradient where they were written.
func (b *builder) oneHot(n *onnxpb.NodeProto, g string, need func(int) bool) ([]string, error) {
	idx := input(n, 0)
	res := make([]string, 3)
	if need(0) {
		res[0] = b.op("ConstantOfShape", []string{b.op("Shape", []string{idx})})
	}
	if need(2) {
		on := b.op("OneHot", []string{idx, input(n, 1), b.constF([]int64{2}, 0, 1)}, onnx.IntAttr("axis", attrI(n, "axis", -1)))
		gon := b.op("ReduceSum", []string{b.op("Mul", []string{g, on})}, onnx.IntAttr("keepdims", 0))
		goff := b.op("Sub", []string{b.op("ReduceSum", []string{g}, onnx.IntAttr("keepdims", 0)), gon})
		res[2] = b.op("Concat", []string{b.op("Unsqueeze", []string{goff, b.constI(0)}), b.op("Unsqueeze", []string{gon, b.constI(0)})}, onnx.IntAttr("axis", 0))
	}
	return res, nil
}

// reverseSequence is a permutation that is its own inverse: the gradient
// is reversed the same way.
func (b *builder) reverseSequence(n *onnxpb.NodeProto, g string) ([]string, error) {
	return []string{b.op("ReverseSequence", []string{g, input(n, 1)}, n.GetAttribute()...)}, nil
}

// compress keeps the slices (elements, without an axis) where the
// condition is true: the gradient is scattered back to them, zeros
// elsewhere.
func (b *builder) compress(n *onnxpb.NodeProto, g string) ([]string, error) {
	idx := b.op("Transpose", []string{b.op("NonZero", []string{input(n, 1)})}) // [k, 1]
	return b.picked(n, idx, g)
}

// unique: Y[k] = x[indices[k]] (along axis, or of x flattened), indices
// from a second Unique with the same attributes.
func (b *builder) unique(n *onnxpb.NodeProto, g string) ([]string, error) {
	idx := b.opN("Unique", 2, []string{input(n, 0)}, n.GetAttribute()...)[1]
	return b.picked(n, b.op("Unsqueeze", []string{idx, b.constI(1)}), g)
}

// picked is the gradient of an op that picks the slices idx ([k, 1]) of
// its input along its axis attribute (or the elements of its input
// flattened, without one): g scattered back into zeros.
func (b *builder) picked(n *onnxpb.NodeProto, idx, g string) ([]string, error) {
	x := input(n, 0)
	xs, err := b.shape(x)
	if err != nil {
		return nil, err
	}
	a := onnx.Attr(n, "axis")
	if a == nil { // over the flattened input
		zeros := b.op("ConstantOfShape", []string{b.constI(int64(len1(xs)))})
		return []string{b.op("Reshape", []string{b.op("ScatterND", []string{zeros, idx, b.op("Reshape", []string{g, b.constI(-1)})}), b.constI(xs...)})}, nil
	}
	axis := normAxis(a.GetI(), len(xs))
	if b.batchAxis(x, axis) {
		return nil, fmt.Errorf("%s along the batch axis is not supported", n.GetOpType())
	}
	// move the axis to the front, scatter the slices, move it back
	perm := []int64{axis}
	for i := range xs {
		if int64(i) != axis {
			perm = append(perm, int64(i))
		}
	}
	inv := make([]int64, len(perm))
	for i, p := range perm {
		inv[p] = int64(i)
	}
	gt := b.op("Transpose", []string{g}, onnx.IntsAttr("perm", perm...))
	zeros := b.op("ConstantOfShape", []string{b.op("Shape", []string{b.op("Transpose", []string{x}, onnx.IntsAttr("perm", perm...))})})
	return []string{b.op("Transpose", []string{b.op("ScatterND", []string{zeros, idx, gt})}, onnx.IntsAttr("perm", inv...))}, nil
}

func len1(dims []int64) int {
	p := 1
	for _, d := range dims {
		p *= int(d)
	}
	return p
}
