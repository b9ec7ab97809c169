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
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/robust"
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
	measure := fs.String("measure", "accuracy", "accuracy; ce: ImageNet-C's error, CE and mCE per corruption (needs columns corruption and severity); ood: AUPR, AUROC, FPR95 of minus the max softmax, --positive streams being out-of-distribution; in9: ImageNet-9's 9-way top-1 of 1000-class predictions; fp: flip probability and top-5 distance of perturbation sequences (unnormalised; per perturbation)")
	stride := fs.Int("stride", 1, "for fp: the frame stride (ImageNet-P's difficulty for non-noise perturbations)")
	var positive cli.Strings
	fs.Var(&positive, "positive", "for ood: the out-of-distribution prediction `files` (e.g. ImageNet-O's); the inputs are the in-distribution ones")
	baseline := fs.String("baseline", "", "for ce and fp: a table `file` of a baseline model's run of the same measure (ce: instead of the bundled AlexNet errors; fp: gives FR, T5D ratios, mFR and mT5D)")
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
	base := robust.AlexNet
	switch *measure {
	case "accuracy":
		if *baseline != "" {
			return cli.Usage("--baseline is for --measure ce and fp")
		}
	case "ce":
		groupBy = append(append(cli.Strings{}, by...), stream.ColCorruption, stream.ColSeverity)
		if *baseline != "" {
			var err error
			if base, err = metrics.ReadBaseline(*baseline); err != nil {
				return fmt.Errorf("--baseline: %v", err)
			}
		}
	case "in9":
		// handled by Accuracy below
	case "fp":
		if *stride < 1 {
			return cli.Usage("--stride %d: want a positive number", *stride)
		}
		return runFP(by, *stride, *baseline, fs, rows(*allowDup), stdin, stdout, stderr, f)
	case "ood":
		if len(positive) == 0 {
			return cli.Usage("--measure ood needs --positive FILE (the out-of-distribution predictions)")
		}
		return runOOD(by, sub, positive, fs, rows(*allowDup), stdin, stdout, f)
	default:
		return cli.Usage("--measure %q: want accuracy, ce, ood, in9 or fp", *measure)
	}
	acc := metrics.NewAccuracy(groupBy, sub)
	acc.IN9 = *measure == "in9"
	var md arrow.Metadata
	first := true
	each := rows(*allowDup)
	err = cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		if first {
			md = r.Schema().Metadata()
			first = false
		}
		return each(r, acc.Add)
	})
	if err != nil {
		return err
	}
	rows, err := acc.Rows()
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no rows to score: the input streams were empty")
	}
	if n := acc.Unlabelled(); n > 0 {
		fmt.Fprintf(stderr, "lk-metrics: %d rows have label -1 (unknown) and are not scored\n", n)
	}
	if *measure == "ce" {
		var notes []string
		if rows, notes, err = metrics.CE(rows, len(by), base); err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintf(stderr, "lk-metrics: %s\n", strings.TrimSpace(n))
		}
		by = append(by, stream.ColCorruption)
	}
	md, err = stream.AddStep(md, cli.Step(fs))
	if err != nil {
		return err
	}
	return table.Write(stdout, f, by, rows, md)
}

// runOOD scores out-of-distribution detection: rows of the --positive
// files against the rows of the inputs.
func runOOD(by []string, sub *imagenet.Subset, positive []string, fs *flag.FlagSet, each eachFunc, stdin io.Reader, stdout io.Writer, format string) error {
	o := metrics.NewOOD(by, sub)
	var md arrow.Metadata
	add := func(pos bool) func(r *stream.Reader) error {
		return func(r *stream.Reader) error {
			md = r.Schema().Metadata()
			return each(r, func(rec arrow.Record, name string) error { return o.Add(rec, name, pos) })
		}
	}
	if err := cli.Inputs(positive, nil, add(true)); err != nil {
		return err
	}
	if err := cli.Inputs(fs.Args(), stdin, add(false)); err != nil {
		return err
	}
	rows, err := o.Rows()
	if err != nil {
		return err
	}
	md, err = stream.AddStep(md, cli.Step(fs))
	if err != nil {
		return err
	}
	return table.Write(stdout, format, by, rows, md)
}

// runFP scores perturbation sequences: flip probability and top-5 distance
// per group and perturbation.
func runFP(by []string, stride int, baseline string, fs *flag.FlagSet, each eachFunc, stdin io.Reader, stdout, stderr io.Writer, format string) error {
	fp := metrics.NewFP(by, stride)
	var md arrow.Metadata
	err := cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		md = r.Schema().Metadata()
		return each(r, fp.Add)
	})
	if err != nil {
		return err
	}
	rows, err := fp.Rows()
	if err != nil {
		return err
	}
	if baseline != "" {
		fpBase, err := metrics.ReadBaselineTable(baseline, stream.ColPerturbation, "fp", "fp")
		if err != nil {
			return fmt.Errorf("--baseline: %v", err)
		}
		t5Base, err := metrics.ReadBaselineTable(baseline, stream.ColPerturbation, "t5d", "fp")
		if err != nil {
			return fmt.Errorf("--baseline: %v", err)
		}
		var notes []string
		rows, notes = metrics.Normalise(rows, len(by), fpBase, t5Base)
		for _, n := range notes {
			fmt.Fprintf(stderr, "lk-metrics: %s\n", n)
		}
	}
	if md, err = stream.AddStep(md, cli.Step(fs)); err != nil {
		return err
	}
	return table.Write(stdout, format, append(append([]string{}, by...), stream.ColPerturbation), rows, md)
}

// eachFunc hands every record of a stream to add, after checking that
// its row keys are new.
type eachFunc func(r *stream.Reader, add func(rec arrow.Record, name string) error) error

// rows returns an eachFunc whose key check spans every stream it reads;
// allowDup turns the check off.
func rows(allowDup bool) eachFunc {
	u := stream.NewUnique()
	return func(r *stream.Reader, add func(rec arrow.Record, name string) error) error {
		if err := u.Start(r.Name(), r.Schema()); err != nil {
			return err
		}
		for r.Next() {
			if !allowDup {
				if err := u.Add(r.Record()); err != nil {
					return fmt.Errorf("%v (--allow-duplicates scores them all)", err)
				}
			}
			if err := add(r.Record(), r.Name()); err != nil {
				return err
			}
		}
		return r.Err()
	}
}
