package tools_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// Seeds of one model scored together: lk3 and lk7 stand in for two seeds
// of a model "m" (sidecars with one name and a seed column). lk-metrics
// --over seed must give the mean and sample standard deviation of the two
// models' top-1 as lk-metrics scores each alone, and refuse what would
// hide the seeds.
func TestMetricsOverSeeds(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 300 %s > %s/x.arrow", fm, tmp))
	alone := map[string]float64{}
	for i, src := range []string{"lk3", "lk7"} {
		var cfg map[string]any
		b, err := os.ReadFile(testutil.Path(t, "testdata/zoo/"+src+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["name"], cfg["columns"] = "m", map[string]string{"seed": strconv.Itoa(i)}
		b, _ = json.Marshal(cfg)
		dst := fmt.Sprintf("%s/s%d", tmp, i)
		os.MkdirAll(dst, 0o755)
		os.WriteFile(dst+"/m.json", b, 0o644)
		mustSh(t, fmt.Sprintf("cp %s %s/m.onnx", testutil.Path(t, "testdata/zoo/"+src+".onnx"), dst))
		mustSh(t, fmt.Sprintf("lk-infer -q --model %s/m.onnx < %s/x.arrow > %s/p%d.arrow", dst, tmp, tmp, i))
		row := readCSV(t, mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/%s.onnx < %s/x.arrow | lk-metrics --format csv", src, tmp)))[0]
		alone[src], _ = strconv.ParseFloat(row["top1"], 64)
	}
	row := readCSV(t, mustSh(t, fmt.Sprintf("lk-metrics --by model --over seed --format csv %s/p0.arrow %s/p1.arrow", tmp, tmp)))[0]
	a, b := alone["lk3"], alone["lk7"]
	for k, want := range map[string]float64{
		"top1": (a + b) / 2, "top1_sd": math.Abs(a-b) / math.Sqrt2, // two values: sd = |a-b|/sqrt(2)
		"top1_min": math.Min(a, b), "top1_max": math.Max(a, b), "n_seed": 2,
	} {
		got, err := strconv.ParseFloat(row[k], 64)
		if err != nil || math.Abs(got-want) > 0.006 { // the table's 2 decimals
			t.Errorf("%s = %q, want %.4f (lk3 alone %.2f, lk7 alone %.2f)", k, row[k], want, a, b)
		}
	}
	if row["model"] != "m" || row["n"] != "300" {
		t.Errorf("row %v: want model m, n 300", row)
	}
	// without --over the two seeds are two rows, not one pooled model
	if rows := readCSV(t, mustSh(t, fmt.Sprintf("lk-metrics --by model,seed --format csv %s/p0.arrow %s/p1.arrow", tmp, tmp))); len(rows) != 2 {
		t.Errorf("--by model,seed: %d rows, want 2", len(rows))
	}
	for _, c := range []struct{ args, want string }{
		{"--by model,seed --over seed", "also in --by"},
		{"--by model --over sample", "--over sample: no such column"},
	} {
		_, errOut, err := sh(t, fmt.Sprintf("lk-metrics %s %s/p0.arrow", c.args, tmp))
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("lk-metrics %s: %v %q, want an error with %q", c.args, err, errOut, c.want)
		}
	}
}

// The pipelines' prediction cache (pipelines/data.sh) must not hand one
// model file's predictions to another of the same name: with MODEL_DIR
// pointing at a folder whose lk3 is really lk7, preds gives lk7's
// predictions, not the zoo lk3's cached a moment before.
func TestPredsCacheFollowsTheModelFile(t *testing.T) {
	tmp := t.TempDir()
	other := tmp + "/other"
	os.MkdirAll(other, 0o755)
	for _, ext := range []string{".onnx", ".json"} {
		mustSh(t, fmt.Sprintf("cp testdata/zoo/lk7%s %s/lk3%s", ext, other, ext))
	}
	script := fmt.Sprintf(`set -euo pipefail; . pipelines/data.sh; . pipelines/csv.sh; DATA=%s/data; NSMALL=200
top() { lk-metrics --format csv "$1" | csv_get top1,xent; }
a=$(preds small lk3); MODEL_DIR=%s; b=$(preds small lk3); MODEL_DIR=testdata/zoo; c=$(preds small lk7)
echo "$a $b $(top $a) $(top $b) $(top $c)"`, tmp, other)
	f := strings.Fields(mustSh(t, script))
	if len(f) != 5 {
		t.Fatalf("got %q", f)
	}
	if f[0] == f[1] {
		t.Errorf("one cache file %s for two model files", f[0])
	}
	if f[3] != f[4] || f[2] == f[3] {
		t.Errorf("top-1 and cross-entropy: zoo lk3 %s, lk7 under the name lk3 %s, zoo lk7 %s: want the last two equal and the first different", f[2], f[3], f[4])
	}
	if _, errOut, err := sh(t, `. pipelines/data.sh; MODEL_DIR=/nonexistent; preds small lk3`); err == nil || !strings.Contains(errOut, "no file /nonexistent/lk3.onnx") {
		t.Errorf("a missing model: %v %q", err, errOut)
	}
}
