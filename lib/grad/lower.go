package grad

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// maxUnroll bounds the sequence length lowered recurrent ops are unrolled
// to: each step is about twenty nodes.
const maxUnroll = 4096

// shapeAt gives a value's shape at batch 2 and at batch 3 (ONNX Runtime's
// shape probe), for rewrites that need an extent that must not depend on
// the batch.
type shapeAt func(v string) (at2, at3 []int64, err error)

// lowered returns m with the ops lk differentiates by rewriting them into
// ops it has rules for, computing what m computes: RNN, GRU and LSTM
// unrolled over their sequence (its length must not change with the
// batch); MeanVarianceNormalization, Mish, GroupNormalization and
// CenterCropPad as their ONNX function bodies; LpPool through
// AveragePool; AffineGrid as a MatMul with its base grid; CastLike as
// Cast. m is left as it was; it is returned as is when it holds none of
// them.
func lowered(m *onnx.Model, shape shapeAt) (*onnx.Model, error) {
	lowers := func(n *onnxpb.NodeProto) bool {
		switch n.GetOpType() {
		case "RNN", "GRU", "LSTM", "MeanVarianceNormalization", "CastLike", "Mish", "LpPool", "GroupNormalization", "CenterCropPad", "AffineGrid":
			return n.GetDomain() == "" || n.GetDomain() == "ai.onnx"
		}
		return false
	}
	if !slices.ContainsFunc(m.Graph().GetNode(), lowers) {
		return m, nil
	}
	c := m.Clone()
	g := c.Graph()
	consts := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		consts[t.GetName()] = t
	}
	for _, n := range g.GetNode() {
		if a := onnx.Attr(n, "value"); n.GetOpType() == "Constant" && a.GetT() != nil && len(n.GetOutput()) == 1 {
			consts[n.GetOutput()[0]] = a.GetT()
		}
	}
	var types map[string]int32 // element types, for CastLike's target
	var nodes []*onnxpb.NodeProto
	for k, n := range g.GetNode() {
		if !lowers(n) {
			nodes = append(nodes, n)
			continue
		}
		l := &lowerer{m: c, base: fmt.Sprintf("lk_lower/%d", k), consts: consts}
		var err error
		switch n.GetOpType() {
		case "CastLike":
			if types == nil {
				v, verr := onnx.NewGraph(g)
				if verr != nil {
					return nil, fmt.Errorf("model %s: %v", m.Path, verr)
				}
				types = onnx.ElemTypes(g, v.Order)
			}
			err = l.castLike(n, types)
		case "MeanVarianceNormalization":
			l.mvn(n)
		case "Mish":
			l.mish(n)
		case "LpPool":
			err = l.lpPool(n, shape)
		case "GroupNormalization":
			err = l.groupNorm(n, shape)
		case "CenterCropPad":
			err = l.centerCropPad(n, shape)
		case "AffineGrid":
			err = l.affineGrid(n)
		default:
			err = l.recurrent(n, shape)
		}
		if err != nil {
			return nil, fmt.Errorf("model %s: node %s (%s): %v", m.Path, onnx.NodeName(n), n.GetOpType(), err)
		}
		nodes = append(nodes, l.nodes...)
	}
	g.Node = nodes
	return c, nil
}

// castLike is Cast to the element type of CastLike's second input
// (opset 15), which the graph's types tell.
func (l *lowerer) castLike(n *onnxpb.NodeProto, types map[string]int32) error {
	if len(n.GetInput()) != 2 || len(n.GetOutput()) != 1 {
		return fmt.Errorf("want 2 inputs and 1 output")
	}
	to, ok := types[n.GetInput()[1]]
	if !ok {
		return fmt.Errorf("the element type of %q, its target, cannot be told from the graph", n.GetInput()[1])
	}
	c := &onnxpb.NodeProto{Name: proto.String(n.GetName()), OpType: proto.String("Cast"), Input: []string{n.GetInput()[0]},
		Output: n.GetOutput(), Attribute: []*onnxpb.AttributeProto{onnx.IntAttr("to", int64(to))}}
	l.nodes = append(l.nodes, c)
	return nil
}

