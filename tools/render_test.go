package tools_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// The -R and -9 twins: lk-render writes every image once per style with
// its column, the same bytes for the same seed, and lk-metrics --by
// variant adds ImageNet-9's BG-Gap.
func TestRender(t *testing.T) {
	tmp := t.TempDir()
	src := fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 64 %s", testutil.FashionMNIST(t))
	mustSh(t, src+" | lk-render --renditions all > "+tmp+"/r.arrow")
	mustSh(t, src+" | lk-render --backgrounds all --seed 3 > "+tmp+"/b.arrow")
	mustSh(t, src+" --rows 5 | lk-render --backgrounds all --seed 3 | lk-infer -q --model testdata/zoo/lk3.onnx > "+tmp+"/b5.arrow")
	if ids := readIDs(t, tmp+"/r.arrow"); len(ids) != 4*64 {
		t.Errorf("renditions: %d rows, want 256", len(ids))
	}
	// record size does not change the images
	a, b := imagesBy(t, tmp+"/b.arrow", "variant"), imagesBy(t, tmp+"/b5.arrow", "variant")
	if len(a) != 4*64 || len(b) != len(a) {
		t.Fatalf("backgrounds: %d and %d images, want 256", len(a), len(b))
	}
	for k, v := range a {
		if fmt.Sprint(v) != fmt.Sprint(b[k]) {
			t.Fatalf("%s differs between record sizes", k)
		}
	}
	rows := readCSV(t, mustSh(t, "lk-metrics --by variant --format csv "+tmp+"/b5.arrow"))
	by := map[string]map[string]string{}
	for _, r := range rows {
		by[r["variant"]] = r
	}
	var same, rnd, gap float64
	fmt.Sscan(by["mixed_same"]["top1"], &same)
	fmt.Sscan(by["mixed_rand"]["top1"], &rnd)
	fmt.Sscan(by["mixed_same-mixed_rand"]["bg_gap"], &gap)
	if by["mixed_same-mixed_rand"]["bg_gap"] == "" || fmt.Sprintf("%.2f", same-rnd) != fmt.Sprintf("%.2f", gap) {
		t.Errorf("bg_gap %v, mixed_same %v, mixed_rand %v", gap, same, rnd)
	}
	for args, msg := range map[string]string{
		"--renditions edges --backgrounds original": "give one of --renditions, --backgrounds and --cue-conflict",
		"--cue-conflict --backgrounds original":     "give one of --renditions, --backgrounds and --cue-conflict",
		"--renditions cubism":                       `--renditions: "cubism" is not one of`,
		"--backgrounds mixed_next":                  `--backgrounds: "mixed_next" is not one of`,
	} {
		_, errOut, err := sh(t, src+" | lk-render "+args+" > /dev/null")
		if err == nil || !strings.Contains(errOut, msg) {
			t.Errorf("%s: %v %q", args, err, errOut)
		}
	}
}
