// Command lk-featvar measures the variance of an ONNX model's feature maps
// layer by layer over an image stream (the paper's feature-map variance,
// after Park & Kim): one row per layer (the stem, every residual block,
// every transition) with its normalised depth, layer index / (layers - 1).
//
//	lk-data --gray3 --crop 32 --limit 1280 t10k-images-idx3-ubyte.gz |
//	    lk-featvar --model testdata/zoo/lk31.onnx --format text
//
// --variance park-kim (default) averages each image's per-channel spatial
// variance; --variance batch-mean averages the maps of each --group
// consecutive images first, as the LKRobust code does (its last group may
// be smaller; stderr says so). Memory does not grow with the stream.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/featvar"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

func main() { cli.Main("lk-featvar", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-featvar", "usage: lk-featvar --model m.onnx [flags] [images.arrow] > table.arrow\n", stderr)
	path := fs.String("model", "", "ONNX model `file` (required)")
	name := fs.String("name", "", "value of the model column (default: the sidecar's name, else the file name)")
	var o featvar.Options
	var mean, std cli.Floats
	fs.Var(&mean, "mean", "per-channel mean, overriding the sidecar")
	fs.Var(&std, "std", "per-channel std, overriding the sidecar")
	size := cli.InputSize(fs)
	def := fs.String("variance", "park-kim", "park-kim, or batch-mean (maps averaged over each --group images first)")
	group := fs.Int("group", 128, "images per group for --variance batch-mean")
	rt := cli.RuntimeFlags(fs, 64, "images per model run")
	list := fs.Bool("list", false, "print the residual blocks and the layers measured, then exit")
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	out := cli.OutFlags(fs)
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usage("--model is required")
	}
	switch *def {
	case "park-kim":
	case "batch-mean":
		if *group < 1 {
			return cli.Usage("--group %d: want a positive number", *group)
		}
		o.Group = *group
	default:
		return cli.Usage("--variance %q: want park-kim or batch-mean", *def)
	}
	if err := rt.Check(); err != nil {
		return err
	}
	o.Batch = rt.Batch
	o.Runtime = ort.Options{Threads: rt.Threads, Provider: rt.Provider, Device: rt.Device}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	shape := size.Shape
	if mean != nil {
		o.Mean = mean
	}
	if std != nil {
		o.Std = std
	}
	o.Progress = cli.Progress(*quiet, stderr)
	m, err := arch.Open(*path, shape, rt.Threads)
	if err != nil {
		return err
	}
	arch.Say(o.Progress, "lk-featvar", m.Notes...)
	if *name != "" {
		m.Config.Name = *name
	}
	if len(m.Blocks) == 0 {
		return arch.NoBlocks(*path)
	}
	layers := featvar.Layers(m)
	if *list {
		if err := arch.List(stdout, m.Config.Name, m.Blocks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# %d layers measured\n", len(layers))
		for i, l := range layers {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\n", i, l.Kind, l.Name, l.Value)
		}
		return nil
	}
	if out.Resume && out.Path == "" {
		return cli.Usage("--resume needs --out FILE (a pipe cannot be resumed)")
	}
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	if out.Path != "" && *format == "" {
		f = "arrow"
	}
	recorded := cli.Recorded(fs, "batch", "threads", "device", "q")
	if out.Path != "" {
		sha, err := model.FileSHA256(*path)
		if err != nil {
			return err
		}
		o.Checkpoint, o.Resume = out.Path+".ckpt", out.Resume
		o.Run = strings.Join(append(recorded, "sha256="+sha), " ")
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		stats, err := featvar.Run(r, m, layers, o)
		if err != nil {
			return err
		}
		t := table.NewFrame(
			table.Column{Name: stream.ColModel, Type: table.String}, table.Column{Name: "layer", Type: table.Int},
			table.Column{Name: "name", Type: table.String}, table.Column{Name: "kind", Type: table.String},
			table.Column{Name: "depth", Type: table.Float}, table.Column{Name: "variance", Type: table.Float},
			table.Column{Name: "images", Type: table.Int})
		for i, s := range stats {
			v, n, partial := s.Result()
			if partial > 0 && i == 0 {
				fmt.Fprintf(stderr, "lk-featvar: the last group has %d images, not %d\n", partial, o.Group)
			}
			t.Add(m.Config.Name, i, s.Name, s.Kind, float64(i)/float64(max(len(stats)-1, 1)), v, int(n))
		}
		md := r.Schema().Metadata()
		md, err = stream.AddStep(md, stream.Step{Tool: fs.Name(), Args: recorded, Model: *path})
		if err != nil {
			return err
		}
		if out.Path == "" {
			return t.Write(stdout, f, md)
		}
		err = stream.WriteFileAtomic(out.Path, append(fs.Args(), o.Checkpoint), stdin, func(w io.Writer) error { return t.Write(w, f, md) })
		if err != nil {
			return err
		}
		// the run is done: its checkpoint is no longer needed
		if err := os.Remove(o.Checkpoint); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	})
}