// lowerer emits the nodes that replace one node.
type lowerer struct {
	m      *onnx.Model
	base   string // prefix of the names of the values it makes
	k      int
	nodes  []*onnxpb.NodeProto
	consts map[string]*onnxpb.TensorProto
}

func (l *lowerer) name(what string) string {
	l.k++
	return fmt.Sprintf("%s/%d_%s", l.base, l.k, what)
}

func (l *lowerer) op(op string, in []string, attrs ...*onnxpb.AttributeProto) string {
	out := l.name(op)
	l.nodes = append(l.nodes, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: attrs})
	return out
}

// as writes v under the name out (a replaced node's output).
func (l *lowerer) as(v, out string) {
	if out != "" {
		l.nodes = append(l.nodes, &onnxpb.NodeProto{OpType: proto.String("Identity"), Name: proto.String(l.name("out")), Input: []string{v}, Output: []string{out}})
	}
}

func (l *lowerer) ints(dims []int64, vals ...int64) string {
	name := l.name("i")
	t := &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals}
	l.m.Graph().Initializer = append(l.m.Graph().Initializer, t)
	return name
}

func (l *lowerer) vec(vals ...int64) string { return l.ints([]int64{int64(len(vals))}, vals...) }
func (l *lowerer) index(i int64) string     { return l.ints(nil, i) }

func (l *lowerer) scalar(v float32) string {
	name := l.name("f")
	onnx.AddInitializer(l.m.Graph(), name, nil, []float32{v})
	return name
}

// add and mul treat "" as an absent (zero) term.
func (l *lowerer) add(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return l.op("Add", []string{a, b})
}

func (l *lowerer) mul(a, b string) string {
	if a == "" || b == "" {
		return ""
	}
	return l.op("Mul", []string{a, b})
}

// part is the k-th of the equal parts of v's last axis, each size wide.
func (l *lowerer) part(v string, k, size int64) string {
	if v == "" {
		return ""
	}
	return l.op("Slice", []string{v, l.vec(k * size), l.vec((k + 1) * size), l.vec(-1)})
}

// mvn is MeanVarianceNormalization's function body (opset 13):
// (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over axes (0, 2, 3).
func (l *lowerer) mvn(n *onnxpb.NodeProto) {
	x := n.GetInput()[0]
	axes := attrInts(n, "axes", []int64{0, 2, 3})
	mean := func(v string) string {
		if l.m.Opset() >= 18 { // axes became an input
			return l.op("ReduceMean", []string{v, l.vec(axes...)})
		}
		return l.op("ReduceMean", []string{v}, onnx.IntsAttr("axes", axes...))
	}
	mx := mean(x)
	ex2 := mean(l.op("Mul", []string{x, x}))
	std := l.op("Sqrt", []string{l.op("Sub", []string{ex2, l.op("Mul", []string{mx, mx})})})
	l.as(l.op("Div", []string{l.op("Sub", []string{x, mx}), l.op("Add", []string{std, l.scalar(1e-9)})}), n.GetOutput()[0])
}

// activation is one of the recurrent ops' activation functions.
type activation struct {
	name        string // lower case
	alpha, beta float32
}

// alphaBeta tells which of alpha and beta an activation takes, and their
// defaults (those of the ONNX ops of the same name).
var alphaBeta = map[string]struct {
	alpha, beta       bool
	defAlpha, defBeta float32
}{
	"relu": {}, "tanh": {}, "sigmoid": {}, "softsign": {}, "softplus": {},
	"affine":          {true, true, 1, 0},
	"leakyrelu":       {true, false, 0.01, 0},
	"thresholdedrelu": {true, false, 1, 0},
	"elu":             {true, false, 1, 0},
	"scaledtanh":      {true, true, 1, 1},
	"hardsigmoid":     {true, true, 0.2, 0.5},
}

