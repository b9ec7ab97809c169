package tools_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// standInSeeds writes lk3 and lk7 as seeds 0 and 1 of one model "m" into
// dir/s0 and dir/s1 (sidecars with name m and a seed column) and returns
// their sidecars' test_top1 in percent (PyTorch's, at training time).
func standInSeeds(t *testing.T, dir string) []float64 {
	t.Helper()
	var top1 []float64
	for i, src := range []string{"lk3", "lk7"} {
		var cfg map[string]any
		b, err := os.ReadFile(testutil.Path(t, "testdata/zoo/"+src+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		top1 = append(top1, 100*cfg["test_top1"].(float64))
		cfg["name"], cfg["columns"] = "m", map[string]string{"seed": strconv.Itoa(i)}
		b, _ = json.Marshal(cfg)
		dst := fmt.Sprintf("%s/s%d", dir, i)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+"/m.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
		mustSh(t, fmt.Sprintf("cp %s %s/m.onnx", testutil.Path(t, "testdata/zoo/"+src+".onnx"), dst))
	}
	return top1
}

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
	standInSeeds(t, tmp)
	for i, src := range []string{"lk3", "lk7"} {
		mustSh(t, fmt.Sprintf("lk-infer -q --model %s/s%d/m.onnx < %s/x.arrow > %s/p%d.arrow", tmp, i, tmp, tmp, i))
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
	// nor one recipe's images and predictions to another's: NSMALL=100
	// after NSMALL=200 in the same DATA scores 100 images
	n := readCSV(t, mustSh(t, fmt.Sprintf(`. pipelines/data.sh; DATA=%s/data; NSMALL=100; lk-metrics --format csv "$(preds small lk3)"`, tmp)))[0]["n"]
	if n != "100" {
		t.Errorf("NSMALL=100 after NSMALL=200: predictions of %s images", n)
	}
	if _, errOut, err := sh(t, `. pipelines/data.sh; MODEL_DIR=/nonexistent; preds small lk3`); err == nil || !strings.Contains(errOut, "no file /nonexistent/lk3.onnx") {
		t.Errorf("a missing model: %v %q", err, errOut)
	}
}

// SEEDS=all make reproduce: lk3 and lk7 stand in for two seeds of a model
// "m". Table 7's clean column must be the mean and sample standard
// deviation of the two models' test accuracy as PyTorch measured it at
// training time (their sidecars' test_top1), its -A column those of the
// two models scored alone; the per-seed runs and the banded figure must be
// there, and a seed folder without every model is left out.
func TestReproduceSeedsAll(t *testing.T) {
	testutil.FashionMNIST(t)
	tmp := t.TempDir()
	clean := standInSeeds(t, tmp+"/seeds")
	os.MkdirAll(tmp+"/seeds/s2", 0o755) // training not finished: no m.onnx
	env := fmt.Sprintf("SEEDS=all SEED_DIR=%s/seeds OUT=%s/out DATA=%s/data MODELS=m KERNELS=m NR=40", tmp, tmp, tmp)
	mustSh(t, env+" bash pipelines/reproduce.sh table7 fig3")
	var cells []string
	for _, l := range strings.Split(mustSh(t, "cat "+tmp+"/out/table7.md"), "\n") {
		if strings.HasPrefix(l, "| m |") {
			cells = strings.Split(l, "|")
		}
	}
	if len(cells) != 6 {
		t.Fatalf("table7.md has no row for m:\n%s", mustSh(t, "cat "+tmp+"/out/table7.md"))
	}
	meanSD := func(col int, a, b float64) {
		t.Helper()
		got := strings.TrimSpace(cells[col])
		want := fmt.Sprintf("%.2f±%.2f", (a+b)/2, math.Abs(a-b)/math.Sqrt2)
		if got != want {
			t.Errorf("table7 column %d: %q, want %q (seeds %.2f and %.2f)", col, got, want, a, b)
		}
	}
	meanSD(2, clean[0], clean[1])
	var adv []float64
	for _, src := range []string{"lk3", "lk7"} {
		row := readCSV(t, mustSh(t, fmt.Sprintf(". pipelines/data.sh; DATA=%s/data; NR=40; lk-infer -q --model testdata/zoo/%s.onnx < \"$(data a)\" | lk-metrics --format csv", tmp, src)))[0]
		v, _ := strconv.ParseFloat(row["top1"], 64)
		adv = append(adv, v)
	}
	meanSD(3, adv[0], adv[1])
	for _, f := range []string{"fig3.png", "report.md", "seeds/s0/table7.md", "seeds/s1/fig3.png"} {
		if _, err := os.Stat(tmp + "/out/" + f); err != nil {
			t.Error(err)
		}
	}
	if rep := mustSh(t, "cat "+tmp+"/out/report.md"); !strings.Contains(rep, "mean ± the sample standard deviation over the seeds") || strings.Contains(rep, "seeds/s2") || !strings.Contains(rep, "are seed s0's") {
		t.Errorf("report.md does not say how the seeds were combined and which seed's images it shows, or names the incomplete folder:\n%s", rep)
	}
	// the report says how the twins table 7 reads were built, as for one seed
	note, err := os.ReadFile(testutil.Path(t, "pipelines/twins/table7.md"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(note), "\n"); !strings.Contains(mustSh(t, "cat "+tmp+"/out/report.md"), lines[1]) {
		t.Errorf("report.md lacks the twin note of table7: %q", lines[1])
	}
	// run again: both seed folders' finished runs are reused; after a
	// change to one folder's model files, that folder alone runs again
	table := mustSh(t, "cat "+tmp+"/out/table7.md")
	_, errOut, err := sh(t, env+" bash pipelines/reproduce.sh table7 fig3")
	if err != nil || strings.Count(errOut, "reusing its finished run") != 2 {
		t.Errorf("second run: %v\n%s", err, errOut)
	}
	mustSh(t, "echo >> "+tmp+"/seeds/s1/m.json")
	_, errOut, err = sh(t, env+" bash pipelines/reproduce.sh table7 fig3")
	if err != nil || strings.Count(errOut, "reusing its finished run") != 1 || !strings.Contains(errOut, "seed folder "+tmp+"/seeds/s1\n") {
		t.Errorf("after a change to s1's sidecar: %v\n%s", err, errOut)
	}
	if got := mustSh(t, "cat "+tmp+"/out/table7.md"); got != table {
		t.Errorf("table7.md changed on a rerun:\n%s\nwas\n%s", got, table)
	}
	// the report alone makes no target
	mustSh(t, env+" bash pipelines/reproduce.sh report")
	if _, err := os.Stat(tmp + "/out/seeds/s0/work/fig1.cmds"); err == nil {
		t.Error("SEEDS=all reproduce.sh report ran the targets")
	}
	// the same OUT with the models alone: refused, not mixed into one report
	_, errOut, err = sh(t, fmt.Sprintf("OUT=%s/out DATA=%s/data MODELS=lk3 KERNELS=lk3 bash pipelines/reproduce.sh table7", tmp, tmp))
	if err == nil || !strings.Contains(errOut, "holds results of another configuration") {
		t.Errorf("another configuration into the same OUT: %v %q", err, errOut)
	}
	// the same models with other image counts: refused too
	_, errOut, err = sh(t, env+" NATT=100 bash pipelines/reproduce.sh table7")
	if err == nil || !strings.Contains(errOut, "holds results of another configuration") {
		t.Errorf("other NATT into the same OUT: %v %q", err, errOut)
	}
	_, errOut, err = sh(t, fmt.Sprintf("SEEDS=all SEED_DIR=%s/seeds/s2 OUT=%s/out2 MODELS=m bash pipelines/reproduce.sh table7", tmp, tmp))
	if err == nil || !strings.Contains(errOut, "no folder in") {
		t.Errorf("no complete seed folder: %v %q", err, errOut)
	}
	// every seed is normalised by the one baseline, MODEL_DIR's resnet (no
	// seed folder holds a resnet): each seed's mT5D is its model's top-5
	// distance over the zoo resnet's, scored here without the pipeline (six
	// sequences leave mFR undefined: the resnet does not flip on some)
	mustSh(t, fmt.Sprintf("SEEDS=all SEED_DIR=%s/seeds OUT=%s/out3 DATA=%s/data MODELS=m NP=6 bash pipelines/reproduce.sh table2", tmp, tmp, tmp))
	p := fmt.Sprintf(". pipelines/data.sh; DATA=%s/data; NP=6; lk-infer -q --model testdata/zoo/%%s.onnx < \"$(data p)\" | lk-metrics --measure fp --by model %%s", tmp)
	mustSh(t, fmt.Sprintf(p, "resnet", "> "+tmp+"/p-base.arrow"))
	for i, src := range []string{"lk3", "lk7"} {
		var want string
		for _, r := range readCSV(t, mustSh(t, fmt.Sprintf(p, src, "--baseline "+tmp+"/p-base.arrow --format csv"))) {
			if r["perturbation"] == "mT5D" {
				want = r["t5d_ratio"]
			}
		}
		md := mustSh(t, fmt.Sprintf("cat %s/out3/seeds/s%d/table2.md", tmp, i))
		if want == "" || !regexp.MustCompile(`(?m)^\| m \| [^|]+ \| `+regexp.QuoteMeta(want)+` \|$`).MatchString(md) || !strings.Contains(md, "normalised by resnet of testdata/zoo") {
			t.Errorf("seed %d (%s): mT5D %s over the zoo resnet's, not in\n%s", i, src, want, md)
		}
	}
}

// md_apart says "higher" or "lower" only where two models' min-max ranges
// over the seeds' tables do not overlap; touching ranges overlap. The
// expected words are worked out by hand from the seeds' cells.
func TestMdApart(t *testing.T) {
	tmp := t.TempDir()
	seeds := [][3]string{ // per seed: the rows of lk31, lk3 and vit
		{"| lk31 | 3x3 | 22.91 | 60.0 | 1.00 |", "| lk3 | 3x3 | 18.06 | 60.5 | 2.00 |", "| vit | - | 22.25 | 50 | 0.50 |"},
		{"| lk31 | 3x3 | 24.89 | 61.0 | 1.50 |", "| lk3 | 3x3 | 19.60 | 59.0 | 2.50 |", "| vit | - | 26.21 | 51 | 0.90 |"},
		{"| lk31 | 3x3 | 23.50 | 62.0 | 1.20 |", "| lk3 | 3x3 | 19.00 | 58.0 | 1.50 |", "| vit | - | 25.00 | 52 | 1.00 |"},
	}
	var files []string
	for i, rows := range seeds {
		f := fmt.Sprintf("%s/s%d.md", tmp, i)
		md := "Caption:\n\n| model | kernel | A | C | ECE |\n|---|---|---|---|---|\n" + strings.Join(rows[:], "\n") + "\n"
		if err := os.WriteFile(f, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, c := range []struct{ a, b, want string }{
		// A: 22.91-24.89 against 18.06-19.60 apart; C: 60.0-62.0 against
		// 58.0-60.5 overlap; ECE: 1.00-1.50 against 1.50-2.50 touch
		{"lk31", "lk3", "lk31 against lk3 over the 3 seeds (min to max): A 22.91 to 24.89 against 18.06 to 19.60, higher; C 60.0 to 62.0 against 58.0 to 60.5, within the spread; ECE 1.00 to 1.50 against 1.50 to 2.50, within the spread.\n"},
		// A: 18.06-19.60 against 22.25-26.21; C 58.0-60.5 against 50-52; ECE 1.50-2.50 against 0.50-1.00
		{"lk3", "vit", "lk3 against vit over the 3 seeds (min to max): A 18.06 to 19.60 against 22.25 to 26.21, lower; C 58.0 to 60.5 against 50 to 52, higher; ECE 1.50 to 2.50 against 0.50 to 1.00, higher.\n"},
		{"lk31", "resnet", ""}, // no resnet row: nothing
	} {
		if got := mustSh(t, ". pipelines/csv.sh; md_apart "+c.a+" "+c.b+" "+strings.Join(files, " ")); got != c.want {
			t.Errorf("md_apart %s %s:\n%q\nwant\n%q", c.a, c.b, got, c.want)
		}
	}
	// a table with two lk31 rows (say, one per severity) is not pooled
	mustSh(t, "cat "+files[1]+" >> "+files[1]+".2 && sed -n '/^| lk31/p' "+files[1]+" >> "+files[1]+".2")
	out, errOut, err := sh(t, ". pipelines/csv.sh; md_apart lk31 lk3 "+files[0]+" "+files[1]+".2 "+files[2])
	if err != nil || out != "" || !strings.Contains(errOut, "several rows lk31") {
		t.Errorf("repeated rows: %v %q %q", err, out, errOut)
	}
}
