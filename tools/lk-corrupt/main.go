// Command lk-corrupt applies ImageNet-C corruptions to an image stream:
// every image under every --corruptions x --severities pair in one run,
// each input record written once per pair with columns corruption and
// severity, so lk-infer and lk-metrics --by corruption,severity score a
// whole sweep.
//
//	lk-data --gray3 --crop 32 --keep-labels 0-7 t10k-images-idx3-ubyte.gz |
//	    lk-corrupt --corruptions all --severities 1-5 | lk-infer --model m.onnx |
//	    lk-metrics --by corruption,severity
//
// Parameters follow the reference generators: the ImageNet (224-pixel)
// table, or CIFAR's (32-pixel) for images up to 64 pixels (--table to
// choose). Random corruptions are seeded by --seed, the image id, the
// corruption and the severity: the same bytes whatever the batching or
// sharding. Values are truncated to 8-bit levels as the reference does; the
// released ImageNet-C was also saved as JPEG quality 85, which lk does not
// repeat.
package main

import (
	"io"
	"strings"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/corrupt"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() {
	cli.Main("lk-corrupt", run, cli.Hint[*corrupt.NotRGBError](" (lk-data --gray3 copies grey to three channels)"))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-corrupt", "usage: lk-corrupt --corruptions c1,c2|all [--severities 1-5] [--seed n] [images.arrow] > corrupted.arrow\n", stderr)
	var o corrupt.Options
	var names cli.Strings
	fs.Var(&names, "corruptions", "corruptions, a list, or all ("+strings.Join(corrupt.Names(), ", ")+")")
	sev := fs.String("severities", "1-5", "severities, e.g. 1-5 or 3 or 1,5")
	var perts cli.Strings
	fs.Var(&perts, "perturbations", "instead of corruptions: ImageNet-P sequences, a list or all ("+strings.Join(corrupt.PerturbationNames(), ", ")+")")
	difficulty := fs.Int("difficulty", 1, "for --perturbations: 1-3 (the noise level of noise perturbations; others use the stride when scored)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the random corruptions")
	fs.StringVar(&o.Table, "table", "auto", "parameter table: imagenet (224 px), cifar (32 px), or auto by image size")
	fs.StringVar(&o.FrostDir, "frost-dir", "", "`folder` with the reference's frost1.png ... frost5.jpg (default: a procedural frost texture, a substitute)")
	fs.IntVar(&o.Workers, "workers", 0, "goroutines (0: all cores)")
	out := cli.OutFlags(fs)
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	sequences := len(perts) > 0
	switch {
	case sequences && len(names) > 0:
		return cli.Usage("give --corruptions or --perturbations, not both")
	case !sequences && len(names) == 0:
		return cli.Usage("--corruptions (or --perturbations) is required (a list, or all)")
	}
	var err error
	if sequences {
		if perts, err = cli.Choose(perts, corrupt.PerturbationNames()); err != nil {
			return cli.Usage("--perturbations: %v", err)
		}
		if *difficulty < 1 || *difficulty > 3 {
			return cli.Usage("--difficulty %d: want 1 to 3", *difficulty)
		}
	} else {
		if o.Corruptions, err = cli.Choose(names, corrupt.Names()); err != nil {
			return cli.Usage("--corruptions: %v", err)
		}
		set, err := cli.IntSet(*sev)
		if err != nil {
			return cli.Usage("--severities %q: %v", *sev, err)
		}
		for s := 1; s <= 5; s++ {
			if set[int32(s)] {
				o.Severities = append(o.Severities, s)
			}
		}
		if len(o.Severities) != len(set) {
			return cli.Usage("--severities %q: severities are 1 to 5", *sev)
		}
	}
	switch o.Table {
	case "auto", "imagenet", "cifar":
	default:
		return cli.Usage("--table %q: want auto, imagenet or cifar", o.Table)
	}
	o.Step = cli.Step(fs, "workers", "q")
	o.Progress = cli.Progress(*quiet, stderr)
	outOpts, err := out.Options(stdin, stdout, stderr, fs.Args())
	if err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		if sequences {
			return corrupt.RunSequences(r, outOpts, perts, *difficulty, o)
		}
		return corrupt.Run(r, outOpts, o)
	})
}
