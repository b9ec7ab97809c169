// Command lk-attn-dist measures where the depthwise kernels of an ONNX
// model put their weight: the paper's kernel "attention distance" (Fig. 9).
// For every depthwise Conv with a kernel of at least --min-kernel it scores
// each channel by the mean distance of its weights from the kernel centre
// (0 at the centre, 1 at a corner), sorts the channels and writes one row
// per channel: model, layer, stage, block, kernel, channels, rank,
// position (rank / (channels-1)), score.
//
//	lk-attn-dist --model testdata/zoo/lk31.onnx --format text
//	lk-attn-dist --model replknet31b.onnx --merge --normalise code > attn.arrow
//
// --normalise paper (default) divides by the kernel's total |weight|, as
// the paper's text says; --normalise code does not, as the reference code
// does, so its scores grow with the weights' scale (and change when an
// exporter folds a BatchNorm into the conv). --merge adds RepLKNet's
// parallel small kernel (each branch scaled by its BatchNorm) before
// scoring. Stage and block number the residual blocks as --list shows
// them; 0 means the conv lies outside every block (a transition).
package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/kernel"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

func main() { cli.Main("lk-attn-dist", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-attn-dist", "usage: lk-attn-dist --model m.onnx [flags] > table.arrow\n", stderr)
	path := fs.String("model", "", "ONNX model `file` (required)")
	name := fs.String("name", "", "value of the model column (default: the sidecar's name, else the file name)")
	minKernel := fs.Int("min-kernel", 3, "smallest kernel `size` to score")
	norm := fs.String("normalise", "paper", "paper: sum d|w| / sum |w|; code: sum d|w| (the reference code)")
	merge := fs.Bool("merge", false, "add the parallel small kernel (BatchNorm-scaled) to the large one before scoring")
	list := fs.Bool("list", false, "print the residual blocks and depthwise layers found, then exit")
	size := cli.InputSize(fs)
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usage("--model is required")
	}
	if fs.NArg() > 0 {
		return cli.Usage("lk-attn-dist reads no stream (got %q)", fs.Args())
	}
	if *norm != "paper" && *norm != "code" {
		return cli.Usage("--normalise %q: want paper or code", *norm)
	}
	if *minKernel < 1 {
		return cli.Usage("--min-kernel %d: want at least 1", *minKernel)
	}
	shape := size.Shape
	m, err := arch.Open(*path, shape, 0)
	if err != nil {
		return err
	}
	if *name != "" {
		m.Config.Name = *name
	}
	layers, err := kernel.Depthwise(m.Model, m.Graph, *minKernel, *merge)
	if err != nil {
		return fmt.Errorf("model %s: %v", *path, err)
	}
	inBlock := map[int]arch.Block{}
	for _, b := range m.Blocks {
		for _, i := range b.Nodes {
			inBlock[i] = b
		}
	}
	if *list {
		if err := arch.List(stdout, m.Config.Name, m.Blocks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# %d depthwise layers with kernel >= %d\n", len(layers), *minKernel)
		for _, l := range layers {
			b := inBlock[l.Node]
			fmt.Fprintf(stdout, "%s\tkernel %d\tchannels %d\tblock %d\tstage %d\tsmall %s\n", l.Name, l.Kernel, l.Channels, b.Index, b.Stage, l.Small)
		}
		return nil
	}
	if len(layers) == 0 {
		return fmt.Errorf("model %s: no depthwise Conv with a kernel of at least %d (a depthwise Conv has group = channels and weights C x 1 x K x K); try --min-kernel 3 or --list", *path, *minKernel)
	}
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	t := table.NewFrame(
		table.Column{Name: stream.ColModel, Type: table.String}, table.Column{Name: "layer", Type: table.String},
		table.Column{Name: "stage", Type: table.Int}, table.Column{Name: "block", Type: table.Int},
		table.Column{Name: "kernel", Type: table.Int}, table.Column{Name: "channels", Type: table.Int},
		table.Column{Name: "rank", Type: table.Int}, table.Column{Name: "position", Type: table.Float},
		table.Column{Name: "score", Type: table.Float})
	for _, l := range layers {
		d := kernel.Distances(l.Kernel)
		kk := l.Kernel * l.Kernel
		scores := make([]float64, l.Channels)
		for c := range scores {
			scores[c] = kernel.Score(l.Weights[c*kk:(c+1)*kk], d, *norm == "paper")
		}
		sort.Float64s(scores)
		b := inBlock[l.Node]
		for r, s := range scores {
			t.Add(m.Config.Name, l.Name, b.Stage, b.InStage, l.Kernel, l.Channels, r, float64(r)/float64(max(l.Channels-1, 1)), s)
		}
	}
	md, err := stream.AddStep(arrow.Metadata{}, cli.Step(fs).With(*path, "", nil))
	if err != nil {
		return err
	}
	return t.Write(stdout, f, md)
}
