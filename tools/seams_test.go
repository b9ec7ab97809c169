package tools_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// Shards written one after another read as the whole run, in every tool
// that reads streams; two models' predictions are never scored as one;
// conditions pooled into one score are said.
func TestShardsAndPooling(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	data := fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 120 %s", fm)
	whole := mustSh(t, data+" | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv")
	for k := 0; k < 3; k++ {
		mustSh(t, fmt.Sprintf("%s --shard %d/3 | lk-infer -q --model testdata/zoo/lk31.onnx > %s/s%d.arrow", data, k, tmp, k))
	}
	cat := fmt.Sprintf("cat %s/s0.arrow %s/s1.arrow %s/s2.arrow", tmp, tmp, tmp)
	if got := mustSh(t, cat+" | lk-metrics --format csv"); got != whole {
		t.Errorf("three shards concatenated:\n%s\nthe whole run:\n%s", got, whole)
	}
	mustSh(t, cat+" > "+tmp+"/all.arrow")
	if got := mustSh(t, "lk-metrics --format csv "+tmp+"/all.arrow"); got != whole {
		t.Errorf("a concatenated file named as an argument:\n%s\nwant\n%s", got, whole)
	}
	if got := mustSh(t, cat+" | lk-select --correct | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv"); !strings.Contains(got, "100.00") {
		t.Errorf("lk-select over concatenated shards, its correct rows rescored: %s", got)
	}
	mustSh(t, data+" | lk-infer -q --model testdata/zoo/resnet.onnx > "+tmp+"/resnet.arrow")
	for _, c := range []struct{ script, want string }{
		{"lk-metrics " + tmp + "/all.arrow " + tmp + "/resnet.arrow", "the rows hold model lk31, resnet: one score would pool their predictions; add --by model"},
		{"cat " + tmp + "/all.arrow " + tmp + "/resnet.arrow | lk-metrics --measure calibration", "the rows hold model lk31, resnet"},
		{"(cat " + tmp + "/s0.arrow; echo trailing) | lk-metrics", "bytes that are not another Arrow IPC stream"},
		{"cat " + tmp + "/s0.arrow " + tmp + "/s0.arrow | lk-metrics", "duplicate row key"},
		{fmt.Sprintf("cat %s/s0.arrow <(%s --limit 3) | lk-metrics", tmp, data), "has columns"},
	} {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
	}
	out, errOut, err := sh(t, data+" | lk-corrupt -q --corruptions gaussian_noise,contrast --severities 1 | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv")
	if err != nil || !strings.Contains(errOut, "the scores pool the rows of every corruption (gaussian_noise, contrast)") {
		t.Errorf("pooled corruptions: %v, stdout %q stderr %q; want a note", err, out, errOut)
	}
	if got := mustSh(t, "lk-metrics --by model --format csv "+tmp+"/all.arrow "+tmp+"/resnet.arrow"); !strings.Contains(got, "lk31,120,") || !strings.Contains(got, "resnet,120,") {
		t.Errorf("--by model: %s", got)
	}
}
