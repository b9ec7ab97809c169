package tools_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// lk-plot draws from real pipelines in every format, and names what is
// missing when a column is not there.
func TestPlot(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 32 %s | lk-occlude --patch 4 --ratios 0,0.5 > %s/o.arrow", testutil.FashionMNIST(t), tmp))
	mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx < "+tmp+"/o.arrow | lk-metrics --by model,drop_ratio > "+tmp+"/m.arrow")
	for _, ext := range []string{"png", "svg", "pdf"} {
		out := tmp + "/fig." + ext
		mustSh(t, "lk-plot --kind line --x drop_ratio --y top1 --series model -o "+out+" "+tmp+"/m.arrow")
		if fi, err := os.Stat(out); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v", out, err)
		}
	}
	mustSh(t, "lk-plot --kind montage --label drop_ratio --limit 8 -o "+tmp+"/montage.png < "+tmp+"/o.arrow")
	for args, msg := range map[string]string{
		"--kind line --x drop_ratio --y accuracy -o " + tmp + "/x.png": `no column "accuracy" for --y (columns: model, drop_ratio, top1, top5, xent)`,
		"--kind line --x drop_ratio --y top1 -o " + tmp + "/x.gif":     "want one of .png .svg .pdf .eps",
		"--kind line --x drop_ratio --y top1":                          "-o FILE is required",
		"--kind line --x model --y top1 -o " + tmp + "/x.png":          `column "model" (--x): "lk3" is not a number`,
	} {
		_, errOut, err := sh(t, "lk-plot "+args+" < "+tmp+"/m.arrow")
		if err == nil || !strings.Contains(errOut, msg) {
			t.Errorf("%s: %v %q, want %q", args, err, errOut, msg)
		}
	}
}
