package arch

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/stream"
)

// Model is an ONNX model opened for analysis: its sidecar, its image
// input and size, and its residual blocks.
type Model struct {
	*onnx.Model
	Config model.Config
	Input  string
	Shape  stream.Shape
	// Run is the model as lk runs it (Adapt): float32 throughout (a
	// float16 model's float32 version), float32 images in on Input,
	// float32 logits out on Output. Model is the file as loaded, for
	// its weights and for the copies lk-lesion writes.
	Run    *onnx.Model
	Output string
	Batch  Batch    // the batch the graph runs at
	Notes  []string // what a tool says once on stderr about the above
	Graph  *onnx.Graph
	Blocks []Block
}

// Open loads the model at path with its sidecar (size overrides the
// sidecar's input_size when set) and discovers its blocks.
func Open(path string, size stream.Shape, threads int) (*Model, error) {
	m, err := Load(path, size)
	if err != nil {
		return nil, err
	}
	if m.Graph, m.Blocks, err = Discover(m.Run, m.Input, m.ProbeShape(), threads); err != nil {
		return nil, err
	}
	return m, nil
}

// Load loads the model at path with its sidecar and finds its image input,
// size and batch, without looking for blocks.
func Load(path string, size stream.Shape) (*Model, error) {
	cfg, _, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	om, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	m := &Model{Model: om, Config: cfg}
	ins, _ := om.IO()
	switch {
	case cfg.Input != "":
		m.Input = cfg.Input
	case len(ins) == 1:
		m.Input = ins[0].Name
	default:
		var names []string
		for _, in := range ins {
			names = append(names, in.String())
		}
		return nil, fmt.Errorf("model %s has %d inputs (%s); name the image input with \"input\" in the sidecar %s",
			path, len(ins), strings.Join(names, ", "), model.SidecarPath(path))
	}
	var in *onnx.IO
	for i := range ins {
		if ins[i].Name == m.Input {
			in = &ins[i]
		}
	}
	if in == nil {
		return nil, fmt.Errorf("model %s has no input %q", path, m.Input)
	}
	if (in.DType != "float" && in.DType != "float16") || len(in.Dims) != 4 {
		return nil, fmt.Errorf("model %s: input %s: want a float32 (or float16) NCHW image input", path, in)
	}
	m.Shape = cfg.Shape()
	if size.Size() > 0 {
		m.Shape = size
	}
	if m.Shape, err = InputShape(path, *in, m.Shape); err != nil {
		return nil, err
	}
	m.Config.InputSize = []int{m.Shape.C, m.Shape.H, m.Shape.W}
	run := om
	if onnx.HasFloat16(om) {
		if run, err = onnx.Float32(om); err != nil {
			return nil, fmt.Errorf("model %s: %v", path, err)
		}
		m.Notes = append(m.Notes, fmt.Sprintf("model %s holds float16 values: lk analyses its float32 version (the same weights, without float16 rounding between ops)", path))
	}
	var h Head
	if m.Run, h, err = Adapt(run, cfg, m.Input); err != nil {
		return nil, err
	}
	m.Output, m.Notes = h.Logits, append(m.Notes, h.Notes...)
	if m.Batch, err = FindBatch(m.Run, m.Input, m.Output, []int64{int64(m.Shape.C), int64(m.Shape.H), int64(m.Shape.W)}, 0); err != nil {
		return nil, err
	}
	m.Notes = append(m.Notes, m.Batch.Note(path))
	return m, nil
}

// InputShape is the image size a model is run at: asked (the sidecar's
// input_size or the caller's; zero when neither) or else the graph's. An
// asked size the graph's fixed dims disagree with is an error, as is a
// symbolic size nothing gives.
func InputShape(path string, in onnx.IO, asked stream.Shape) (stream.Shape, error) {
	want := []int{asked.C, asked.H, asked.W}
	for i, d := range in.Dims[1:] {
		if d > 0 && want[i] > 0 && int(d) != want[i] {
			return stream.Shape{}, fmt.Errorf("model %s: the graph's input %s disagrees with the input size %s asked for (the sidecar's input_size or --input-size)", path, in, asked)
		}
	}
	if asked.Size() > 0 {
		return asked, nil
	}
	if in.Dims[1] <= 0 || in.Dims[2] <= 0 || in.Dims[3] <= 0 {
		return stream.Shape{}, &model.SymbolicSizeError{Model: path, Input: in.String()}
	}
	return stream.Shape{C: int(in.Dims[1]), H: int(in.Dims[2]), W: int(in.Dims[3])}, nil
}

// ProbeShape is the input shape of one run: one image, or the graph's
// fixed batch.
func (m *Model) ProbeShape() []int64 {
	return []int64{int64(max(1, m.Batch.N)), int64(m.Shape.C), int64(m.Shape.H), int64(m.Shape.W)}
}

// List prints the blocks, one per line, so that a user can check what a
// tool found before trusting its numbers.
func List(w io.Writer, name string, blocks []Block) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "# %s: %d residual blocks\n", name, len(blocks))
	fmt.Fprintln(tw, "block\tstage\tin_stage\tscope\tadd_node\tskip\tshape\tinput\toutput")
	for _, b := range blocks {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Index, b.Stage, b.InStage, orDash(b.Scope), b.Add, b.Skip,
			dims(b.Shape), b.Input, b.Output)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dims(d []int64) string {
	var s []string
	for _, v := range d[1:] {
		s = append(s, fmt.Sprint(v))
	}
	return strings.Join(s, "x")
}

// NoBlocks is the error of a tool that needs residual blocks in a graph
// that has none.
func NoBlocks(path string) error {
	return fmt.Errorf("model %s: no residual blocks found (an Add of a value and a longer weighted path from it, e.g. x + f(x)); lk-featvar and lk-lesion need them", path)
}
