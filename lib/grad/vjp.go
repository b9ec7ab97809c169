package grad

import (
	"fmt"
	"math"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func attrI(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := onnx.Attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func attrS(n *onnxpb.NodeProto, name string) string {
	if a := onnx.Attr(n, name); a != nil {
		return string(a.GetS())
	}
	return ""
}

func attrF(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := onnx.Attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

func attrInts(n *onnxpb.NodeProto, name string, def []int64) []int64 {
	if a := onnx.Attr(n, name); a != nil {
		return a.GetInts()
	}
	return def
}

func repeat(v int64, k int) []int64 {
	out := make([]int64, k)
	for i := range out {
		out[i] = v
	}
	return out
}

// input returns n's k-th input or "" when it is absent.
func input(n *onnxpb.NodeProto, k int) string {
	if k < len(n.GetInput()) {
		return n.GetInput()[k]
	}
	return ""
}

// vjp returns the gradients of n's inputs ("" where none) given those of
// its outputs (gouts, "" where none reaches the objective). on tells which
// values need a gradient.
func (b *builder) vjp(n *onnxpb.NodeProto, gouts []string, on map[string]bool) ([]string, error) {
	in := n.GetInput()
	g := gouts[0]
	out := ""
	if len(n.GetOutput()) > 0 {
		out = n.GetOutput()[0]
	}
	need := func(k int) bool { return k < len(in) && in[k] != "" && on[in[k]] }
	x := input(n, 0)
	zero := func() string { return b.scalar(0) }
	switch op := n.GetOpType(); op {
	case "Identity", "Dropout", "Cast":
		return []string{g}, nil

	case "Neg":
		return []string{b.op("Neg", []string{g})}, nil

	case "Add", "Sub", "Mul", "Div":
		gs, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		res := make([]string, 2)
		for k := 0; k < 2; k++ {
			if !need(k) {
				continue
			}
			var gk string
			switch {
			case op == "Add", op == "Sub" && k == 0:
				gk = g
			case op == "Sub":
				gk = b.op("Neg", []string{g})
			case op == "Mul":
				gk = b.op("Mul", []string{g, in[1-k]})
			case k == 0: // d(a/b)/da = 1/b
				gk = b.op("Div", []string{g, in[1]})
			default: // d(a/b)/db = -(a/b)/b
				gk = b.op("Neg", []string{b.op("Div", []string{b.op("Mul", []string{g, out}), in[1]})})
			}
			u, err := b.unbroadcast(gk, gs, in[k])
			if err != nil {
				return nil, err
			}
			res[k] = u
		}
		return res, nil

	case "Pow": // d(a^p)/da = p a^(p-1); d(a^p)/dp = a^p ln a
		gs, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		res := make([]string, 2)
		if need(0) {
			var d string
			if ps, err := b.floats(in[1]); err == nil && len(ps) == 1 && !need(1) {
				d = b.op("Mul", []string{b.scalar(ps[0]), b.op("Pow", []string{x, b.scalar(ps[0] - 1)})})
			} else { // a tensor, computed or integer exponent: as float at run time
				p := b.op("Cast", []string{in[1]}, onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT)))
				d = b.op("Mul", []string{p, b.op("Pow", []string{x, b.op("Sub", []string{p, b.scalar(1)})})})
			}
			if res[0], err = b.unbroadcast(b.op("Mul", []string{g, d}), gs, x); err != nil {
				return nil, err
			}
		}
		if need(1) {
			d := b.op("Mul", []string{out, b.op("Log", []string{x})})
			if res[1], err = b.unbroadcast(b.op("Mul", []string{g, d}), gs, in[1]); err != nil {
				return nil, err
			}
		}
		return res, nil

	case "Sqrt": // 1/(2 sqrt x)
		return []string{b.op("Div", []string{b.op("Mul", []string{g, b.scalar(0.5)}), out})}, nil

	case "Reciprocal": // -1/x^2 = -y^2
		return []string{b.op("Neg", []string{b.op("Mul", []string{g, b.op("Mul", []string{out, out})})})}, nil

	case "Exp":
		return []string{b.op("Mul", []string{g, out})}, nil

	case "Log":
		return []string{b.op("Div", []string{g, x})}, nil

	case "Relu":
		return []string{b.op("Where", []string{b.op("Greater", []string{x, zero()}), g, zero()})}, nil

	case "LeakyRelu":
		alpha := attrF(n, "alpha", 0.01)
		return []string{b.op("Where", []string{b.op("Greater", []string{x, zero()}), g, b.op("Mul", []string{g, b.scalar(alpha)})})}, nil

	case "Sigmoid": // y (1 - y)
		return []string{b.op("Mul", []string{g, b.op("Mul", []string{out, b.op("Sub", []string{b.scalar(1), out})})})}, nil

	case "Tanh": // 1 - y^2
		return []string{b.op("Mul", []string{g, b.op("Sub", []string{b.scalar(1), b.op("Mul", []string{out, out})})})}, nil

	case "Erf": // 2/sqrt(pi) exp(-x^2)
		e := b.op("Exp", []string{b.op("Neg", []string{b.op("Mul", []string{x, x})})})
		return []string{b.op("Mul", []string{g, b.op("Mul", []string{e, b.scalar(float32(2 / math.Sqrt(math.Pi)))})})}, nil

	case "Gelu": // exact: Phi(x) + x phi(x)
		if a := onnx.Attr(n, "approximate"); a != nil && string(a.GetS()) == "tanh" {
			// 0.5 x (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3):
			// 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 0.044715 x^2)
			c := math.Sqrt(2 / math.Pi)
			x2 := b.op("Mul", []string{x, x})
			u := b.op("Mul", []string{b.scalar(float32(c)), b.op("Add", []string{x, b.op("Mul", []string{b.scalar(0.044715), b.op("Mul", []string{x2, x})})})})
			t := b.op("Tanh", []string{u})
			du := b.op("Add", []string{b.scalar(float32(c)), b.op("Mul", []string{b.scalar(float32(3 * 0.044715 * c)), x2})})
			d := b.op("Add", []string{b.op("Mul", []string{b.scalar(0.5), b.op("Add", []string{b.scalar(1), t})}),
				b.op("Mul", []string{b.op("Mul", []string{b.scalar(0.5), x}), b.op("Mul", []string{b.op("Sub", []string{b.scalar(1), b.op("Mul", []string{t, t})}), du})})})
			return []string{b.op("Mul", []string{g, d})}, nil
		}
		if a := onnx.Attr(n, "approximate"); a != nil && string(a.GetS()) != "none" {
			return nil, fmt.Errorf("Gelu with approximate=%s is not supported (none or tanh)", a.GetS())
		}
		phiBig := b.op("Mul", []string{b.scalar(0.5), b.op("Add", []string{b.scalar(1),
			b.op("Erf", []string{b.op("Mul", []string{x, b.scalar(float32(1 / math.Sqrt2))})})})})
		phi := b.op("Mul", []string{b.scalar(float32(1 / math.Sqrt(2*math.Pi))),
			b.op("Exp", []string{b.op("Mul", []string{b.op("Mul", []string{x, x}), b.scalar(-0.5)})})})
		d := b.op("Add", []string{phiBig, b.op("Mul", []string{x, phi})})
		return []string{b.op("Mul", []string{g, d})}, nil

	case "HardSigmoid":
		alpha, beta := attrF(n, "alpha", 0.2), attrF(n, "beta", 0.5)
		t := b.op("Add", []string{b.op("Mul", []string{x, b.scalar(alpha)}), b.scalar(beta)})
		inside := b.op("And", []string{b.op("Greater", []string{t, zero()}), b.op("Less", []string{t, b.scalar(1)})})
		return []string{b.op("Where", []string{inside, b.op("Mul", []string{g, b.scalar(alpha)}), zero()})}, nil

	case "HardSwish": // x * hardsigmoid(x; 1/6, 1/2): 0 below -3, 1 above 3, (2x+3)/6 between
		mid := b.op("Add", []string{b.op("Mul", []string{x, b.scalar(1.0 / 3)}), b.scalar(0.5)})
		d := b.op("Where", []string{b.op("Less", []string{x, b.scalar(-3)}), zero(),
			b.op("Where", []string{b.op("Greater", []string{x, b.scalar(3)}), b.scalar(1), mid})})
		return []string{b.op("Mul", []string{g, d})}, nil

	case "Clip":
		mask := ""
		if lo := input(n, 1); lo != "" {
			mask = b.op("GreaterOrEqual", []string{x, lo})
		}
		if hi := input(n, 2); hi != "" {
			m := b.op("LessOrEqual", []string{x, hi})
			if mask == "" {
				mask = m
			} else {
				mask = b.op("And", []string{mask, m})
			}
		}
		if mask == "" {
			return []string{g}, nil
		}
		return []string{b.op("Where", []string{mask, g, zero()})}, nil

	case "Conv":
		return b.conv(n, g, need)

	case "BatchNormalization":
		if attrI(n, "training_mode", 0) != 0 {
			return nil, fmt.Errorf("BatchNormalization in training mode; export the model in eval mode")
		}
		xs, err := b.shape(x)
		if err != nil {
			return nil, err
		}
		eps := attrF(n, "epsilon", 1e-5)
		// y = (x - mean) * scale / sqrt(var + eps) + B, per channel (axis 1)
		s := b.op("Div", []string{in[1], b.op("Sqrt", []string{b.op("Add", []string{in[4], b.scalar(eps)})})})
		dims := append([]int64{-1}, repeat(1, len(xs)-2)...)
		return []string{b.op("Mul", []string{g, b.op("Reshape", []string{s, b.constI(dims...)})})}, nil

	case "Gemm":
		return b.gemm(n, g, need)

	case "MatMul":
		return b.matmul(n, g, need)

	case "Softmax", "LogSoftmax":
		ys, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		axis := normAxis(attrI(n, "axis", -1), len(ys))
		ax := b.constI(axis)
		if op == "Softmax" { // y (g - sum(g y))
			s := b.op("ReduceSum", []string{b.op("Mul", []string{g, out}), ax}, onnx.IntAttr("keepdims", 1))
			return []string{b.op("Mul", []string{out, b.op("Sub", []string{g, s})})}, nil
		}
		// g - exp(y) sum(g)
		s := b.op("ReduceSum", []string{g, ax}, onnx.IntAttr("keepdims", 1))
		return []string{b.op("Sub", []string{g, b.op("Mul", []string{b.op("Exp", []string{out}), s})})}, nil

	case "LayerNormalization":
		return b.layerNorm(n, g, need)

	case "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
		"ReduceProd", "ReduceMax", "ReduceMin":
		return b.reduce(n, g)

	case "Sum", "Mean", "Max", "Min":
		return b.variadic(n, g, need)

	case "GatherElements":
		return b.gatherElements(n, g)

	case "Tile":
		return b.tile(n, g)

	case "DepthToSpace", "SpaceToDepth":
		return b.depthSpace(n, g)

	case "InstanceNormalization":
		return b.instanceNorm(n, g)

	case "ConvTranspose":
		return b.convTranspose(n, g)

	case "LRN":
		return b.lrn(n, g)

	case "NegativeLogLikelihoodLoss":
		return b.nllLoss(n, g)

	case "SoftmaxCrossEntropyLoss":
		return b.sceLoss(n, gouts)

	case "GlobalMaxPool": // ReduceMax over the spatial axes, kept
		xs, err := b.shape(x)
		if err != nil {
			return nil, err
		}
		var axes []int64
		for a := 2; a < len(xs); a++ {
			axes = append(axes, int64(a))
		}
		rm := proto.Clone(n).(*onnxpb.NodeProto)
		rm.OpType, rm.Attribute = strp("ReduceMax"), []*onnxpb.AttributeProto{onnx.IntsAttr("axes", axes...), onnx.IntAttr("keepdims", 1)}
		return b.reduce(rm, g)

	case "PRelu": // x for x > 0, slope x below
		gs, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		pos := b.op("Greater", []string{x, zero()})
		res := make([]string, 2)
		if need(0) {
			if res[0], err = b.unbroadcast(b.op("Where", []string{pos, g, b.op("Mul", []string{g, in[1]})}), gs, x); err != nil {
				return nil, err
			}
		}
		if need(1) {
			if res[1], err = b.unbroadcast(b.op("Where", []string{pos, zero(), b.op("Mul", []string{g, x})}), gs, in[1]); err != nil {
				return nil, err
			}
		}
		return res, nil

	case "GlobalAveragePool":
		xs, err := b.shape(x)
		if err != nil {
			return nil, err
		}
		count := int64(1)
		for _, d := range xs[2:] {
			count *= d
		}
		e := b.op("Expand", []string{g, b.op("Shape", []string{x})})
		return []string{b.op("Div", []string{e, b.scalar(float32(count))})}, nil

	case "AveragePool":
		return b.avgPool(n, g)

	case "MaxPool":
		return b.maxPool(n, g)

	case "Pad":
		return b.pad(n, g)

	case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
		return []string{b.like(g, x)}, nil

	case "Transpose":
		xs, err := b.shape(x)
		if err != nil {
			return nil, err
		}
		perm := attrInts(n, "perm", nil)
		if perm == nil {
			for i := len(xs) - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		return []string{b.op("Transpose", []string{g}, onnx.IntsAttr("perm", inv...))}, nil

	case "Concat":
		return b.concat(n, g, need)

	case "Split":
		return b.split(n, gouts)

	case "Slice":
		return b.slice(n, g)

	case "Gather":
		return b.gather(n, g)

	case "GatherND":
		return b.gatherND(n, g)

	case "Resize":
		return b.resize(n, g)

	case "GridSample":
		return b.gridSample(n, g, need)

	case "Mod":
		return b.mod(n, g, need)

	case "OneHot":
		return b.oneHot(n, g, need)

	case "ReverseSequence":
		return b.reverseSequence(n, g)

	case "Compress":
		return b.compress(n, g)

	case "Unique":
		return b.unique(n, g)

	case "RoiAlign", "MaxUnpool":
		return b.linear(n, g)

	case "ScatterElements", "ScatterND":
		return b.scatter(n, g, need)

	case "TopK":
		return b.topK(n, g)

	case "Expand":
		gs, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		u, err := b.unbroadcast(g, gs, x)
		return []string{u}, err

	case "Where":
		gs, err := b.shape(out)
		if err != nil {
			return nil, err
		}
		res := make([]string, 3)
		for k := 1; k <= 2; k++ {
			if !need(k) {
				continue
			}
			var w string
			if k == 1 {
				w = b.op("Where", []string{in[0], g, zero()})
			} else {
				w = b.op("Where", []string{in[0], zero(), g})
			}
			if res[k], err = b.unbroadcast(w, gs, in[k]); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	if d, ok := b.elementwise(n, x, out); ok {
		return []string{b.op("Mul", []string{g, d})}, nil
	}
	if op := n.GetOpType(); zeroGrad[op] {
		// piecewise constant: the derivative is 0 wherever it exists
		return []string{b.op("Mul", []string{g, zero()})}, nil
	}
	return nil, fmt.Errorf("lk cannot differentiate %s", n.GetOpType())
}
