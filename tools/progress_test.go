package tools_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Every tool that can run long prints one progress line format on stderr
// (count, rate, elapsed time; the final line at the end), and -q silences
// it; stdout carries only the stream, the same bytes either way.
func TestProgressLines(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 20 testdata/fashion-mnist/t10k-images-idx3-ubyte.gz > %s/x.arrow", tmp))
	line := regexp.MustCompile(`^(lk-[a-z-]+)[^:]*: (\d+) images, [0-9.]+ images/s, \d+:\d\d$`)
	for _, c := range []struct{ tool, args string }{
		{"lk-data", "--gray3 --crop 32 --limit 20 testdata/fashion-mnist/t10k-images-idx3-ubyte.gz"},
		{"lk-infer", "--model testdata/zoo/lk3.onnx < x.arrow"},
		{"lk-corrupt", "--corruptions gaussian_noise,fog --severities 1,2 < x.arrow"},
		{"lk-corrupt", "--perturbations translate < x.arrow"},
		{"lk-occlude", "--patch 4 --ratios 0.1,0.5 < x.arrow"},
		{"lk-fft-noise", "--freqs 0,0.5 < x.arrow"},
		{"lk-fft-noise", "--heatmap --step 16 < x.arrow"},
		{"lk-render", "--renditions all < x.arrow"},
		{"lk-attack", "--model testdata/zoo/lk3.onnx --attack fgsm --eps 0.01 < x.arrow"},
	} {
		args := strings.ReplaceAll(c.args, "x.arrow", tmp+"/x.arrow")
		out, errOut, err := sh(t, c.tool+" "+args+" | sha256sum")
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", c.tool, c.args, err, errOut)
		}
		last := strings.TrimSpace(errOut)
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		m := line.FindStringSubmatch(last)
		if m == nil || m[1] != c.tool || m[2] == "0" {
			t.Errorf("%s %s: last stderr line %q, want %q's count of images, rate and time", c.tool, c.args, last, c.tool)
		}
		qout, qerr, err := sh(t, c.tool+" -q "+args+" | sha256sum")
		if err != nil || qerr != "" || qout != out {
			t.Errorf("%s -q %s: stderr %q, stdout the same: %v (%v)", c.tool, c.args, qerr, qout == out, err)
		}
	}
}
