package grad

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Names of the gradient model's inputs and outputs.
const (
	Pixels = "lk_pixels" // input: float32 images in [0,1], N x C x H x W
	Label  = "lk_label"  // input: int64 true classes, N
	Target = "lk_target" // input: int64 target classes, N (DLRTargeted only)
	Loss   = "lk_loss"   // output: the objective per image, N
	Grad   = "lk_grad"   // output: d sum(objective) / d pixels, N x C x H x W
)

// Objective is the per-image scalar whose gradient is taken.
type Objective int

const (
	CrossEntropy Objective = iota // -log softmax(logits)[label]
	TrueLogit                     // logits[label]
	// DLR is the difference of logits ratio (Croce and Hein 2020):
	// -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3), pi the classes sorted
	// by logit, largest first (1e-12 added to the denominator).
	DLR
	// DLRTargeted is DLR towards a target class t (input Target):
	// -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2).
	DLRTargeted
	// Logits builds no objective and no backward pass: the model with
	// its normalisation in front, for attacks that only query it.
	Logits
	// ERFCentre is the effective receptive field's objective (RepLKNet's
	// erf/visualize_erf.py): the sum over channels of the ReLU of the
	// centre element (h/2, w/2) of Output, a feature map [batch, channels,
	// h, w]. No labels.
	ERFCentre
	// Margin is the target's logit minus the true class's, z_t - z_y
	// (input Target): negative while the image is classified as y rather
	// than t, and its linearisation is FAB's decision boundary.
	Margin
)

// Targeted reports whether the objective reads the Target input.
func (o Objective) Targeted() bool { return o == DLRTargeted || o == Margin }

// Options configure Build.
type Options struct {
	Input, Output string    // the model's image input and its logits
	C, H, W       int       // image size
	Mean, Std     []float32 // the normalisation put in front of the graph
	BGR           bool      // the model's channels are the pixels' reversed
	Objective     Objective
	// Wrt names initializers whose gradients are output too, as
	// WrtPrefix+name (Conv weights: group 1 and depthwise only).
	Wrt     []string
	Threads int // for the shape probe
	// Batch is the graph's fixed batch (arch.FindBatch), 0 when dynamic:
	// the gradient model then runs at that batch only, every shape in it
	// a constant.
	Batch int
}

// WrtPrefix prefixes the outputs of Options.Wrt's gradients.
const WrtPrefix = "lk_grad:"

