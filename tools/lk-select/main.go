// Command lk-select keeps the rows of a prediction stream that a rule on
// the predictions selects and writes them as an image stream again,
// without the prediction columns, ready for other models: the filtering
// that made ImageNet-A (images a ResNet-50 gets wrong).
//
//	lk-data --gray3 --crop 32 t10k-images-idx3-ubyte.gz | lk-infer --model resnet.onnx \
//	  | lk-select --misclassified --min-confidence 0.5 > a-twin.arrow
//	lk-infer --model lk31.onnx < a-twin.arrow | lk-metrics
package main

import (
	"fmt"
	"io"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/selection"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-select", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-select", "usage: lk-select [flags] [predictions.arrow ...] > images.arrow\n\n", stderr)
	var rule selection.Rule
	fs.BoolVar(&rule.Misclassified, "misclassified", false, "keep rows whose top-1 prediction is not the label")
	fs.BoolVar(&rule.Correct, "correct", false, "keep rows whose top-1 prediction is the label")
	cli.FloatVar(fs, &rule.MinConfidence, "min-confidence", 0, "keep rows whose largest softmax probability is at least this")
	cli.FloatVar(fs, &rule.MaxConfidence, "max-confidence", 0, "keep rows whose largest softmax probability is at most this (0: no bound)")
	var drop cli.Strings
	fs.Var(&drop, "drop", "columns to leave out, a list (default: model and logits, so other models can run on the rows; add a model's sidecar columns)")
	keepPred := fs.Bool("keep-predictions", false, "keep every column (the output is a prediction stream)")
	quiet := fs.Bool("q", false, "no count of kept rows on stderr")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if rule.Misclassified && rule.Correct {
		return cli.Usage("--misclassified and --correct exclude each other")
	}
	if rule.MinConfidence < 0 || rule.MinConfidence > 1 || rule.MaxConfidence < 0 || rule.MaxConfidence > 1 {
		return cli.Usage("--min-confidence and --max-confidence are probabilities in [0,1]")
	}
	if *keepPred && len(drop) > 0 {
		return cli.Usage("--keep-predictions and --drop exclude each other")
	}
	if len(drop) == 0 && !*keepPred {
		drop = cli.Strings{stream.ColModel, stream.ColLogits}
	}
	if err := stream.RefuseTerminal(stdout); err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	step := cli.Step(fs, "q")
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		read, kept, err := selection.Run(r, stdout, rule, drop, step)
		if err == nil && !*quiet {
			fmt.Fprintf(stderr, "lk-select: kept %d of %d rows\n", kept, read)
		}
		return err
	})
}
