package grad

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// A recurrent node to lower: X is [seq 3, batch 2, input 4], hidden 4.
type recurrentCase struct {
	name, op string
	dirs     int
	attrs    []*onnxpb.AttributeProto
	b, h0    bool    // bias, initial_h
	c0, p    bool    // LSTM: initial_c, peepholes
	lens     []int32 // sequence_lens, when given
}

func fattrs(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func sattrs(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

var recurrentCases = []recurrentCase{
	{name: "RNN forward", op: "RNN", dirs: 1},
	{name: "RNN bidirectional Relu/Tanh clip", op: "RNN", dirs: 2, b: true, h0: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "bidirectional"), sattrs("activations", "Relu", "Tanh"), fattr("clip", 0.9)}},
	{name: "RNN bidirectional ScaledTanh/HardSigmoid alphas and betas", op: "RNN", dirs: 2, b: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "bidirectional"), sattrs("activations", "ScaledTanh", "HardSigmoid"),
			fattrs("activation_alpha", 0.8, 0.3), fattrs("activation_beta", 1.2, 0.6)}},
	{name: "RNN reverse Affine", op: "RNN", dirs: 1, h0: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "reverse"), sattrs("activations", "Affine"), fattrs("activation_alpha", 0.7), fattrs("activation_beta", 0.1)}},
	{name: "RNN sequence_lens", op: "RNN", dirs: 1, b: true, lens: []int32{2, 3}},
	{name: "GRU forward", op: "GRU", dirs: 1, b: true, h0: true},
	{name: "GRU reverse linear_before_reset clip", op: "GRU", dirs: 1, b: true, h0: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "reverse"), i1("linear_before_reset", 1), fattr("clip", 1.5)}},
	{name: "GRU bidirectional", op: "GRU", dirs: 2, attrs: []*onnxpb.AttributeProto{sattr("direction", "bidirectional")}},
	{name: "GRU HardSigmoid/Softsign", op: "GRU", dirs: 1, b: true,
		attrs: []*onnxpb.AttributeProto{sattrs("activations", "HardSigmoid", "Softsign"), fattrs("activation_alpha", 0.3), fattrs("activation_beta", 0.4)}},
	{name: "GRU sequence_lens linear_before_reset", op: "GRU", dirs: 1, b: true, h0: true, lens: []int32{1, 3},
		attrs: []*onnxpb.AttributeProto{i1("linear_before_reset", 1)}},
	{name: "LSTM bidirectional peepholes", op: "LSTM", dirs: 2, b: true, h0: true, c0: true, p: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "bidirectional")}},
	{name: "LSTM input_forget clip", op: "LSTM", dirs: 1, b: true, p: true,
		attrs: []*onnxpb.AttributeProto{i1("input_forget", 1), fattr("clip", 0.8)}},
	{name: "LSTM reverse HardSigmoid/Elu/Softplus", op: "LSTM", dirs: 1, b: true, c0: true,
		attrs: []*onnxpb.AttributeProto{sattr("direction", "reverse"), sattrs("activations", "HardSigmoid", "Elu", "Softplus"),
			fattrs("activation_alpha", 0.25, 0.7), fattrs("activation_beta", 0.45)}},
	{name: "LSTM sequence_lens", op: "LSTM", dirs: 1, b: true, h0: true, c0: true, lens: []int32{3, 2}},
}

const rSeq, rBatch, rIn, rHidden = 3, 2, 4, 4