// activations reads the op's activation functions, per direction: the
// activation_alpha and activation_beta lists are consumed in order by the
// functions that take them, as ONNX Runtime reads them.
func activations(n *onnxpb.NodeProto, per, dirs int) ([][]activation, error) {
	def := map[int][]string{1: {"Tanh"}, 2: {"Sigmoid", "Tanh"}, 3: {"Sigmoid", "Tanh", "Tanh"}}[per]
	var names []string
	if a := onnx.Attr(n, "activations"); a != nil {
		for _, s := range a.GetStrings() {
			names = append(names, string(s))
		}
	}
	switch len(names) {
	case 0:
		for range dirs {
			names = append(names, def...)
		}
	case per * dirs:
	default:
		return nil, fmt.Errorf("%d activations, want %d (%d per direction)", len(names), per*dirs, per)
	}
	alphas := attrFloats(n, "activation_alpha")
	betas := attrFloats(n, "activation_beta")
	out := make([][]activation, dirs)
	for i, nm := range names {
		nm = strings.ToLower(nm)
		ab, ok := alphaBeta[nm]
		if !ok {
			return nil, fmt.Errorf("activation %q is not one ONNX defines for recurrent ops", names[i])
		}
		a := activation{name: nm, alpha: ab.defAlpha, beta: ab.defBeta}
		if ab.alpha && len(alphas) > 0 {
			a.alpha, alphas = alphas[0], alphas[1:]
		}
		if ab.beta && len(betas) > 0 {
			a.beta, betas = betas[0], betas[1:]
		}
		out[i/per] = append(out[i/per], a)
	}
	return out, nil
}

func attrFloats(n *onnxpb.NodeProto, name string) []float32 {
	if a := onnx.Attr(n, name); a != nil {
		return a.GetFloats()
	}
	return nil
}

// apply emits f(clip(x)); clip 0 is none.
func (l *lowerer) apply(f activation, x string, clip float32) string {
	if clip > 0 {
		x = l.op("Clip", []string{x, l.scalar(-clip), l.scalar(clip)})
	}
	switch f.name {
	case "relu", "tanh", "sigmoid", "softsign", "softplus":
		op := map[string]string{"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softsign": "Softsign", "softplus": "Softplus"}[f.name]
		return l.op(op, []string{x})
	case "affine":
		return l.op("Add", []string{l.op("Mul", []string{x, l.scalar(f.alpha)}), l.scalar(f.beta)})
	case "scaledtanh":
		return l.op("Mul", []string{l.op("Tanh", []string{l.op("Mul", []string{x, l.scalar(f.beta)})}), l.scalar(f.alpha)})
	case "hardsigmoid":
		return l.op("HardSigmoid", []string{x}, onnx.FloatAttr("alpha", f.alpha), onnx.FloatAttr("beta", f.beta))
	default: // leakyrelu, thresholdedrelu, elu
		op := map[string]string{"leakyrelu": "LeakyRelu", "thresholdedrelu": "ThresholdedRelu", "elu": "Elu"}[f.name]
		return l.op(op, []string{x}, onnx.FloatAttr("alpha", f.alpha))
	}
}