// Build returns a copy of m that takes [0,1] pixels and labels and outputs
// the logits (under their own name), the objective per image (Loss) and
// its gradient with respect to the pixels (Grad). Images do not interact
// (inference-mode graphs), so the gradient of the summed objective is each
// image's own gradient.
func Build(m *onnx.Model, o Options) (*onnx.Model, error) {
	if len(o.Mean) != o.C || len(o.Std) != o.C {
		return nil, fmt.Errorf("mean %v and std %v need %d values", o.Mean, o.Std, o.C)
	}
	// shapes at batch 2 and 3 tell the batch axes apart from the rest;
	// a fixed batch has none
	b2, b3, bdim := int64(2), int64(3), int64(-1)
	if o.Batch > 0 {
		b2, b3, bdim = int64(o.Batch), int64(o.Batch), int64(o.Batch)
	}
	in := []int64{b2, int64(o.C), int64(o.H), int64(o.W)}
	in3 := []int64{b3, int64(o.C), int64(o.H), int64(o.W)}
	m, a, err := analyse(m, o.Input, o.Output, in, in3, o.Threads)
	if err != nil {
		return nil, err
	}
	shapes, shapes3 := a.shapes, a.shapes3
	os, wantShape := shapes[o.Output], "[batch, classes]"
	if o.Objective == ERFCentre {
		wantShape = "a feature map [batch, channels, height, width]"
	}
	if len(os) != map[bool]int{false: 2, true: 4}[o.Objective == ERFCentre] {
		return nil, fmt.Errorf("model %s: output %s has shape %v at batch %d, want %s", m.Path, o.Output, os, b2, wantShape)
	}
	if os3 := shapes3[o.Output]; os[0] != b2 || len(os3) != len(os) || os3[0] != b3 {
		return nil, fmt.Errorf("model %s: output %s has shape %v at batch %d and %v at batch %d: its first axis is not the batch; want %s", m.Path, o.Output, os, b2, os3, b3, wantShape)
	}
	classes := os[1]

	c := m.Clone()
	g := c.Graph()
	// pixels -> (x - mean) / std -> the model's input
	var inputs []*onnxpb.ValueInfoProto
	for _, vi := range g.GetInput() {
		if vi.GetName() != o.Input {
			inputs = append(inputs, vi)
		}
	}
	g.Input = append(inputs, tensorInfo(Pixels, onnxpb.TensorProto_FLOAT, bdim, int64(o.C), int64(o.H), int64(o.W)))
	if o.Objective != Logits && o.Objective != ERFCentre {
		g.Input = append(g.Input, tensorInfo(Label, onnxpb.TensorProto_INT64, bdim))
	}
	if o.Objective.Targeted() {
		g.Input = append(g.Input, tensorInfo(Target, onnxpb.TensorProto_INT64, bdim))
	}
	cdims := []int64{1, int64(o.C), 1, 1}
	onnx.AddInitializer(g, "lk_grad/mean", cdims, o.Mean)
	onnx.AddInitializer(g, "lk_grad/std", cdims, o.Std)
	ordered := Pixels
	if o.BGR { // the model's channel c is the pixels' C-1-c
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("lk_grad/bgr"), Dims: []int64{3},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{2, 1, 0}})
		onnx.AddNode(g, "Gather", "lk_grad/reverse", []string{Pixels, "lk_grad/bgr"}, []string{"lk_grad/ordered"}, onnx.IntAttr("axis", 1))
		ordered = "lk_grad/ordered"
		shapes[ordered], shapes3[ordered] = in, in3
	}
	onnx.AddNode(g, "Sub", "lk_grad/centre", []string{ordered, "lk_grad/mean"}, []string{"lk_grad/centred"})
	onnx.AddNode(g, "Div", "lk_grad/normalise", []string{"lk_grad/centred", "lk_grad/std"}, []string{o.Input})
	shapes[Pixels], shapes["lk_grad/centred"] = in, in
	shapes3[Pixels], shapes3["lk_grad/centred"] = in3, in3
	b, err := newBuilder(c)
	if err != nil {
		return nil, err
	}
	b.shapes, b.shapes3 = shapes, shapes3
	maps.Copy(b.consts, a.consts)

	z := o.Output
	if o.Objective == Logits {
		g.Output = []*onnxpb.ValueInfoProto{tensorInfo(z, onnxpb.TensorProto_FLOAT, bdim, classes)}
		raiseOpset(c.Proto, gradOpset)
		return c, nil
	}
	if need := map[Objective]int64{DLR: 3, DLRTargeted: 4, Margin: 2}[o.Objective]; classes < need {
		return nil, fmt.Errorf("model %s: %d classes; the objective needs at least %d", m.Path, classes, need)
	}
	// the objective per image and the gradient of their sum w.r.t. the logits
	var lab, onehot string
	if o.Objective != ERFCentre {
		lab = b.op("Unsqueeze", []string{Label, b.constI(1)})
		onehot = b.op("OneHot", []string{Label, b.constI(classes), b.constF([]int64{2}, 0, 1)}, onnx.IntAttr("axis", -1))
	}
	var picked, seed string
	switch o.Objective {
	case ERFCentre:
		h, w := os[2], os[3]
		centre := make([]float32, h*w)
		centre[(h/2)*w+w/2] = 1
		mask := b.constF([]int64{1, 1, h, w}, centre...)
		picked = b.op("ReduceSum", []string{b.op("Mul", []string{b.op("Relu", []string{z}), mask}), b.constI(1, 2, 3)}, onnx.IntAttr("keepdims", 0))
		seed = b.op("Mul", []string{b.op("Cast", []string{b.op("Greater", []string{z, b.scalar(0)})}, onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT))), mask})
	case CrossEntropy:
		picked = b.op("Neg", []string{b.op("GatherElements", []string{b.op("LogSoftmax", []string{z}, onnx.IntAttr("axis", 1)), lab}, onnx.IntAttr("axis", 1))})
		seed = b.op("Sub", []string{b.op("Softmax", []string{z}, onnx.IntAttr("axis", 1)), onehot})
	case TrueLogit:
		picked = b.op("GatherElements", []string{z, lab}, onnx.IntAttr("axis", 1))
		seed = onehot
	case DLR, DLRTargeted:
		picked, seed = b.dlr(z, lab, onehot, classes, o.Objective == DLRTargeted)
	case Margin:
		tgt := b.op("Unsqueeze", []string{Target, b.constI(1)})
		onehotT := b.op("OneHot", []string{Target, b.constI(classes), b.constF([]int64{2}, 0, 1)}, onnx.IntAttr("axis", -1))
		picked = b.op("Sub", []string{b.op("GatherElements", []string{z, tgt}, onnx.IntAttr("axis", 1)), b.op("GatherElements", []string{z, lab}, onnx.IntAttr("axis", 1))})
		seed = b.op("Sub", []string{onehotT, onehot})
	default:
		return nil, fmt.Errorf("unknown objective %d", o.Objective)
	}
	onnx.AddNode(g, "Reshape", "lk_grad/loss", []string{picked, b.constI(-1)}, []string{Loss})

	b.v, err = onnx.NewGraph(g)
	if err != nil {
		return nil, err
	}
	for _, w := range o.Wrt {
		if _, ok := b.v.Inits[w]; !ok {
			return nil, fmt.Errorf("model %s: no initializer %q to take a gradient with respect to", m.Path, w)
		}
	}
	order, on2, err := b.path(append([]string{Pixels}, o.Wrt...), z)
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	gs, err := b.backward(order, on2, z, seed, append([]string{Pixels}, o.Wrt...))
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", m.Path, err)
	}
	onnx.AddNode(g, "Identity", "lk_grad/out", []string{gs[0]}, []string{Grad})
	g.Output = []*onnxpb.ValueInfoProto{
		tensorInfo(z, onnxpb.TensorProto_FLOAT, append([]int64{bdim}, os[1:]...)...),
		tensorInfo(Loss, onnxpb.TensorProto_FLOAT, bdim),
		tensorInfo(Grad, onnxpb.TensorProto_FLOAT, bdim, int64(o.C), int64(o.H), int64(o.W)),
	}
	for k, w := range o.Wrt {
		onnx.AddNode(g, "Identity", "lk_grad/out_"+w, []string{gs[k+1]}, []string{WrtPrefix + w})
		g.Output = append(g.Output, tensorInfo(WrtPrefix+w, onnxpb.TensorProto_FLOAT, b.v.Inits[w].GetDims()...))
	}
	raiseOpset(c.Proto, gradOpset)
	return c, nil
}