// model writes the case's model: weights random but seeded, all outputs.
func (c recurrentCase) model(t *testing.T) (*onnx.Model, string, []string) {
	gates := map[string]int64{"RNN": 1, "GRU": 3, "LSTM": 4}[c.op]
	d, h := int64(c.dirs), int64(rHidden)
	rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	rnd := func(n int64, scale float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = scale * (2*rng.Float32() - 1)
		}
		return v
	}
	g := &onnxpb.GraphProto{Name: proto.String(c.name)}
	g.Input = []*onnxpb.ValueInfoProto{tensorInfo("X", onnxpb.TensorProto_FLOAT, rSeq, rBatch, rIn)}
	b := gb{g}
	in := []string{"X", b.f("W", []int64{d, gates * h, rIn}, rnd(d*gates*h*rIn, 0.6)...), b.f("R", []int64{d, gates * h, h}, rnd(d*gates*h*h, 0.6)...)}
	opt := func(ok bool, name string, dims []int64, scale float32) {
		if !ok {
			in = append(in, "")
			return
		}
		n := int64(1)
		for _, x := range dims {
			n *= x
		}
		in = append(in, b.f(name, dims, rnd(n, scale)...))
	}
	opt(c.b, "B", []int64{d, 2 * gates * h}, 0.5)
	if c.lens != nil {
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String("lens"), Dims: []int64{int64(len(c.lens))},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT32)), Int32Data: c.lens})
		in = append(in, "lens")
	} else {
		in = append(in, "")
	}
	opt(c.h0, "h0", []int64{d, rBatch, h}, 0.8)
	if c.op == "LSTM" {
		opt(c.c0, "c0", []int64{d, rBatch, h}, 0.8)
		opt(c.p, "P", []int64{d, 3 * h}, 0.5)
	}
	in = trimInputs(in)
	outs := []string{"Y", "Y_h"}
	if c.op == "LSTM" {
		outs = append(outs, "Y_c")
	}
	attrs := append([]*onnxpb.AttributeProto{i1("hidden_size", h)}, c.attrs...)
	onnx.AddNode(g, c.op, "rec", in, outs, attrs...)
	for _, o := range outs {
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(o)})
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}
	path := filepath.Join(t.TempDir(), "rec.onnx")
	if err := (&onnx.Model{Proto: mp}).Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, path, outs
}

func recurrentInput() []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, rSeq*rBatch*rIn)
	for i := range x {
		x[i] = 2*rng.Float32() - 1
	}
	return x
}