// recurrent unrolls RNN, GRU or LSTM into per-step MatMuls, slices and
// activations, following the equations of the ONNX operator definitions
// (gate orders: GRU z, r, h; LSTM i, o, f, c; peepholes i, o, f).
func (l *lowerer) recurrent(n *onnxpb.NodeProto, shape shapeAt) error {
	op := n.GetOpType()
	gates := map[string]int64{"RNN": 1, "GRU": 3, "LSTM": 4}[op]
	var rev []bool
	switch d := attrS(n, "direction"); d {
	case "", "forward":
		rev = []bool{false}
	case "reverse":
		rev = []bool{true}
	case "bidirectional":
		rev = []bool{false, true}
	default:
		return fmt.Errorf("direction %q, want forward, reverse or bidirectional", d)
	}
	acts, err := activations(n, int(map[string]int64{"RNN": 1, "GRU": 2, "LSTM": 3}[op]), len(rev))
	if err != nil {
		return err
	}
	hs := attrI(n, "hidden_size", 0)
	if hs <= 0 {
		return fmt.Errorf("no hidden_size attribute")
	}
	clip := attrF(n, "clip", 0)
	layout := attrI(n, "layout", 0)
	x := input(n, 0)
	s2, s3, err := shape(x)
	if err != nil {
		return err
	}
	if len(s2) != 3 || len(s3) != 3 {
		return fmt.Errorf("input %s has shape %v, want 3 axes", x, s2)
	}
	seqAxis := layout // [seq, batch, input], or [batch, seq, input] with layout 1
	steps := s2[seqAxis]
	if s3[seqAxis] != steps {
		return fmt.Errorf("the sequence length of %s is %d at batch 2 and %d at batch 3; lk unrolls a recurrence over a length that does not depend on the batch", x, steps, s3[seqAxis])
	}
	if steps > maxUnroll {
		return fmt.Errorf("sequence of %d steps; lk unrolls at most %d", steps, maxUnroll)
	}
	if layout == 1 {
		x = l.op("Transpose", []string{x}, onnx.IntsAttr("perm", 1, 0, 2))
	}
	// the steps each sequence holds, when not all of them
	lens := input(n, 4)
	if lens != "" {
		if t, ok := l.consts[lens]; ok {
			v, err := l.m.Int64s(t)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(v, func(s int64) bool { return s != steps }) {
				lens = ""
			}
		}
	}
	if lens != "" {
		if slices.Contains(rev, true) {
			return fmt.Errorf("sequence_lens with the reverse direction is not supported unless every sequence is %d steps", steps)
		}
		lens = l.op("Cast", []string{lens}, onnx.IntAttr("to", int64(onnxpb.TensorProto_INT64)))
	}
	one := l.scalar(1)
	var ys, yh, yc []string
	for d, back := range rev {
		di := l.index(int64(d))
		pick := func(v string) string { // direction d's slice of v
			if v == "" {
				return ""
			}
			return l.op("Gather", []string{v, di}, onnx.IntAttr("axis", 0))
		}
		wt := l.op("Transpose", []string{pick(input(n, 1))}) // [input, gates*hidden]
		rt := l.op("Transpose", []string{pick(input(n, 2))}) // [hidden, gates*hidden]
		xw := l.op("MatMul", []string{x, wt})                // [seq, batch, gates*hidden]
		var rb string
		if b := pick(input(n, 3)); b != "" {
			wb := l.op("Slice", []string{b, l.vec(0), l.vec(gates * hs), l.vec(0)})
			rb = l.op("Slice", []string{b, l.vec(gates * hs), l.vec(2 * gates * hs), l.vec(0)})
			if op == "GRU" { // Rbh sits inside the reset gate's product
				xw = l.add(xw, wb)
			} else {
				xw, rb = l.add(xw, l.add(wb, rb)), ""
			}
		}
		h := pick(input(n, 5))
		var c, p string
		if op == "LSTM" {
			c, p = pick(input(n, 6)), pick(input(n, 7))
		}
		f := acts[d]
		out := make([]string, steps)
		for s := range steps {
			t := s
			if back {
				t = steps - 1 - s
			}
			xt := l.op("Gather", []string{xw, l.index(t)}, onnx.IntAttr("axis", 0)) // [batch, gates*hidden]
			var hr string
			if h != "" {
				hr = l.op("MatMul", []string{h, rt})
			}
			var hn, cn string
			switch op {
			case "RNN":
				hn = l.apply(f[0], l.add(xt, hr), clip)
			case "GRU":
				z := l.apply(f[0], l.add(l.part(xt, 0, hs), l.add(l.part(hr, 0, hs), l.part(rb, 0, hs))), clip)
				r := l.apply(f[0], l.add(l.part(xt, 1, hs), l.add(l.part(hr, 1, hs), l.part(rb, 1, hs))), clip)
				var inner string
				if attrI(n, "linear_before_reset", 0) == 0 {
					if h != "" {
						rh := l.op("Slice", []string{rt, l.vec(2 * hs), l.vec(3 * hs), l.vec(1)})
						inner = l.op("MatMul", []string{l.op("Mul", []string{r, h}), rh})
					}
					inner = l.add(inner, l.part(rb, 2, hs))
				} else {
					inner = l.mul(r, l.add(l.part(hr, 2, hs), l.part(rb, 2, hs)))
				}
				hc := l.apply(f[1], l.add(l.part(xt, 2, hs), inner), clip)
				hn = l.add(l.op("Mul", []string{l.op("Sub", []string{one, z}), hc}), l.mul(z, h))
			case "LSTM":
				pre := l.add(xt, hr)
				i := l.apply(f[0], l.add(l.part(pre, 0, hs), l.mul(l.part(p, 0, hs), c)), clip)
				var fg string
				if attrI(n, "input_forget", 0) != 0 {
					fg = l.op("Sub", []string{one, i})
				} else {
					fg = l.apply(f[0], l.add(l.part(pre, 2, hs), l.mul(l.part(p, 2, hs), c)), clip)
				}
				cn = l.add(l.mul(fg, c), l.op("Mul", []string{i, l.apply(f[1], l.part(pre, 3, hs), clip)}))
				o := l.apply(f[0], l.add(l.part(pre, 1, hs), l.mul(l.part(p, 1, hs), cn)), clip)
				hn = l.op("Mul", []string{o, l.apply(f[2], cn, 0)})
			}
			if lens != "" {
				// past its length a sequence keeps its state and outputs zeros
				live := l.op("Unsqueeze", []string{l.op("Cast", []string{l.op("Greater", []string{lens, l.index(t)})},
					onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT))), l.vec(1)})
				dead := l.op("Sub", []string{one, live})
				hn, out[t] = l.add(l.op("Mul", []string{live, hn}), l.mul(dead, h)), l.op("Mul", []string{live, hn})
				if cn != "" {
					cn = l.add(l.op("Mul", []string{live, cn}), l.mul(dead, c))
				}
			} else {
				out[t] = hn
			}
			h, c = hn, cn
		}
		for t := range out {
			out[t] = l.op("Unsqueeze", []string{out[t], l.vec(0, 1)})
		}
		ys = append(ys, l.concat(out, 0)) // [seq, 1, batch, hidden]
		yh = append(yh, l.op("Unsqueeze", []string{h, l.vec(0)}))
		if c != "" {
			yc = append(yc, l.op("Unsqueeze", []string{c, l.vec(0)}))
		}
	}
	y, hOut := l.concat(ys, 1), l.concat(yh, 0)
	var cOut string
	if op == "LSTM" {
		cOut = l.concat(yc, 0)
	}
	if layout == 1 {
		y = l.op("Transpose", []string{y}, onnx.IntsAttr("perm", 2, 0, 1, 3))
		hOut = l.op("Transpose", []string{hOut}, onnx.IntsAttr("perm", 1, 0, 2))
		if cOut != "" {
			cOut = l.op("Transpose", []string{cOut}, onnx.IntsAttr("perm", 1, 0, 2))
		}
	}
	outs := n.GetOutput()
	for k, v := range []string{y, hOut, cOut} {
		if k < len(outs) && outs[k] != "" {
			l.as(v, outs[k])
		}
	}
	return nil
}

