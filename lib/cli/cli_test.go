package cli_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/model"
)

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args  string
		limit int
		pos   string
	}{
		{"--limit 3 src", 3, "src"},
		{"src --limit 3", 3, "src"},
		{"a --limit 3 b", 3, "a b"},
		{"--limit 3 -- --odd-name", 3, "--odd-name"},
		{"", 0, ""},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limit := fs.Int("limit", 0, "")
		if err := cli.Parse(fs, strings.Fields(c.args)); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *limit != c.limit || strings.Join(fs.Args(), " ") != c.pos {
			t.Errorf("%q: limit %d, args %q; want %d, %q", c.args, *limit, fs.Args(), c.limit, c.pos)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := cli.Parse(fs, []string{"--nope"}); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestRecordedLeavesOutSpeedFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("batch", 64, "")
	fs.Int64("seed", 0, "")
	cli.Parse(fs, []string{"--batch", "7", "--seed", "3", "x"})
	if got := strings.Join(cli.Recorded(fs, "batch"), " "); got != "--seed=3 x" {
		t.Errorf("Recorded = %q", got)
	}
}

func TestFloats(t *testing.T) {
	var f cli.Floats
	if err := f.Set("0.485, 0.456,0.406"); err != nil || len(f) != 3 || f[1] != 0.456 {
		t.Fatalf("Floats = %v, %v", f, err)
	}
	if err := f.Set("1,x"); err == nil {
		t.Error("accepted a non-number")
	}
}

func TestIntSet(t *testing.T) {
	set, err := cli.IntSet("0-2,5")
	if err != nil || len(set) != 4 || !set[5] || set[3] {
		t.Fatalf("0-2,5: %v %v", set, err)
	}
	for v, want := range map[string]string{"1-3,2": "2 is given twice", "3-1": "want numbers", "x": "want numbers", "-1": "want numbers"} {
		if _, err := cli.IntSet(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", v, err, want)
		}
	}
}

// A Hint adds advice to the errors of its type, wrapped or not, and leaves
// every other error (and nil) as it is.
func TestHint(t *testing.T) {
	h := cli.Hint[*model.SymbolicSizeError](", or with --input-size C,H,W")
	sym := &model.SymbolicSizeError{Model: "m.onnx", Input: "x float[?,3,?,?]"}
	got := h(fmt.Errorf("opening: %w", sym))
	var back *model.SymbolicSizeError
	if !errors.As(got, &back) || !strings.HasSuffix(got.Error(), "in the sidecar m.json, or with --input-size C,H,W") {
		t.Errorf("wrapped: %v", got)
	}
	if other := errors.New("x"); h(other) != other || h(nil) != nil {
		t.Error("an error of another type, or nil, was changed")
	}
	if got := cli.ExplainModel(&model.NoNormalisationError{Model: "m.onnx"}).Error(); !strings.Contains(got, "or with --mean and --std") {
		t.Errorf("ExplainModel: %s", got)
	}
}