func runAll(t *testing.T, path string, outs []string, x []float32) []ort.Tensor {
	t.Helper()
	s, err := ort.NewSession(path, "X", outs, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o, err := s.RunAlloc(x, []int64{rSeq, rBatch, rIn})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func staticShape(m *onnx.Model) shapeAt {
	return func(v string) ([]int64, []int64, error) {
		if v != "X" {
			return nil, nil, fmt.Errorf("unexpected probe of %s", v)
		}
		s := []int64{rSeq, rBatch, rIn}
		return s, s, nil
	}
}

// The unrolled RNN, GRU and LSTM compute what ONNX Runtime's own kernels
// compute, for every output, direction, activation (with the alphas and
// betas consumed by the functions that take them), clip, bias, initial
// state, peephole, linear_before_reset, input_forget and sequence_lens.
func TestLoweredRecurrentMatchesORT(t *testing.T) {
	testutil.ORT(t)
	x := recurrentInput()
	for _, c := range recurrentCases {
		t.Run(c.name, func(t *testing.T) {
			m, path, outs := c.model(t)
			low, err := lowered(m, staticShape(m))
			if err != nil {
				t.Fatal(err)
			}
			lowPath := filepath.Join(t.TempDir(), "low.onnx")
			if err := low.Save(lowPath); err != nil {
				t.Fatal(err)
			}
			want, got := runAll(t, path, outs, x), runAll(t, lowPath, outs, x)
			for k, o := range outs {
				if fmt.Sprint(want[k].Shape) != fmt.Sprint(got[k].Shape) {
					t.Fatalf("%s: shape %v, ONNX Runtime %v", o, got[k].Shape, want[k].Shape)
				}
				for i := range want[k].Data {
					if d := math.Abs(float64(want[k].Data[i] - got[k].Data[i])); d > 1e-5 {
						t.Fatalf("%s[%d] = %g, ONNX Runtime %g", o, i, got[k].Data[i], want[k].Data[i])
					}
				}
			}
		})
	}
}

// Gradients through the unrolled recurrences agree with finite
// differences of ONNX Runtime's kernels, for the sequence and the last
// state.
func TestRecurrentGradients(t *testing.T) {
	testutil.ORT(t)
	for _, c := range recurrentCases {
		t.Run(c.name, func(t *testing.T) {
			m, path, outs := c.model(t)
			for _, y := range outs[:2] {
				in := []int64{rSeq, rBatch, rIn}
				if err := checkGrad(t, m, path, "X", y, in, in, recurrentInput()); err != nil {
					t.Fatalf("%s: %v", y, err)
				}
			}
		})
	}
}

// What lk cannot unroll is an error naming the reason, not a wrong graph.
func TestLoweredRecurrentRefusals(t *testing.T) {
	c := recurrentCase{name: "reverse with lens", op: "RNN", dirs: 1, lens: []int32{2, 3},
		attrs: []*onnxpb.AttributeProto{sattr("direction", "reverse")}}
	m, _, _ := c.model(t)
	if _, err := lowered(m, staticShape(m)); err == nil || !strings.Contains(err.Error(), "sequence_lens with the reverse direction") {
		t.Errorf("reverse with short sequences: %v", err)
	}
	growing := func(v string) ([]int64, []int64, error) { return []int64{2, 2, 4}, []int64{3, 3, 4}, nil }
	c = recurrentCase{name: "seq is batch", op: "GRU", dirs: 1}
	m, _, _ = c.model(t)
	if _, err := lowered(m, growing); err == nil || !strings.Contains(err.Error(), "does not depend on the batch") {
		t.Errorf("sequence length that follows the batch: %v", err)
	}
	c = recurrentCase{name: "bad activation", op: "RNN", dirs: 1, attrs: []*onnxpb.AttributeProto{sattrs("activations", "Gelu")}}
	m, _, _ = c.model(t)
	if _, err := lowered(m, staticShape(m)); err == nil || !strings.Contains(err.Error(), `activation "Gelu"`) {
		t.Errorf("unknown activation: %v", err)
	}
}

// Build lowers a recurrence inside an image model: rows of the image as a
// sequence (seq 4, batch N) through a bidirectional LSTM to the logits;
// the gradient of the true logit matches finite differences of the model
// as exported, run by ONNX Runtime, at batch 3.
func TestBuildThroughLSTM(t *testing.T) {
	testutil.ORT(t)
	const h = 3
	rng := rand.New(rand.NewPCG(11, 12))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 2*rng.Float32() - 1
		}
		return v
	}
	g := &onnxpb.GraphProto{Name: proto.String("rows")}
	g.Input = []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, -1, 1, 4, 4)}
	g.Output = []*onnxpb.ValueInfoProto{tensorInfo("y", onnxpb.TensorProto_FLOAT, -1, 5)}
	b := gb{g}
	b.n("Reshape", []string{"x", b.i("rows", -1, 4, 4)}, "r")
	b.n("Transpose", []string{"r"}, "seq", is("perm", 1, 0, 2))
	onnx.AddNode(g, "LSTM", "lstm", []string{"seq", b.f("W", []int64{2, 4 * h, 4}, rnd(2*4*h*4)...), b.f("R", []int64{2, 4 * h, h}, rnd(2*4*h*h)...),
		b.f("B", []int64{2, 8 * h}, rnd(2*8*h)...)}, []string{"", "hn"}, i1("hidden_size", h), sattr("direction", "bidirectional"))
	b.n("Transpose", []string{"hn"}, "hb", is("perm", 1, 0, 2))
	b.n("Reshape", []string{"hb", b.i("flat", -1, 2*h)}, "feat")
	b.n("MatMul", []string{"feat", b.f("fc", []int64{2 * h, 5}, rnd(2*h*5)...)}, "y")
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.onnx")
	if err := (&onnx.Model{Proto: mp}).Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := Build(m, Options{Input: "x", Output: "y", C: 1, H: 4, W: 4, Mean: []float32{0}, Std: []float32{1}, Objective: TrueLogit, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	gpath := filepath.Join(dir, "grad.onnx")
	if err := gm.Save(gpath); err != nil {
		t.Fatal(err)
	}
	const n = 3
	px := make([]float32, n*16)
	for i := range px {
		px[i] = rng.Float32()
	}
	labels := []int64{0, 3, 4}
	gs, err := ort.NewMultiSession(gpath, []string{Pixels, Label}, []string{"y", Loss, Grad}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	s := Session{S: gs, C: 1, H: 4, W: 4, Classes: 5, Objective: TrueLogit}
	gx := make([]float32, len(px))
	if err := s.Grad(gx, px, labels, n); err != nil {
		t.Fatal(err)
	}
	fs, err := ort.NewSession(path, "x", []string{"y"}, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	objective := func() float64 {
		o, err := fs.RunAlloc(px, []int64{n, 1, 4, 4})
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for i, l := range labels {
			sum += float64(o[0].Data[i*5+int(l)])
		}
		return sum
	}
	const eps = 1e-2
	for i := range px {
		save := px[i]
		px[i] = save + eps
		fp := objective()
		px[i] = save - eps
		fm := objective()
		px[i] = save
		fd := (fp - fm) / (2 * eps)
		if math.Abs(fd-float64(gx[i])) > 2e-3+5e-3*math.Abs(fd) {
			t.Fatalf("pixel %d: gradient %g, finite difference %g", i, gx[i], fd)
		}
	}
}
