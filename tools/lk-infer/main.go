// Command lk-infer runs an ONNX image classifier over an image stream with
// ONNX Runtime and appends a model column and a logits column, passing
// every other column through.
//
//	lk-data --gray3 --crop 32 t10k-images-idx3-ubyte.gz | lk-infer --model testdata/zoo/lk31.onnx | lk-metrics
//
// The model's mean, std and input size come from the sidecar NAME.json next
// to NAME.onnx; flags override them.
package main

import (
	"io"
	"os"
	"runtime"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-infer", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-infer", "usage: lk-infer --model m.onnx [flags] [images.arrow ...] > predictions.arrow\n", stderr)
	var o infer.Options
	var mean, std cli.Floats
	fs.StringVar(&o.Model, "model", "", "ONNX model `file` (required)")
	fs.StringVar(&o.Name, "name", "", "value of the model column (default: the sidecar's name, else the file name)")
	fs.Var(&mean, "mean", "per-channel mean, overriding the sidecar (e.g. 0.485,0.456,0.406)")
	fs.Var(&std, "std", "per-channel std, overriding the sidecar (e.g. 0.229,0.224,0.225)")
	size := cli.InputSize(fs)
	rt := cli.RuntimeFlags(fs, 64, "images per model run")
	out := cli.OutFlags(fs)
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.Model == "" {
		return cli.Usage("--model is required")
	}
	if err := rt.Check(); err != nil {
		return err
	}
	o.Batch = rt.Batch
	o.Runtime = ort.Options{Threads: rt.Threads, Provider: rt.Provider, Device: rt.Device}
	o.Size = size.Shape
	o.Step = cli.Step(fs, "batch", "threads", "device", "q")
	var err error
	if o.Output, err = out.Options(stdin, stdout, stderr, fs.Args()); err != nil {
		return err
	}
	if mean != nil {
		o.Mean = mean
	}
	if std != nil {
		o.Std = std
	}
	o.Progress = cli.Progress(*quiet, stderr)
	if rt.Provider == "cpu" && os.Getenv("GOMAXPROCS") == "" {
		// ONNX Runtime's threads use every core; Go code running beside
		// them in parallel (reading, writing, the garbage collector) makes
		// stragglers of them and costs about 10% (BENCH.md). One Go thread
		// is plenty for the stream work.
		runtime.GOMAXPROCS(1)
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return infer.Run(r, stdout, o) })
}
