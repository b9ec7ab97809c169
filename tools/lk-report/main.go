// Command lk-report turns the Markdown report of make reproduce into one
// self-contained HTML page (figures embedded, tables as HTML tables, each
// result's commands folded beneath it), to read in a browser or mail.
//
//	lk-report -o out/reproduce/report.html out/reproduce/report.md
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/report"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-report", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-report", "usage: lk-report [-o report.html] report.md\n\nFigures are read relative to the Markdown file.\n\n", stderr)
	out := fs.String("o", "", "output `file` (default: stdout)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usage("want one Markdown file, got %d", fs.NArg())
	}
	in := fs.Arg(0)
	md, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	page, err := report.HTML(md, filepath.Dir(in), in)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(page)
		return err
	}
	err = stream.WriteFileAtomic(*out, []string{in}, stdin, func(w io.Writer) error {
		_, err := w.Write(page)
		return err
	})
	if err != nil {
		return fmt.Errorf("-o: %v", err)
	}
	return nil
}
