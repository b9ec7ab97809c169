// Command lk-lesion writes copies of an ONNX model with residual blocks
// replaced by the identity, for the lesion study (the paper's Fig. 7): for
// each drop count in --n and each of --samples draws, a model with that
// many units dropped, chosen with --seed from the eligible units, and a
// manifest of what each dropped.
//
//	lk-lesion --model replknet31b.onnx --group 2 --list
//	lk-lesion --model replknet31b.onnx --group 2 --stage 3 --n 1 --samples 10 --out lesion/
//	for m in lesion/*.onnx; do lk-infer --model $m < val.arrow > $m.preds.arrow; done
//	lk-metrics --by drop_n,sample lesion/*.preds.arrow
//
// A unit is --group consecutive blocks of a stage (2: RepLKNet's RepLKBlock
// with its ConvFFN), or the blocks sharing a name scope (--group scope: a
// ViT block's attention and MLP residuals). --drop names units one by one
// (unit numbers as --list prints them). Each written model has a sidecar
// with columns drop_n and sample, which lk-infer appends to its rows.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/lesion"
)

func main() { cli.Main("lk-lesion", run, cli.ExplainModel) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-lesion", "usage: lk-lesion --model m.onnx [--group n|scope] [--stage s] [--blocks a-b] [--n 1,2] [--samples k] --out DIR\n", stderr)
	path := fs.String("model", "", "ONNX model `file` (required)")
	out := fs.String("out", "", "`folder` for the lesioned models and manifest.tsv (required unless --list)")
	group := fs.String("group", "1", "blocks per unit: a number (consecutive blocks of a stage) or scope")
	stage := fs.Int("stage", 0, "draw only from this stage (1-based; 0: all stages)")
	blocks := fs.String("blocks", "", "draw only from these units, numbered within --stage (or over the model), e.g. 1-18")
	var ns cli.Ints
	fs.Var(&ns, "n", "units to drop per model, a list (e.g. 1,2,4); default 1")
	samples := fs.Int("samples", 1, "models per drop count, each an independent draw")
	seed := fs.Uint64("seed", 0, "seed of the draws")
	var drop cli.Ints
	fs.Var(&drop, "drop", "drop exactly these units (numbers as --list prints), one model")
	list := fs.Bool("list", false, "print the blocks and units found, and which are eligible, then exit")
	size := cli.InputSize(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usage("--model is required")
	}
	if *out == "" && !*list {
		return cli.Usage("--out is required")
	}
	if *samples < 1 {
		return cli.Usage("--samples %d: want a positive number", *samples)
	}
	shape := size.Shape
	m, err := arch.Open(*path, shape, 0)
	if err != nil {
		return err
	}
	if len(m.Blocks) == 0 {
		return arch.NoBlocks(*path)
	}
	units, err := lesion.Group(m.Blocks, *group)
	if err != nil {
		return cli.Usage("--group: %v", err)
	}
	var keep map[int32]bool
	if *blocks != "" {
		if keep, err = cli.IntSet(*blocks); err != nil {
			return cli.Usage("--blocks %q: %v", *blocks, err)
		}
	}
	el, err := lesion.Eligible(units, *stage, keep)
	if err != nil {
		return cli.Usage("--stage %d: %v (see --list)", *stage, err)
	}
	if *list {
		if err := arch.List(stdout, m.Config.Name, m.Blocks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# %d units (--group %s), %d eligible\n", len(units), *group, len(el.Units))
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "unit\tstage\tin_stage\teligible\tblocks")
		for _, u := range units {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", u.Index, u.Stage, u.InStage, el.Why[u.Index], u.Name())
		}
		return tw.Flush()
	}
	if len(el.Units) == 0 {
		return fmt.Errorf("model %s: no eligible units (see --list)", *path)
	}
	var jobs []lesion.Job
	if len(drop) > 0 {
		if err := cli.Distinct(drop); err != nil {
			return cli.Usage("--drop: %v", err)
		}
		j, err := lesion.Named(units, el, drop)
		if err != nil {
			return fmt.Errorf("--drop: %v (see --list)", err)
		}
		jobs = []lesion.Job{j}
	} else {
		if len(ns) == 0 {
			ns = cli.Ints{1}
		}
		if err := cli.Distinct(ns); err != nil {
			return cli.Usage("--n: %v", err)
		}
		for _, n := range ns {
			if n < 1 {
				return cli.Usage("--n %d: want positive numbers", n)
			}
		}
		if jobs, err = lesion.Draws(el, ns, *samples, *seed); err != nil {
			return fmt.Errorf("--n: %v (see --list)", err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	man, err := os.Create(filepath.Join(*out, "manifest.tsv"))
	if err != nil {
		return err
	}
	defer man.Close()
	if err := lesion.Write(m, units, jobs, *out, io.MultiWriter(man, stdout)); err != nil {
		return fmt.Errorf("writing %s: %v", *out, err)
	}
	if err := man.Close(); err != nil {
		return fmt.Errorf("writing %s: %v", man.Name(), err)
	}
	return nil
}
