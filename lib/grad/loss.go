package grad

import (
	"fmt"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// The loss ops of ONNX: NegativeLogLikelihoodLoss(input, target, weight)
// is -weight[t] input[n, t, d...] per element t = target[n, d...], and
// SoftmaxCrossEntropyLoss(scores, labels, weights) the same of
// LogSoftmax(scores, axis 1). Both skip ignore_index and reduce by none,
// sum, or mean (the sum divided by the total weight of the elements not
// skipped).

// lossParts returns, for a loss node whose class axis is 1 of x, the
// one-hot of the targets over that axis (float, x's shape) and the
// per-element coefficient of the gradient, weight[t] times the incoming
// gradient's share (0 where skipped), shaped [N, 1, d...].
func (b *builder) lossParts(n *onnxpb.NodeProto, g string) (onehot, coef string, err error) {
	in := n.GetInput()
	x, t := in[0], in[1]
	xs, err := b.shape(x)
	if err != nil {
		return "", "", err
	}
	if len(xs) < 2 {
		return "", "", fmt.Errorf("%s of a %d-D input", n.GetOpType(), len(xs))
	}
	f32 := onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT))
	i64 := onnx.IntAttr("to", int64(onnxpb.TensorProto_INT64))
	t = b.op("Cast", []string{t}, i64)
	valid := ""
	if a := onnx.Attr(n, "ignore_index"); a != nil {
		valid = b.op("Not", []string{b.op("Equal", []string{t, b.constI(a.GetI())})})
		t = b.op("Where", []string{valid, t, b.constI(0)}) // in range, for Gather
	}
	classes := make([]int64, xs[1])
	for c := range classes {
		classes[c] = int64(c)
	}
	cshape := make([]int64, len(xs))
	for i := range cshape {
		cshape[i] = 1
	}
	cshape[1] = xs[1]
	ct := b.op("Reshape", []string{b.constI(classes...), b.constI(cshape...)})
	tu := b.op("Unsqueeze", []string{t, b.constI(1)})
	onehot = b.op("Cast", []string{b.op("Equal", []string{tu, ct})}, f32)
	w := b.op("Cast", []string{b.op("Mul", []string{t, b.constI(0)})}, f32) // zeros of the targets' shape
	w = b.op("Add", []string{w, b.scalar(1)})
	if len(in) > 2 && in[2] != "" {
		w = b.op("Gather", []string{in[2], t})
	}
	if valid != "" {
		w = b.op("Mul", []string{w, b.op("Cast", []string{valid}, f32)})
	}
	switch red := string(onnx.Attr(n, "reduction").GetS()); red {
	case "none":
		coef = b.op("Mul", []string{w, g})
	case "sum":
		coef = b.op("Mul", []string{w, g})
	case "", "mean":
		total := b.op("ReduceSum", []string{w}, onnx.IntAttr("keepdims", 0))
		coef = b.op("Mul", []string{w, b.op("Div", []string{g, total})})
	default:
		return "", "", fmt.Errorf("%s with reduction %q", n.GetOpType(), red)
	}
	return onehot, b.op("Unsqueeze", []string{coef, b.constI(1)}), nil
}

// nllLoss is the gradient of NegativeLogLikelihoodLoss in its input.
func (b *builder) nllLoss(n *onnxpb.NodeProto, g string) ([]string, error) {
	onehot, coef, err := b.lossParts(n, g)
	if err != nil {
		return nil, err
	}
	return []string{b.op("Neg", []string{b.op("Mul", []string{onehot, coef})})}, nil
}

// sceLoss is the gradient of SoftmaxCrossEntropyLoss in its scores:
// coef (softmax - onehot), plus the log_prob output's own gradient when
// the graph reads it.
func (b *builder) sceLoss(n *onnxpb.NodeProto, gouts []string) ([]string, error) {
	x := n.GetInput()[0]
	var res string
	if gouts[0] != "" {
		onehot, coef, err := b.lossParts(n, gouts[0])
		if err != nil {
			return nil, err
		}
		sm := b.op("Softmax", []string{x}, onnx.IntAttr("axis", 1))
		res = b.op("Mul", []string{coef, b.op("Sub", []string{sm, onehot})})
	}
	if len(gouts) > 1 && gouts[1] != "" { // log_prob = LogSoftmax(x, 1): g - softmax sum(g)
		lp := n.GetOutput()[1]
		s := b.op("ReduceSum", []string{gouts[1], b.constI(1)}, onnx.IntAttr("keepdims", 1))
		d := b.op("Sub", []string{gouts[1], b.op("Mul", []string{b.op("Exp", []string{lp}), s})})
		if res == "" {
			res = d
		} else {
			res = b.op("Add", []string{res, d})
		}
	}
	return []string{res}, nil
}