// analysis is what the rules need to know of a model beyond its graph:
// the shapes of the values between input and output at two batches, and
// the shape computations that come out the same at both, as constants.
type analysis struct {
	shapes, shapes3 map[string][]int64
	consts          map[string]*onnxpb.TensorProto
}

// analyse returns m in the form the rules read (upgraded to opset 17,
// recurrent and other ops lowered) and its analysis, probing it with
// inputs of shape in and in3 (batch 2 and 3, or the same fixed batch).
// The gradient's tests use it as Build does.
func analyse(m *onnx.Model, input, output string, in, in3 []int64, threads int) (*onnx.Model, analysis, error) {
	var a analysis
	m, err := upgraded(m)
	if err != nil {
		return nil, a, err
	}
	m0 := m
	m, err = lowered(m, func(v string) ([]int64, []int64, error) {
		s2, err := arch.Probe(m0, input, in, []string{v}, threads)
		if err != nil {
			return nil, nil, err
		}
		s3, err := arch.Probe(m0, input, in3, []string{v}, threads)
		return s2[v], s3[v], err
	})
	if err != nil {
		return nil, a, err
	}
	b0, err := newBuilder(m)
	if err != nil {
		return nil, a, err
	}
	order0, on, err := b0.path([]string{input}, output)
	if err != nil {
		return nil, a, fmt.Errorf("model %s: %v", m.Path, err)
	}
	values, computed := b0.needed(order0, on, input)
	shapes, ints, err := arch.ProbeInts(m, input, in, values, threads)
	if err != nil {
		return nil, a, err
	}
	shapes[input] = in
	shapes3, ints3, err := arch.ProbeInts(m, input, in3, values, threads)
	if err != nil {
		return nil, a, err
	}
	shapes3[input] = in3
	a = analysis{shapes: shapes, shapes3: shapes3, consts: map[string]*onnxpb.TensorProto{}}
	// shape computations that come out the same at both batches are
	// constants of the graph (torchvision's attention slices qkv by
	// indices computed from its width; CenterCropPad's starts)
	for v := range computed {
		x, y := ints[v], ints3[v]
		if x != nil && slices.Equal(x, y) {
			a.consts[v] = &onnxpb.TensorProto{Name: proto.String(v), Dims: shapes[v],
				DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: x}
		}
	}
	return m, a, nil
}

