package arch

import (
	"fmt"
	"io"
	"math"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// LogitsName is the output an adapted model writes lk's logits to.
const LogitsName = "lk_logits"

// Head is how lk reads a model's logits, and what it tells the user
// about that once.
type Head struct {
	Output string   // the graph output the logits come from
	Logits string   // the value holding lk's logits in the adapted model
	Notes  []string // for stderr
}

// Say prints notes once, as tool, on w (nil: quiet).
func Say(w io.Writer, tool string, notes ...string) {
	if w == nil {
		return
	}
	for _, n := range notes {
		if n != "" {
			fmt.Fprintf(w, "%s: %s\n", tool, n)
		}
	}
}

// Adapt returns m in the form every tool reads, one rule for all of them:
// float32 images in on input, float32 logits [batch, classes] out. The
// logits are the output the sidecar names ("output"), else the model's
// only one (several are an error that lists them, never a guess); a
// final Softmax is read through (its input is the logits, so that the
// probabilities lk computes are the model's and an attack's
// cross-entropy is not taken of probabilities); the sidecar's
// class_offset drops leading classes (a 1001-class head's background);
// float16 images and logits are cast at the boundary. m is returned as
// it is when none of this applies.
func Adapt(m *onnx.Model, cfg model.Config, input string) (*onnx.Model, Head, error) {
	ins, outs := m.IO()
	var h Head
	out, err := pickOutput(m.Path, outs, cfg)
	if err != nil {
		return nil, h, err
	}
	h.Output, h.Logits = out.Name, out.Name
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range m.Graph().GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	value := out.Name
	for n := producer[value]; n != nil && n.GetOpType() == "Identity" && n.GetDomain() == ""; n = producer[value] {
		value = n.GetInput()[0]
	}
	softmax := false
	if n := producer[value]; n != nil && n.GetOpType() == "Softmax" && n.GetDomain() == "" && softmaxOverClasses(n, m.Opset(), len(out.Dims)) {
		value, softmax = n.GetInput()[0], true
		h.Notes = append(h.Notes, fmt.Sprintf("model %s: output %s is a Softmax's probabilities; lk reads its input %s, the pre-softmax values, as the logits (the probabilities it computes from them are the model's)", m.Path, out.Name, value))
	}
	classes := int64(-1)
	if len(out.Dims) == 2 {
		classes = out.Dims[1]
	}
	if cfg.ClassOffset > 0 {
		if classes > 0 && int64(cfg.ClassOffset) >= classes {
			return nil, h, fmt.Errorf("model %s: class_offset %d in the sidecar, but output %s has %d classes", m.Path, cfg.ClassOffset, out, classes)
		}
		h.Notes = append(h.Notes, fmt.Sprintf("model %s: class_offset %d: the first %d output classes are dropped, so output class k+%d is class k", m.Path, cfg.ClassOffset, cfg.ClassOffset, cfg.ClassOffset))
	} else if classes == 1001 && cfg.NumClasses != 1001 {
		return nil, h, fmt.Errorf("model %s: output %s has 1001 classes: if class 0 is a background class (TF-slim, some Keras exports), give \"class_offset\": 1 in the sidecar %s so that the rest are ImageNet-1k's 1000; to keep all 1001, give \"num_classes\": 1001",
			m.Path, out, model.SidecarPath(m.Path))
	}
	var in *onnx.IO
	for i := range ins {
		if ins[i].Name == input {
			in = &ins[i]
		}
	}
	halfIn := in != nil && in.DType == "float16"
	halfOut := out.DType == "float16"
	if !softmax && cfg.ClassOffset == 0 && !halfIn && !halfOut {
		return m, h, nil
	}
	if halfIn {
		h.Notes = append(h.Notes, fmt.Sprintf("model %s takes float16 images: lk casts its float32 ones at the input", m.Path))
	}
	c := m.Clone()
	g := c.Graph()
	f32, f16 := int64(onnxpb.TensorProto_FLOAT), int64(onnxpb.TensorProto_FLOAT16)
	if halfIn {
		cast := input + "_lk_float16"
		onnx.Rename(g, input, cast) // its readers; the Cast below reads the input
		for _, vi := range g.GetInput() {
			if vi.GetName() == input {
				vi.GetType().GetTensorType().ElemType = proto.Int32(int32(f32))
			}
		}
		g.Node = append([]*onnxpb.NodeProto{{OpType: proto.String("Cast"), Name: proto.String(cast), Input: []string{input},
			Output: []string{cast}, Attribute: []*onnxpb.AttributeProto{onnx.IntAttr("to", f16)}}}, g.Node...)
	}
	v := value
	if halfOut {
		onnx.AddNode(g, "Cast", "lk_logits/float32", []string{v}, []string{"lk_logits/float32"}, onnx.IntAttr("to", f32))
		v = "lk_logits/float32"
	}
	if cfg.ClassOffset > 0 {
		for _, t := range []struct {
			name string
			val  int64
		}{{"lk_logits/start", int64(cfg.ClassOffset)}, {"lk_logits/end", math.MaxInt64}, {"lk_logits/axis", 1}} {
			g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(t.name), Dims: []int64{1},
				DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{t.val}})
		}
		onnx.AddNode(g, "Slice", "lk_logits/classes", []string{v, "lk_logits/start", "lk_logits/end", "lk_logits/axis"}, []string{"lk_logits/classes"})
		v = "lk_logits/classes"
	}
	onnx.AddNode(g, "Identity", LogitsName, []string{v}, []string{LogitsName})
	dims := []int64{-1, -1}
	if len(out.Dims) == 2 {
		dims[0] = out.Dims[0]
		if classes > 0 {
			dims[1] = classes - int64(cfg.ClassOffset)
		}
	}
	g.Output = []*onnxpb.ValueInfoProto{floatInfo(LogitsName, dims)}
	if err := onnx.Prune(g); err != nil {
		return nil, h, fmt.Errorf("model %s: %v", m.Path, err)
	}
	h.Logits = LogitsName
	return c, h, nil
}

// pickOutput is the output the sidecar names, else the only one.
func pickOutput(path string, outs []onnx.IO, cfg model.Config) (onnx.IO, error) {
	var names []string
	for _, o := range outs {
		if o.Name == cfg.Output {
			return o, nil
		}
		names = append(names, o.String())
	}
	switch {
	case cfg.Output != "":
		return onnx.IO{}, fmt.Errorf("model %s has no output %q (it has %s)", path, cfg.Output, strings.Join(names, ", "))
	case len(outs) == 1:
		return outs[0], nil
	case len(outs) == 0:
		return onnx.IO{}, fmt.Errorf("model %s has no outputs", path)
	}
	return onnx.IO{}, fmt.Errorf("model %s has %d outputs (%s); name the logits with \"output\" in the sidecar %s",
		path, len(outs), strings.Join(names, ", "), model.SidecarPath(path))
}

// softmaxOverClasses reports whether a Softmax node normalises the class
// axis of a [batch, classes] output.
func softmaxOverClasses(n *onnxpb.NodeProto, opset int64, rank int) bool {
	if rank != 2 {
		return false
	}
	axis := int64(-1)
	if opset < 13 {
		axis = 1
	}
	if a := onnx.Attr(n, "axis"); a != nil {
		axis = a.GetI()
	}
	return axis == 1 || axis == -1
}

func floatInfo(name string, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d < 0 {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "lk_" + name + "_" + fmt.Sprint(len(shape.Dim))}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
}
