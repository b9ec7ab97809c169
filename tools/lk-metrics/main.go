// Command lk-metrics scores prediction streams: top-1 and top-5 accuracy
// (percent) and mean cross-entropy, grouped by any columns, from stdin or
// from many files (the outputs of sharded runs read together).
//
//	lk-data ... | lk-infer --model m.onnx | lk-metrics --by model --format text
//	lk-metrics --by model,corruption,severity shard-*.arrow > table.arrow
//
// With --subset imagenet-a, imagenet-r or imagenet-o, logits are restricted
// to that set's 200 classes before the argmax (the datasets' protocol,
// metrics suffixed _masked) and also scored over all 1000 classes
// (suffixed _1000way), so both conventions come from one run.
package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

func main() { cli.Main("lk-metrics", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-metrics", "usage: lk-metrics [--by cols] [--subset name] [--format f] [predictions.arrow ...]\n", stderr)
	var by cli.Strings
	fs.Var(&by, "by", "comma-separated columns to group by (e.g. model,corruption,severity)")
	subset := fs.String("subset", "", "score over a 200-class subset as well: imagenet-a, imagenet-r or imagenet-o")
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	measure := fs.String("measure", "accuracy", "accuracy; ce: ImageNet-C's error, CE and mCE per corruption (needs columns corruption and severity); ood: AUPR, AUROC, FPR95 of minus the max softmax, --positive streams being out-of-distribution; in9: ImageNet-9's 9-way top-1 of 1000-class predictions; fp: flip probability and top-5 distance of perturbation sequences (unnormalised; per perturbation); robust: clean accuracy, accuracy left after each attack of lk-attack's sequence (column broken_by) and robust accuracy; calibration: top-1, mean confidence, ECE (15 equal-width bins) and RMS calibration error (adaptive bins of 100, as hendrycks' calib_err); reliability: the reliability diagram, per bin its bounds, mean confidence, accuracy and count (all in percent); shape-bias: of cue-conflict images (column texture), the shape bias and the shape and texture matches, as model-vs-human scores them; effective: per group (model), the inputs' (shifted) top-1 against --clean's, a baseline line fitted over all groups on --scale axes, and effective robustness, shifted minus the line's value (Taori et al. 2020)")
	stride := fs.Int("stride", 1, "for fp: the frame stride (ImageNet-P's difficulty for non-noise perturbations)")
	var positive cli.Strings
	fs.Var(&positive, "positive", "for ood: the out-of-distribution prediction `files` (e.g. ImageNet-O's); the inputs are the in-distribution ones")
	var clean cli.Strings
	fs.Var(&clean, "clean", "for effective: the in-distribution prediction `files` of the testbed's models (the inputs are their predictions on the shifted set)")
	scale := fs.String("scale", metrics.ScaleLogit, "for effective: the axes the baseline line is fitted on, logit or probit")
	baseline := fs.String("baseline", "", "for ce and fp: a table `file` of a baseline model's run of the same measure (ce: instead of the bundled AlexNet errors; fp: gives FR, T5D ratios, mFR and mT5D)")
	over := fs.String("over", "", "a `column` to summarise over (e.g. seed: a model's training seeds): each metric becomes the mean over the column's values, with _sd, _min and _max, and n_COLUMN counts the values; with --ci, the mean's interval, the images resampled alike for every value (they are the same images)")
	compare := fs.String("compare", "", "`COL=A,B`: compare A with B, two values of column COL (two models: model=lk31,resnet), on the rows they share by key: per group and metric, M.A, M.B and M.diff (A - B), with --ci the paired bootstrap interval of each, and for top-1 the exact McNemar p-value (M.p) and Holm's adjustment over the table's groups (M.p_holm); with --over seed, M.diff is the mean difference over the seeds, its interval the paired bootstrap (no McNemar test); a row on one side only is an error")
	var ci metrics.CI
	cli.FloatVar(fs, &ci.Level, "ci", 0, "confidence `level` in percent (e.g. 95): add M_lo and M_hi beside every metric M, the interval the test set's sampling allows (every measure but reliability; for fp the sequences are resampled); 0: none")
	fs.IntVar(&ci.Resamples, "resamples", 1000, "bootstrap replicates for --ci")
	fs.Uint64Var(&ci.Seed, "seed", 0, "seed of the bootstrap's draws for --ci (the output bytes depend on it, not on threads)")
	fs.StringVar(&ci.Method, "ci-method", metrics.MethodBootstrap, "bootstrap: resample the images (by id; one draw for every group and condition, so mCE's images stay together); wilson: the Wilson score interval of top-1 and top-5, a closed form")
	quiet := fs.Bool("q", false, "no notes on stderr (rows left unscored, pooled conditions, the baseline's label space); errors still go there")
	var where []metrics.Where
	fs.Func("where", "`COL=VALUE[,VALUE...]`: score only the inputs' rows whose column COL holds one of the values (numbers compare as numbers), e.g. variant=mixed_rand or severity=5; repeat for several columns; --positive and --clean streams are read whole", func(s string) error {
		w, err := metrics.ParseWhere(s)
		where = append(where, w)
		return err
	})
	allowDup := fs.Bool("allow-duplicates", false, "score rows whose key (id and conditions, lk.key) occurs more than once across the inputs, instead of refusing them")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	var sub *imagenet.Subset
	if *subset != "" {
		var err error
		if sub, err = imagenet.LookupSubset(*subset); err != nil {
			return cli.Usage("--subset: %v", err)
		}
	}
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	groupBy := by
	if *over != "" {
		if slices.Contains(by, *over) {
			return cli.Usage("--over %s: also in --by; a column is grouped by or summarised over, not both", *over)
		}
		groupBy = append(slices.Clone(by), *over)
	}
	if ci.Level != 0 {
		switch {
		case ci.Level <= 0 || ci.Level >= 100:
			return cli.Usage("--ci %v: want a level in percent between 0 and 100, e.g. 95", ci.Level)
		case ci.Method != metrics.MethodBootstrap && ci.Method != metrics.MethodWilson:
			return cli.Usage("--ci-method %q: want bootstrap or wilson", ci.Method)
		case ci.Method == metrics.MethodBootstrap && ci.Resamples < 100:
			return cli.Usage("--resamples %d: want at least 100 for a percentile interval", ci.Resamples)
		}
	}
	o := metrics.Options{Measure: *measure, By: groupBy, Subset: sub, Stride: *stride, AllowDuplicates: *allowDup, CI: ci, Over: *over, Where: where}
	if *compare != "" {
		col, sides, ok := strings.Cut(*compare, "=")
		a, b, ok2 := strings.Cut(sides, ",")
		if !ok || !ok2 || col == "" || a == "" || b == "" || strings.Contains(b, ",") || a == b {
			return cli.Usage("--compare %q: want COL=A,B, two different values of one column (e.g. model=lk31,resnet)", *compare)
		}
		o.Compare = metrics.Compare{Col: col, A: a, B: b}
	}
	if len(clean) > 0 && *measure != "effective" {
		return cli.Usage("--clean is for --measure effective")
	}
	switch *measure {
	case "accuracy", "in9", "robust", "calibration", "reliability", "shape-bias":
		if *baseline != "" {
			return cli.Usage("--baseline is for --measure ce and fp")
		}
	case "ce":
		if *baseline != "" {
			if o.CEBase, err = metrics.ReadBaseline(*baseline); err != nil {
				return fmt.Errorf("--baseline: %v", err)
			}
		}
	case "fp":
		if *stride < 1 {
			return cli.Usage("--stride %d: want a positive number", *stride)
		}
		if *baseline != "" {
			if o.FPBase, err = metrics.ReadBaselineTable(*baseline, stream.ColPerturbation, "fp", "fp"); err != nil {
				return fmt.Errorf("--baseline: %v", err)
			}
			if o.T5Base, err = metrics.ReadBaselineTable(*baseline, stream.ColPerturbation, "t5d", "fp"); err != nil {
				return fmt.Errorf("--baseline: %v", err)
			}
		}
	case "effective":
		if len(clean) == 0 {
			return cli.Usage("--measure effective needs --clean FILES (the testbed's in-distribution predictions)")
		}
		if *scale != metrics.ScaleLogit && *scale != metrics.ScaleProbit {
			return cli.Usage("--scale %q: want logit or probit", *scale)
		}
		if len(positive) > 0 || *baseline != "" {
			return cli.Usage("--measure effective takes --clean, not --positive or --baseline")
		}
		positive = clean // read first, as the in-distribution side
		o.Scale = *scale
	case "ood":
		if len(positive) == 0 {
			return cli.Usage("--measure ood needs --positive FILE (the out-of-distribution predictions)")
		}
	default:
		return cli.Usage("--measure %q: want accuracy, ce, ood, in9, fp, robust, calibration, reliability, shape-bias or effective", *measure)
	}
	streams := func(fn func(r *stream.Reader, positive bool) error) error {
		if len(positive) > 0 {
			if err := cli.Inputs(positive, nil, func(r *stream.Reader) error { return fn(r, true) }); err != nil {
				return err
			}
		}
		return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return fn(r, false) })
	}
	cols, rows, md, notes, err := metrics.Score(o, streams)
	var dup *stream.DuplicateError
	if errors.As(err, &dup) {
		return fmt.Errorf("%v (--allow-duplicates scores them all)", err)
	}
	var gc *metrics.GroupColumnError
	if errors.As(err, &gc) {
		if slices.Contains(by, gc.Column) {
			return fmt.Errorf("%s: --by %s: no such column (columns: %s)", gc.Stream, gc.Column, gc.Have)
		}
		if gc.Column == *over {
			return fmt.Errorf("%s: --over %s: no such column (columns: %s)", gc.Stream, gc.Column, gc.Have)
		}
		return fmt.Errorf("%s: --measure %s needs a column %s (columns: %s)", gc.Stream, *measure, gc.Column, gc.Have)
	}
	if err != nil {
		return err
	}
	for _, n := range notes {
		if !*quiet {
			fmt.Fprintf(stderr, "lk-metrics: %s\n", n)
		}
	}
	if md, err = stream.AddStep(md, cli.Step(fs)); err != nil {
		return err
	}
	return table.Write(stdout, f, cols, rows, md)
}