func (l *lowerer) concat(vs []string, axis int64) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return l.op("Concat", vs, onnx.IntAttr("axis", axis))
}

// mish is x tanh(softplus(x)) (opset 18).
func (l *lowerer) mish(n *onnxpb.NodeProto) {
	x := n.GetInput()[0]
	l.as(l.op("Mul", []string{x, l.op("Tanh", []string{l.op("Softplus", []string{x})})}), n.GetOutput()[0])
}

// lpPool is (sum over the window of |x|^p)^(1/p): the window sum is an
// AveragePool that counts the zero padding, times the window's size.
func (l *lowerer) lpPool(n *onnxpb.NodeProto, shape shapeAt) error {
	if attrI(n, "ceil_mode", 0) != 0 {
		return fmt.Errorf("ceil_mode is not supported")
	}
	p := float32(attrI(n, "p", 2))
	k := attrInts(n, "kernel_shape", nil)
	size := int64(1)
	for _, v := range k {
		size *= v
	}
	var attrs []*onnxpb.AttributeProto
	for _, a := range n.GetAttribute() {
		if a.GetName() != "p" && a.GetName() != "auto_pad" && a.GetName() != "pads" {
			attrs = append(attrs, a)
		}
	}
	// explicit pads: AveragePool counts auto_pad's padding otherwise
	pads := attrInts(n, "pads", make([]int64, 2*len(k)))
	ap := attrS(n, "auto_pad")
	if ap == "SAME_UPPER" {
		// measured: ONNX Runtime's LpPool gives its last windows values
		// that no padding of the definition (zeros, counted) gives
		return fmt.Errorf("auto_pad SAME_UPPER is not supported (ONNX Runtime's windows at the end differ from the definition); export with explicit pads")
	}
	if ap == "SAME_LOWER" {
		xs, _, err := shape(n.GetInput()[0])
		if err != nil {
			return err
		}
		if len(xs) != len(k)+2 {
			return fmt.Errorf("input of shape %v for a %d-D kernel", xs, len(k))
		}
		strides, dil := attrInts(n, "strides", nil), attrInts(n, "dilations", nil)
		for i, kk := range k {
			s, d := int64(1), int64(1)
			if strides != nil {
				s = strides[i]
			}
			if dil != nil {
				d = dil[i]
			}
			in := xs[i+2]
			total := max(0, ((in+s-1)/s-1)*s+(kk-1)*d+1-in)
			pads[i], pads[i+len(k)] = total-total/2, total/2 // the odd one first
		}
	} else if ap == "VALID" {
		clear(pads)
	}
	attrs = append(attrs, onnx.IntAttr("count_include_pad", 1), onnx.IntsAttr("pads", pads...))
	xp := l.op("Pow", []string{l.op("Abs", []string{n.GetInput()[0]}), l.scalar(p)})
	sum := l.op("Mul", []string{l.op("AveragePool", []string{xp}, attrs...), l.scalar(float32(size))})
	l.as(l.op("Pow", []string{sum, l.scalar(1 / p)}), n.GetOutput()[0])
	return nil
}

