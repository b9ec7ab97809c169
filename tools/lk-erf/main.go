// Command lk-erf measures the effective receptive field of an ONNX model,
// as RepLKNet's erf scripts do: per image, the gradient with respect to
// the normalised input of the summed ReLU of the centre of a feature map
// (the last residual block's output unless --node), its positive part
// summed over channels, averaged over the first --images images; then
// log10(score + 1) scaled to a maximum of 1.
//
//	lk-data ... | lk-erf --model m.onnx | lk-plot --kind heatmap --x x --y y --z erf -o erf.png
//	lk-data ... | lk-erf --model m.onnx --areas --format text
//
// The output is the map (columns model, node, y, x, erf, score, images) or,
// with --areas, the high-contribution area ratios: per threshold (20, 30,
// 50 and 99% of the total) the side of the smallest centred square
// holding more, and its share of the image. RepLKNet resizes images to
// 1024x1024 so that the field is not cut by the border: run a model
// exported with dynamic height and width at --input-size 3,1024,1024 on
// images made that size (lk-data --resize 1024 --crop 1024).
package main

import (
	"fmt"
	"io"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/erf"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

func main() { cli.Main("lk-erf", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-erf", "usage: lk-erf --model m.onnx [--node name] [--images 50] [--areas] [flags] [images.arrow] > erf.arrow\n", stderr)
	path := fs.String("model", "", "ONNX model `file` (required)")
	name := fs.String("name", "", "value of the model column (default: the sidecar's name, else the file name)")
	var o erf.Options
	fs.StringVar(&o.Node, "node", "", "the feature map whose centre is followed (default: the last residual block's output; lk-featvar --list names them)")
	fs.IntVar(&o.Images, "images", erf.DefaultImages, "images averaged: the first of the stream")
	areas := fs.Bool("areas", false, "write the high-contribution area ratios (threshold, side, area) instead of the map")
	var mean, std cli.Floats
	fs.Var(&mean, "mean", "per-channel mean, overriding the sidecar")
	fs.Var(&std, "std", "per-channel std, overriding the sidecar")
	size := cli.InputSize(fs)
	rt := cli.RuntimeFlags(fs, 16, "images per gradient run (the output does not depend on it)")
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usage("--model is required")
	}
	if o.Images < 1 {
		return cli.Usage("--images %d: want at least 1", o.Images)
	}
	if err := rt.Check(); err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	o.Batch = rt.Batch
	o.Runtime = ort.Options{Threads: rt.Threads, Provider: rt.Provider, Device: rt.Device}
	o.Progress = cli.Progress(*quiet, stderr)
	if mean != nil {
		o.Mean = mean
	}
	if std != nil {
		o.Std = std
	}
	m, err := arch.Open(*path, size.Shape, rt.Threads)
	if err != nil {
		return err
	}
	arch.Say(o.Progress, "lk-erf", m.Notes...)
	if *name != "" {
		m.Config.Name = *name
	}
	node := o.Node
	if node == "" {
		if node, err = erf.Node(m); err != nil {
			return err
		}
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		res, err := erf.Run(r, m, node, o)
		if err != nil {
			return err
		}
		if res.Images < o.Images {
			fmt.Fprintf(stderr, "lk-erf: %s: %d images, not --images %d\n", r.Name(), res.Images, o.Images)
		}
		var t *table.Frame
		if *areas {
			t = table.NewFrame(table.Column{Name: stream.ColModel, Type: table.String}, table.Column{Name: "node", Type: table.String},
				table.Column{Name: "threshold", Type: table.Float}, table.Column{Name: "side", Type: table.Int},
				table.Column{Name: "area", Type: table.Float}, table.Column{Name: "images", Type: table.Int})
			for _, a := range res.Areas(erf.Thresholds) {
				if !a.Found {
					fmt.Fprintf(stderr, "lk-erf: threshold %g: no centred square smaller than the %dx%d image holds more (left out)\n", a.Threshold, res.H, res.W)
					continue
				}
				t.Add(m.Config.Name, node, a.Threshold, a.Side, a.Ratio, res.Images)
			}
		} else {
			t = table.NewFrame(table.Column{Name: stream.ColModel, Type: table.String}, table.Column{Name: "node", Type: table.String},
				table.Column{Name: "y", Type: table.Int}, table.Column{Name: "x", Type: table.Int},
				table.Column{Name: "erf", Type: table.Float}, table.Column{Name: "score", Type: table.Float},
				table.Column{Name: "images", Type: table.Int})
			for y := 0; y < res.H; y++ {
				for x := 0; x < res.W; x++ {
					t.Add(m.Config.Name, node, y, x, res.Scaled[y*res.W+x], res.Score[y*res.W+x], res.Images)
				}
			}
		}
		md, err := stream.AddStep(stream.TableMeta(r.Schema().Metadata()), stream.Step{Tool: fs.Name(), Args: cli.Recorded(fs, "batch", "threads", "device", "q"), Model: *path})
		if err != nil {
			return err
		}
		return t.Write(stdout, f, md)
	})
}