// needed returns the values whose shapes the rules for the nodes in order
// need, besides the constants: those on the path (on), operands whose
// extent a rule needs on the path or not (Concat, MatMul), and shape
// computations whose values a rule needs as constants (computed).
func (b *builder) needed(order []int, on map[string]bool, input string) (values []string, computed map[string]bool) {
	want := map[string]bool{}
	for v := range on {
		want[v] = true
	}
	computed = map[string]bool{} // shape computations whose values rules need as constants
	for _, i := range order {
		n := b.g.GetNode()[i]
		switch op := n.GetOpType(); op {
		case "Concat", "MatMul": // operands whose extent a rule needs, on the path or not
			for _, v := range n.GetInput() {
				want[v] = true
			}
		case "Slice", "Pad", "ReduceSum", "ReduceMean", "Gather", "Split":
			for k, v := range n.GetInput() {
				if _, c := b.consts[v]; k > 0 && v != "" && !c && !on[v] {
					want[v], computed[v] = true, true
				}
			}
		}
	}
	for v := range want {
		if _, c := b.consts[v]; !c && v != input && v != "" {
			values = append(values, v)
		}
	}
	sort.Strings(values)
	return values, computed
}

// dlr returns the DLR loss per image ([N,1]) and its gradient with respect
// to the logits z, written out rather than derived: the sort that picks
// pi1, pi3 (and pi4) is piecewise constant, so the gradient reaches the
// logits only through the picked values, as autograd through a sort does.
func (b *builder) dlr(z, lab, onehot string, classes int64, targeted bool) (loss, seed string) {
	vals := b.opN("TopK", 2, []string{z, b.constI(4)}, onnx.IntAttr("axis", 1))
	v, idx := vals[0], vals[1]
	col := func(t string, k int64) string { // [N,1]
		return b.op("Slice", []string{t, b.constI(k), b.constI(k + 1), b.constI(1)})
	}
	hot := func(i string) string { // [N,1] indices -> [N,classes]
		return b.op("Reshape", []string{b.op("OneHot", []string{i, b.constI(classes), b.constF([]int64{2}, 0, 1)}, onnx.IntAttr("axis", -1)), b.constI(-1, classes)})
	}
	zy := b.op("GatherElements", []string{z, lab}, onnx.IntAttr("axis", 1))
	var zo, eo, den, dden string // the other logit, its one-hot, the denominator and its gradient
	if targeted {
		tgt := b.op("Unsqueeze", []string{Target, b.constI(1)})
		zo = b.op("GatherElements", []string{z, tgt}, onnx.IntAttr("axis", 1))
		eo = hot(tgt)
		half := b.scalar(0.5)
		den = b.op("Sub", []string{col(v, 0), b.op("Mul", []string{half, b.op("Add", []string{col(v, 2), col(v, 3)})})})
		dden = b.op("Sub", []string{hot(col(idx, 0)), b.op("Mul", []string{half, b.op("Add", []string{hot(col(idx, 2)), hot(col(idx, 3))})})})
	} else {
		// the largest other logit: pi2 when y is pi1, else pi1
		top := b.op("Cast", []string{b.op("Equal", []string{col(idx, 0), lab})}, onnx.IntAttr("to", int64(onnxpb.TensorProto_FLOAT)))
		rest := b.op("Sub", []string{b.scalar(1), top})
		zo = b.op("Add", []string{b.op("Mul", []string{col(v, 1), top}), b.op("Mul", []string{col(v, 0), rest})})
		eo = b.op("Add", []string{b.op("Mul", []string{hot(col(idx, 1)), top}), b.op("Mul", []string{hot(col(idx, 0)), rest})})
		den = b.op("Sub", []string{col(v, 0), col(v, 2)})
		dden = b.op("Sub", []string{hot(col(idx, 0)), hot(col(idx, 2))})
	}
	den = b.op("Add", []string{den, b.scalar(1e-12)})
	diff := b.op("Sub", []string{zy, zo}) // loss = -diff/den
	loss = b.op("Neg", []string{b.op("Div", []string{diff, den})})
	// d loss = -(e_y - e_o)/den + diff/den^2 d den
	seed = b.op("Add", []string{
		b.op("Neg", []string{b.op("Div", []string{b.op("Sub", []string{onehot, eo}), den})}),
		b.op("Mul", []string{b.op("Div", []string{diff, b.op("Mul", []string{den, den})}), dden})})
	return loss, seed
}

// raiseOpset lifts the default-domain opset to at least v (ScatterElements
// with reduction needs 16, LayerNormalization 17; the ops PyTorch exports
// at 13-16 mean the same at 17) and the IR version with it.
func raiseOpset(mp *onnxpb.ModelProto, v int64) {
	found := false
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			found = true
			if o.GetVersion() < v {
				o.Version = proto.Int64(v)
			}
		}
	}
	if !found {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(""), Version: proto.Int64(v)})
	}
	if mp.GetIrVersion() < 8 {
		mp.IrVersion = proto.Int64(8)
	}
}

// tensorInfo describes a graph input or output; -1 is a symbolic dim.
func tensorInfo(name string, t onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		if d < 0 {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}})
		} else {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(t)), Shape: shape}}}}
}
