// Command lk-attack perturbs an image stream adversarially against an ONNX
// model, in [0,1] pixel units: FGSM, PGD (l-infinity) and TAIG-R. The
// gradients come from ONNX Runtime itself, running a copy of the model
// extended with its own backward pass (lib/grad), so any exported model
// can be attacked. The output is an image stream, so lk-infer and
// lk-metrics score it on the attacked model or on any other.
//
//	lk-data ... | lk-attack --model m.onnx --attack fgsm --eps 0.002,0.004 | lk-infer --model m.onnx | lk-metrics --by eps
//	lk-data ... | lk-attack --model m.onnx --attack pgd --eps 0.006 --steps 1,2,5,10 | ...
//	lk-data ... | lk-attack --model surrogate.onnx --attack taig | lk-infer --model target.onnx | lk-metrics --by attack
//
// Each input record comes out once per configuration (eps, and steps for
// PGD) with columns attack, eps and steps. PGD starts at a uniform random
// point of the eps-ball unless --no-random-start, with step size --alpha
// (default eps/4); one run of the largest --steps gives every smaller one.
// TAIG-R uses the true class's logit, --points integration points with
// uniform noise, --steps iterations of --alpha (default 1/255), eps 16/255
// by default, and rounds its images to 8-bit values. Random draws depend
// on --seed and the image id only.
package main

import (
	"flag"
	"io"

	"github.com/lk-robustness/lk/lib/attack"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-attack", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-attack", "usage: lk-attack --model m.onnx --attack fgsm|pgd|taig [--eps e1,e2] [--steps s1,s2] [flags] [images.arrow] > attacked.arrow\n", stderr)
	var o attack.Options
	var mean, std cli.Floats
	var eps cli.Numbers
	var steps cli.Ints
	fs.StringVar(&o.Model, "model", "", "ONNX model `file` to attack (the surrogate, for TAIG) (required)")
	fs.StringVar(&o.Attack, "attack", "", "fgsm, pgd or taig (required)")
	fs.Var(&eps, "eps", "perturbation budgets in [0,1] pixel units, a list (default 16/255 for taig; required otherwise)")
	fs.Var(&steps, "steps", "PGD steps, a list (default 5); TAIG iterations (default 20)")
	fs.Float64Var(&o.Alpha, "alpha", 0, "step size in pixel units (default eps/4 for PGD, 1/255 for TAIG)")
	noStart := fs.Bool("no-random-start", false, "PGD: start at the image, not at a random point of the eps-ball")
	fs.IntVar(&o.Points, "points", 20, "TAIG: integration points along the path")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the random start (PGD) and the path noise (TAIG)")
	fs.Var(&mean, "mean", "per-channel mean, overriding the sidecar")
	fs.Var(&std, "std", "per-channel std, overriding the sidecar")
	size := cli.InputSize(fs)
	rt := cli.RuntimeFlags(fs, attack.DefaultBatch, "images per gradient run: bounds the memory a run takes (output bytes do not depend on it)")
	out := cli.OutFlags(fs)
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if o.Model == "" {
		return cli.Usage("--model is required")
	}
	switch o.Attack {
	case "fgsm", "pgd", "taig":
	case "":
		return cli.Usage("--attack is required: fgsm, pgd or taig")
	default:
		return cli.Usage("--attack %q: want fgsm, pgd or taig", o.Attack)
	}
	if len(eps) == 0 {
		if o.Attack != "taig" {
			return cli.Usage("--eps is required for %s (e.g. --eps 0.002,0.004)", o.Attack)
		}
		eps = cli.Numbers{16.0 / 255}
	}
	for _, e := range eps {
		if e < 0 || e > 1 {
			return cli.Usage("--eps %v: want numbers in [0,1] (pixel units: 8/255 is 0.0314)", e)
		}
	}
	o.Eps = eps
	if len(steps) == 0 {
		steps = cli.Ints{5}
		if o.Attack == "taig" {
			steps = cli.Ints{20}
		}
	}
	for _, s := range steps {
		if s < 0 {
			return cli.Usage("--steps %d: want non-negative whole numbers", s)
		}
	}
	o.Steps = steps
	if err := cli.Distinct(o.Eps); err != nil {
		return cli.Usage("--eps: %v", err)
	}
	if err := cli.Distinct(o.Steps); err != nil {
		return cli.Usage("--steps: %v", err)
	}
	stepsSet := false
	fs.Visit(func(f *flag.Flag) { stepsSet = stepsSet || f.Name == "steps" })
	if o.Attack == "fgsm" && stepsSet {
		return cli.Usage("--steps is for pgd and taig; FGSM is one step")
	}
	if o.Attack == "taig" && len(o.Steps) != 1 {
		return cli.Usage("--steps: TAIG takes one iteration count")
	}
	if o.Points < 1 {
		return cli.Usage("--points %d: want at least 1", o.Points)
	}
	if o.Alpha < 0 {
		return cli.Usage("--alpha %g: want a positive step", o.Alpha)
	}
	o.RandomStart = !*noStart
	o.Size = size.Shape
	if mean != nil {
		o.Mean = mean
	}
	if std != nil {
		o.Std = std
	}
	if err := rt.Check(); err != nil {
		return err
	}
	o.Batch = rt.Batch
	o.Runtime = ort.Options{Threads: rt.Threads, Provider: rt.Provider, Device: rt.Device}
	o.Step = cli.Step(fs, "batch", "threads", "device", "q")
	o.Progress = cli.Progress(*quiet, stderr)
	outOpts, err := out.Options(stdout, stderr)
	if err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return attack.Run(r, outOpts, o) })
}
