// Command lk-summary describes ONNX models as the paper's Fig. 1 and
// tables do: parameters, multiply-accumulates per image, depthwise kernel
// sizes, residual blocks and stages; one row per model.
//
//	lk-summary --model testdata/zoo/lk31.onnx --format text
//	lk-summary --model replknet31b.onnx,convnext_b.onnx,vit_b_16.onnx > models.arrow
//	lk-summary --format text testdata/zoo/*.onnx
//
// Parameters are the float initializers' elements as exported (a BatchNorm
// folded into its conv counts as the conv's bias); MACs count Conv,
// ConvTranspose, MatMul and Gemm, the convention behind torchvision's and
// timm's "GFLOPs".
package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

func main() { cli.Main("lk-summary", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-summary", "usage: lk-summary [flags] [--model m.onnx,...] [model.onnx ...] > table.arrow\n\nThe models are --model's and the positional arguments (so that shell globs work), in that order.\n\n", stderr)
	var models cli.Strings
	fs.Var(&models, "model", "ONNX model `files`, a list (as every tool takes --model; files named after the flags are added)")
	size := cli.InputSize(fs)
	list := fs.Bool("list", false, "also print each model's residual blocks on stderr")
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	paths := append(append([]string{}, models...), fs.Args()...)
	if len(paths) == 0 {
		return cli.Usage("name at least one model file (--model m.onnx)")
	}
	if err := cli.Distinct(paths); err != nil {
		return cli.Usage("models: %v", err)
	}
	shape := size.Shape
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	t := table.NewFrame(
		table.Column{Name: stream.ColModel, Type: table.String}, table.Column{Name: "file", Type: table.String},
		table.Column{Name: "input", Type: table.String}, table.Column{Name: "parameters", Type: table.Int},
		table.Column{Name: "macs", Type: table.Int}, table.Column{Name: "depthwise_kernels", Type: table.String},
		table.Column{Name: "max_kernel", Type: table.Int}, table.Column{Name: "blocks", Type: table.Int},
		table.Column{Name: "stages", Type: table.Int})
	for _, path := range paths {
		m, err := arch.Open(path, shape, 0)
		if err != nil {
			return err
		}
		s, err := arch.Summarise(m, 0)
		if err != nil {
			return fmt.Errorf("model %s: %v", path, err)
		}
		if *list {
			if err := arch.List(stderr, m.Config.Name, m.Blocks); err != nil {
				return err
			}
		}
		var ks []string
		maxK := 0
		for _, k := range s.Depthwise {
			ks = append(ks, fmt.Sprint(k))
			maxK = max(maxK, k)
		}
		t.Add(m.Config.Name, path, m.Shape.String(), int(s.Parameters), int(s.MACs), strings.Join(ks, ","), maxK, s.Blocks, s.Stages)
	}
	md, err := stream.AddStep(arrow.Metadata{}, cli.Step(fs))
	if err != nil {
		return err
	}
	return t.Write(stdout, f, md)
}
