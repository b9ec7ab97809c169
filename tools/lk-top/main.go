// Command lk-top shows what a model answered for each image: its k most
// probable classes with their names and softmax probabilities, one row
// per image and rank, as aligned text on a terminal and as a table stream
// otherwise.
//
//	lk-data photo.jpg | lk-infer --model resnet50.onnx | lk-top
//	lk-top -k 1 --format csv preds.arrow > answers.csv
//
// Names are, in this order: --names FILE (one per line, in class order),
// the model sidecar's "classes", ImageNet-1k's for a model whose label
// space is imagenet-1k (or that has 1000 classes and no label_space), the
// images' own class names when the model has as many classes.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
	"github.com/lk-robustness/lk/lib/topk"
)

func main() { cli.Main("lk-top", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-top", "usage: lk-top [-k N] [--names file] [--format f] [predictions.arrow ...]\n\n"+
		"Per image, the model's k most probable classes: columns of the row key (id, conditions, model),\n"+
		"label and label_name, rank, class, name and prob (softmax over all the model's classes).\n\n", stderr)
	k := fs.Int("k", 5, "classes per image, most probable first")
	namesFile := fs.String("names", "", "a `file` of class names, one per line in the model's class order (default: the sidecar's classes, ImageNet-1k's, or the images' classes)")
	format := fs.String("format", "", "output: "+table.Formats+" (default: text on a terminal, else arrow)")
	quiet := fs.Bool("q", false, "no notes on stderr (where the names came from)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *k < 1 {
		return cli.Usage("-k %d: want at least 1", *k)
	}
	f, err := table.Format(*format, stdout)
	if err != nil {
		return cli.Usage("--format %v", err)
	}
	var names []string
	if *namesFile != "" {
		b, err := os.ReadFile(*namesFile)
		if err != nil {
			return cli.Usage("--names: %v", err)
		}
		names = strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
		for i, n := range names {
			if strings.TrimSpace(n) == "" {
				return cli.Usage("--names %s: line %d is empty (one class name per line, in class order)", *namesFile, i+1)
			}
		}
	}
	w := topk.NewWriter(topk.Options{K: *k, Names: names, Format: f})
	err = cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		return w.Add(r, stdout, "--names "+*namesFile)
	})
	if !*quiet {
		for _, n := range w.Notes {
			fmt.Fprintf(stderr, "lk-top: %s\n", n)
		}
	}
	if err != nil {
		return err
	}
	return w.Close()
}