// reduceMean averages v over axes, keeping them, in the model's opset's
// form (axes became an input at 18).
func (l *lowerer) reduceMean(v string, axes ...int64) string {
	if l.m.Opset() >= 18 {
		return l.op("ReduceMean", []string{v, l.vec(axes...)})
	}
	return l.op("ReduceMean", []string{v}, onnx.IntsAttr("axes", axes...))
}

// groupNorm normalises x [N, C, ...] over each of num_groups groups of
// channels and the spatial axes, then scales and shifts: per group below
// opset 21, per channel from 21.
func (l *lowerer) groupNorm(n *onnxpb.NodeProto, shape shapeAt) error {
	x, scale, bias := input(n, 0), input(n, 1), input(n, 2)
	groups := attrI(n, "num_groups", 0)
	if groups <= 0 {
		return fmt.Errorf("no num_groups attribute")
	}
	xs, _, err := shape(x)
	if err != nil {
		return err
	}
	if len(xs) < 2 || xs[1]%groups != 0 {
		return fmt.Errorf("input of shape %v: its channels are not %d groups", xs, groups)
	}
	eps := attrF(n, "epsilon", 1e-5)
	g := l.op("Reshape", []string{x, l.vec(0, groups, -1)})
	centred := l.op("Sub", []string{g, l.reduceMean(g, 2)})
	v := l.reduceMean(l.op("Mul", []string{centred, centred}), 2)
	norm := l.op("Div", []string{centred, l.op("Sqrt", []string{l.op("Add", []string{v, l.scalar(eps)})})})
	bcast := make([]int64, len(xs)) // [1, C, 1, ...]
	for i := range bcast {
		bcast[i] = 1
	}
	if l.m.Opset() < 21 {
		shp := l.vec(1, groups, 1)
		norm = l.op("Add", []string{l.op("Mul", []string{norm, l.op("Reshape", []string{scale, shp})}), l.op("Reshape", []string{bias, shp})})
		l.as(l.op("Reshape", []string{norm, l.op("Shape", []string{x})}), n.GetOutput()[0])
		return nil
	}
	bcast[1] = xs[1]
	shp := l.vec(bcast...)
	y := l.op("Reshape", []string{norm, l.op("Shape", []string{x})})
	l.as(l.op("Add", []string{l.op("Mul", []string{y, l.op("Reshape", []string{scale, shp})}), l.op("Reshape", []string{bias, shp})}), n.GetOutput()[0])
	return nil
}

