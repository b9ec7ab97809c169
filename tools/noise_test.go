package tools_test

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
	if err != nil {
		t.Fatalf("%q: not a number", s)
	}
	return v
}

// make effective: each model's effective robustness is its shifted top-1
// minus the line fitted here, by the closed-form least squares of
// logit(shifted) on logit(clean) over the models, at its clean top-1; the
// points are the models' top-1 as lk-metrics scores each file alone (-9:
// its Mixed-Rand rows, as --by variant scores them), and the model that
// filtered the -A twin is not a point of -A's fit.
func TestReproduceEffective(t *testing.T) {
	testutil.FashionMNIST(t)
	tmp := t.TempDir()
	models := []string{"resnet", "lk3", "lk31", "vit"}
	env := fmt.Sprintf("OUT=%s/out DATA=%s/data MODELS='%s' NR=300 NC=20", tmp, tmp, strings.Join(models, " "))
	mustSh(t, env+" bash pipelines/reproduce.sh effective")
	logit := func(p float64) float64 { return math.Log(p / (100 - p)) }
	for _, set := range []string{"a", "r", "c", "9"} {
		rows := readCSV(t, mustSh(t, fmt.Sprintf("cat %s/out/work/eff-%s.csv", tmp, set)))
		want := len(models)
		if set == "a" {
			want-- // the zoo resnet filtered the -A twin
		}
		if len(rows) != want {
			t.Fatalf("-%s: %d models in the fit, want %d", set, len(rows), want)
		}
		var xs, ys []float64
		for _, r := range rows {
			if set == "a" && r["model"] == "resnet" {
				t.Error("-A: the resnet that filtered the twin is a point of the fit")
			}
			// the points: each model's files scored alone
			pr := func(kind string) string {
				return strings.TrimSpace(mustSh(t, fmt.Sprintf(". pipelines/data.sh; DATA=%s/data; NR=300; NC=20; preds %s %s", tmp, kind, r["model"])))
			}
			clean := readCSV(t, mustSh(t, "lk-metrics --format csv "+pr("clean")))[0]["top1"]
			shifted := ""
			if set == "9" {
				for _, v := range readCSV(t, mustSh(t, "lk-metrics -q --by variant --format csv "+pr("9"))) {
					if v["variant"] == "mixed_rand" {
						shifted = v["top1"]
					}
				}
			} else {
				shifted = readCSV(t, mustSh(t, "lk-metrics -q --format csv "+pr(set)))[0]["top1"]
			}
			if math.Abs(atof(t, r["clean"])-atof(t, clean)) > 0.01 || math.Abs(atof(t, r["shifted"])-atof(t, shifted)) > 0.01 {
				t.Errorf("-%s %s: clean %s shifted %s, the files alone score %s and %s", set, r["model"], r["clean"], r["shifted"], clean, shifted)
			}
			xs, ys = append(xs, logit(atof(t, r["clean"]))), append(ys, logit(atof(t, r["shifted"])))
		}
		var mx, my float64
		for i := range xs {
			mx, my = mx+xs[i]/float64(len(xs)), my+ys[i]/float64(len(xs))
		}
		var sxy, sxx float64
		for i := range xs {
			sxy += (xs[i] - mx) * (ys[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
		b := sxy / sxx
		a := my - b*mx
		for i, r := range rows {
			line := 100 / (1 + math.Exp(-(a + b*xs[i])))
			if got, want := atof(t, r["effective"]), atof(t, r["shifted"])-line; math.Abs(got-want) > 0.02 {
				t.Errorf("-%s %s: effective robustness %v, shifted minus the least-squares line %v", set, r["model"], got, want)
			}
			if lo, hi := atof(t, r["effective_lo"]), atof(t, r["effective_hi"]); !(lo <= atof(t, r["effective"]) && atof(t, r["effective"]) <= hi) {
				t.Errorf("-%s %s: interval [%v, %v] leaves out the value %s", set, r["model"], lo, hi, r["effective"])
			}
		}
		if _, err := os.Stat(fmt.Sprintf("%s/out/effective%c.png", tmp, "abcd"[strings.Index("arc9", set)])); err != nil {
			t.Errorf("-%s: no figure: %v", set, err)
		}
	}
	md := mustSh(t, fmt.Sprintf("cat %s/out/effective.md", tmp))
	if !regexp.MustCompile(`\| resnet \| - \| [+-][0-9.]+ \[`).MatchString(md) {
		t.Errorf("effective.md: no resnet row with -A left out:\n%s", md)
	}
}

// make benchmarks' table: under each model's row its intervals, each
// holding the value above it; under the table LK minus each other model,
// whose difference is that of the two rows' values, and whose * appears
// exactly where the paired interval leaves out 0.
func TestBenchmarksIntervalsAndPairs(t *testing.T) {
	testutil.FashionMNIST(t)
	tmp := t.TempDir()
	out := mustSh(t, fmt.Sprintf("DATA=%s/data BENCH_OUT=%s/b MODELS='resnet lk3 lk31' LK=lk31 PAIRS_WITH='lk3 resnet' NR=300 NC=20 NP=20 bash pipelines/benchmarks.sh", tmp, tmp))
	lines := strings.Split(out, "\n")
	var head []string
	vals := map[string][]string{}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "model" {
			head = f[1:]
		}
		if len(f) == 12 && (f[0] == "resnet" || f[0] == "lk3" || f[0] == "lk31") {
			vals[f[0]] = f[1:]
			ivs := strings.Fields(lines[i+1])
			if len(ivs) != 11 {
				t.Fatalf("%s: no interval line under its row:\n%s", f[0], out)
			}
			for j, iv := range ivs {
				b := strings.Split(strings.Trim(iv, "[]"), ",")
				if f[j+1] == "-" {
					continue
				}
				if v := atof(t, f[j+1]); v < atof(t, b[0])-0.05 || v > atof(t, b[1])+0.05 {
					t.Errorf("%s %s: %v outside its interval %s", f[0], head[j], v, iv)
				}
			}
		}
	}
	if len(vals) != 3 || len(head) != 11 {
		t.Fatalf("no table of 3 models:\n%s", out)
	}
	pair := regexp.MustCompile(`([+-][0-9.]+) \[(-?[0-9.]+),(-?[0-9.]+)\] ?(\*?)`)
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		col := -1
		for j, h := range head {
			if f[0] == h {
				col = j
			}
		}
		if col < 0 || !strings.Contains(l, "[") {
			continue
		}
		m := pair.FindAllStringSubmatch(l, -1)
		if len(m) != 2 {
			t.Errorf("%s: %d paired cells, want 2: %q", f[0], len(m), l)
			continue
		}
		for k, other := range []string{"lk3", "resnet"} {
			n++
			d, lo, hi := atof(t, m[k][1]), atof(t, m[k][2]), atof(t, m[k][3])
			if want := atof(t, vals["lk31"][col]) - atof(t, vals[other][col]); math.Abs(d-want) > 0.011 {
				t.Errorf("%s lk31 - %s: %v, the rows give %v", f[0], other, d, want)
			}
			if star := lo > 0 || hi < 0; star != (m[k][4] == "*") {
				t.Errorf("%s lk31 - %s: [%v, %v] marked %q", f[0], other, lo, hi, m[k][4])
			}
		}
	}
	if n != 22 {
		t.Errorf("%d paired cells, want 22 (11 columns x 2 models):\n%s", n, out)
	}
}
