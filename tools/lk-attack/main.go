// Command lk-attack perturbs an image stream adversarially against an ONNX
// model, in [0,1] pixel units: FGSM, PGD (l-infinity), TAIG-R, and
// AutoAttack's APGD-CE, APGD-T and Square (l-infinity) alone or in
// sequence (autoattack; without FAB-T, which lk does not have). The
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
//
//	lk-data ... | lk-attack --model m.onnx --attack autoattack | lk-infer --model m.onnx | lk-metrics --measure robust
//
// APGD runs --steps iterations (default 100) from a random start; APGD-T
// runs once per target class (--targets, default 9), Square --queries
// iterations (default 5000). autoattack runs APGD-CE, then APGD-T on the
// images still classified correctly, then Square; column broken_by names
// the attack that broke each image (none, or clean when the model
// misclassified it unattacked). The default eps is AutoAttack's: 8/255
// for images up to 64 px, 4/255 for larger ones.
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
	fs := cli.NewFlags("lk-attack", "usage: lk-attack --model m.onnx --attack fgsm|pgd|taig|apgd-ce|apgd-t|fab-t|square|autoattack [--eps e1,e2] [--steps s1,s2] [flags] [images.arrow] > attacked.arrow\n", stderr)
	var o attack.Options
	var mean, std cli.Floats
	var eps cli.Numbers
	var steps cli.Ints
	fs.StringVar(&o.Model, "model", "", "ONNX model `file` to attack (the surrogate, for TAIG) (required)")
	fs.StringVar(&o.Attack, "attack", "", "fgsm, pgd, taig, apgd-ce, apgd-t, fab-t, square or autoattack (AutoAttack's standard sequence: APGD-CE, APGD-T, FAB-T, Square) (required)")
	fs.Var(&eps, "eps", "perturbation budgets in [0,1] pixel units, a list (default 16/255 for taig; AutoAttack's 8/255 up to 64 px, else 4/255, for apgd-ce, apgd-t, fab-t, square and autoattack; required otherwise)")
	fs.Var(&steps, "steps", "PGD steps, a list (default 5); TAIG iterations (default 20); APGD and FAB iterations (default 100)")
	fs.IntVar(&o.Targets, "targets", attack.DefaultTargets, "APGD-T and FAB-T: target classes, the 2nd to (targets+1)th largest clean logits (default 9: fewer if the model has fewer than 10 classes)")
	fs.IntVar(&o.Queries, "queries", 5000, "Square: iterations after the start")
	cli.FloatVar(fs, &o.Alpha, "alpha", 0, "step size in pixel units (default eps/4 for PGD, 1/255 for TAIG)")
	noStart := fs.Bool("no-random-start", false, "PGD: start at the image, not at a random point of the eps-ball")
	fs.IntVar(&o.Points, "points", 20, "TAIG: integration points along the path")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of every random draw: PGD's random start, TAIG's path noise, APGD-CE's and APGD-T's starting points, Square's squares (per image id, budget and attack)")
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
	auto := stream.Stages(o.Attack) != nil
	switch {
	case o.Attack == "fgsm", o.Attack == "pgd", o.Attack == "taig", auto:
	case o.Attack == "":
		return cli.Usage("--attack is required: fgsm, pgd, taig, apgd-ce, apgd-t, fab-t, square or autoattack")
	default:
		return cli.Usage("--attack %q: want fgsm, pgd, taig, apgd-ce, apgd-t, fab-t, square or autoattack", o.Attack)
	}
	if len(eps) == 0 {
		switch {
		case o.Attack == "taig":
			eps = cli.Numbers{16.0 / 255}
		case !auto:
			return cli.Usage("--eps is required for %s (e.g. --eps 0.002,0.004)", o.Attack)
		}
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
		if auto {
			steps = cli.Ints{100}
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if (o.Attack == "fgsm" || o.Attack == "square") && set["steps"] {
		why := map[string]string{"fgsm": "FGSM is one step", "square": "Square counts --queries"}[o.Attack]
		return cli.Usage("--steps is for pgd, taig, apgd-ce, apgd-t, fab-t and autoattack; %s", why)
	}
	if (o.Attack == "taig" || auto) && len(o.Steps) != 1 {
		return cli.Usage("--steps: %s takes one iteration count", o.Attack)
	}
	if set["targets"] && o.Attack != "apgd-t" && o.Attack != "fab-t" && o.Attack != "autoattack" {
		return cli.Usage("--targets is for apgd-t, fab-t and autoattack")
	}
	if set["queries"] && o.Attack != "square" && o.Attack != "autoattack" {
		return cli.Usage("--queries is for square and autoattack")
	}
	if o.Targets < 1 {
		return cli.Usage("--targets %d: want at least 1", o.Targets)
	}
	if !set["targets"] {
		o.Targets = 0 // the library's default, which knows the model's classes
	}
	if o.Queries < 0 {
		return cli.Usage("--queries %d: want a non-negative number", o.Queries)
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
	outOpts, err := out.Options(stdin, stdout, stderr, fs.Args())
	if err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return attack.Run(r, outOpts, o) })
}