// centerCropPad crops each axis longer than its target around the centre
// (the larger half after) and zero-pads each shorter one (the larger half
// after), as the ONNX function body does.
func (l *lowerer) centerCropPad(n *onnxpb.NodeProto, shape shapeAt) error {
	x := input(n, 0)
	t, ok := l.consts[input(n, 1)]
	if !ok {
		return fmt.Errorf("its shape input %q must be a constant", input(n, 1))
	}
	target, err := l.m.Int64s(t)
	if err != nil {
		return err
	}
	xs, xs3, err := shape(x)
	if err != nil {
		return err
	}
	r := int64(len(xs))
	axes := attrInts(n, "axes", nil)
	if axes == nil {
		for i := int64(0); i < r; i++ {
			axes = append(axes, i)
		}
	}
	if len(axes) != len(target) {
		return fmt.Errorf("%d axes for a shape of %d values", len(axes), len(target))
	}
	var starts, ends, cropAxes []int64
	pads := make([]int64, 2*r)
	for k, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return fmt.Errorf("axis %d of a rank-%d input", axes[k], r)
		}
		if xs[a] != xs3[a] {
			return fmt.Errorf("axis %d grows with the batch", a)
		}
		switch d, sh := xs[a], target[k]; {
		case sh < d:
			s := (d - sh) / 2
			starts, ends, cropAxes = append(starts, s), append(ends, s+sh), append(cropAxes, a)
		case sh > d:
			pads[a] = (sh - d) / 2
			pads[a+r] = sh - d - pads[a]
		}
	}
	y := x
	if len(cropAxes) > 0 {
		y = l.op("Slice", []string{y, l.vec(starts...), l.vec(ends...), l.vec(cropAxes...)})
	}
	if slices.ContainsFunc(pads, func(p int64) bool { return p != 0 }) {
		y = l.op("Pad", []string{y, l.vec(pads...)})
	}
	l.as(l.op("Identity", []string{y}), n.GetOutput()[0])
	return nil
}

// affineGrid is the sampling grid [N, (D,) H, W, 2 or 3] of the affine
// maps theta [N, 2, 3] or [N, 3, 4] (opset 20): the base grid's
// homogeneous points (x, y(, z), 1), normalised to [-1, 1] at pixel
// centres or, with align_corners, corners, times theta transposed.
func (l *lowerer) affineGrid(n *onnxpb.NodeProto) error {
	t, ok := l.consts[input(n, 1)]
	if !ok {
		return fmt.Errorf("its size input %q must be a constant", input(n, 1))
	}
	size, err := l.m.Int64s(t)
	if err != nil {
		return err
	}
	if len(size) != 4 && len(size) != 5 {
		return fmt.Errorf("size %v: want N, C, H, W or N, C, D, H, W", size)
	}
	dims := size[2:] // (D,) H, W
	coord := func(i, d int64) float32 {
		if attrI(n, "align_corners", 0) != 0 {
			if d == 1 {
				return -1
			}
			return -1 + 2*float32(i)/float32(d-1)
		}
		return (2*float32(i)+1)/float32(d) - 1
	}
	points := int64(1)
	for _, d := range dims {
		points *= d
	}
	h := int64(len(dims)) + 1 // homogeneous width
	base := make([]float32, 0, points*h)
	idx := make([]int64, len(dims))
	for p := int64(0); p < points; p++ {
		rem := p
		for k := len(dims) - 1; k >= 0; k-- {
			idx[k] = rem % dims[k]
			rem /= dims[k]
		}
		for k := len(dims) - 1; k >= 0; k-- { // x (the last axis) first
			base = append(base, coord(idx[k], dims[k]))
		}
		base = append(base, 1)
	}
	name := l.name("base")
	onnx.AddInitializer(l.m.Graph(), name, []int64{1, points, h}, base)
	grid := l.op("MatMul", []string{name, l.op("Transpose", []string{input(n, 0)}, onnx.IntsAttr("perm", 0, 2, 1))})
	l.as(l.op("Reshape", []string{grid, l.vec(append(append([]int64{-1}, dims...), h-1)...)}), n.GetOutput()[0])
	return nil
}
