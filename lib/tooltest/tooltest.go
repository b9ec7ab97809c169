// Package tooltest runs the tools' run functions in process, on streams
// made in process from the shipped data, for the tools' table-driven
// tests: flag checks, errors and small pipelines without building
// binaries.
package tooltest

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// RunFunc is a tool's run function.
type RunFunc func(args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Run calls run with args and stdin and returns what it wrote.
func Run(run RunFunc, stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	var o, e bytes.Buffer
	err = run(args, bytes.NewReader(stdin), &o, &e)
	return o.Bytes(), e.Bytes(), err
}

// Images is the first n images of the Fashion-MNIST test split, classes
// 0-7, grey copied to three channels and padded to 32 x 32: what lk-data
// --gray3 --crop 32 --keep-labels 0-7 --limit n writes.
func Images(t testing.TB, n int) []byte {
	t.Helper()
	src, err := dataset.Open(testutil.FashionMNIST(t), "")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := cli.IntSet("0-7")
	items := dataset.Order(dataset.KeepLabels(src.Items, set), false, 0, n, 0, 1)
	var b bytes.Buffer
	if _, err := dataset.Write(src, items, &b, dataset.WriteOptions{Spec: preprocess.Spec{CropH: 32, CropW: 32, Gray3: true}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Predictions is Images(n) through the zoo model name (lk3, vit, ...).
func Predictions(t testing.TB, name string, n int) []byte {
	t.Helper()
	testutil.ORT(t)
	in := Images(t, n)
	r, err := stream.NewReader(bytes.NewReader(in), "images")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var b bytes.Buffer
	if err := infer.Run(r, &b, infer.Options{Model: testutil.Path(t, "testdata", "zoo", name+".onnx"), Batch: 64}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Case is one command line and what it must end with.
type Case struct {
	Name  string
	Args  []string
	Stdin []byte
	Err   string // a substring of the error; "" for success
	Usage bool   // the error is a usage mistake (exit status 2)
}

// Check runs each case and checks its error.
func Check(t *testing.T, run RunFunc, cases []Case) {
	t.Helper()
	for _, c := range cases {
		name := c.Name
		if name == "" {
			name = strings.Join(c.Args, " ")
		}
		t.Run(name, func(t *testing.T) {
			_, stderr, err := Run(run, c.Stdin, c.Args...)
			switch {
			case c.Err == "" && err != nil:
				t.Fatalf("error %v\n%s", err, stderr)
			case c.Err != "" && (err == nil || !strings.Contains(err.Error(), c.Err)):
				t.Fatalf("error %v, want one with %q\n%s", err, c.Err, stderr)
			case c.Err != "" && cli.IsUsage(err) != c.Usage:
				t.Fatalf("error %v: usage mistake %v, want %v", err, cli.IsUsage(err), c.Usage)
			}
		})
	}
}

// Stream reads a stream written by a tool.
func Stream(t testing.TB, b []byte) *stream.Reader {
	t.Helper()
	r, err := stream.NewReader(bytes.NewReader(b), "output")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Release)
	return r
}

// Zoo is the path of a zoo model, with ONNX Runtime loaded.
func Zoo(t testing.TB, name string) string {
	t.Helper()
	testutil.ORT(t)
	return testutil.Path(t, "testdata", "zoo", name+".onnx")
}
