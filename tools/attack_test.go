package tools_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// attacked reads an attacked stream's pixels by "id eps steps"; plain
// image streams are read by id (imagesBy, corrupt_test.go).
func attacked(t *testing.T, path string) map[string][]float32 {
	return imagesBy(t, path, "eps", "steps")
}

// FGSM through ONNX Runtime's gradients gives PyTorch's accuracy at every
// eps (testdata/grad/make_grad.py) within 0.5 points on 1,000 images.
func TestFGSMMatchesPyTorch(t *testing.T) {
	var ref struct {
		FGSM struct {
			Eps  []float64            `json:"eps"`
			Top1 map[string][]float64 `json:"top1"`
		} `json:"fgsm"`
	}
	readJSON(t, "testdata/grad/grad.json", &ref)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 1000 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	var eps []string
	for _, e := range ref.FGSM.Eps {
		eps = append(eps, strconv.FormatFloat(e, 'g', -1, 64))
	}
	for name, want := range ref.FGSM.Top1 {
		out := mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/%s.onnx --attack fgsm --eps %s < %s/x.arrow | lk-infer -q --model testdata/zoo/%s.onnx | lk-metrics --by eps --format csv",
			name, strings.Join(eps, ","), tmp, name))
		rows := readCSV(t, out)
		for i, r := range rows {
			got, _ := strconv.ParseFloat(r["top1"], 64)
			if math.Abs(got-want[i]) > 0.5 {
				t.Errorf("%s FGSM eps %s: top-1 %.2f, PyTorch %.2f", name, r["eps"], got, want[i])
			}
			succ, _ := strconv.ParseFloat(r["success_rate"], 64)
			if math.Abs(succ-(100-got)) > 1e-9 {
				t.Errorf("success rate %v with top-1 %v", succ, got)
			}
		}
	}
}

// PGD at eps 0 leaves every image as it was: the clean accuracy exactly.
// A run with steps 1,3 gives the same 3-step images as a run with steps 3,
// and the images do not depend on how the stream is cut into records.
func TestPGD(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 200 %s > %s/x.arrow", fm, tmp))
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 200 --rows 7 %s > %s/x7.arrow", fm, tmp))
	clean := readCSV(t, mustSh(t, "lk-infer -q --model testdata/zoo/lk7.onnx < "+tmp+"/x.arrow | lk-metrics --format csv"))
	zero := readCSV(t, mustSh(t, "lk-attack -q --model testdata/zoo/lk7.onnx --attack pgd --eps 0 < "+tmp+"/x.arrow | lk-infer -q --model testdata/zoo/lk7.onnx | lk-metrics --format csv"))
	if clean[0]["top1"] != zero[0]["top1"] || clean[0]["xent"] != zero[0]["xent"] {
		t.Errorf("PGD at eps 0: %v, clean %v", zero[0], clean[0])
	}
	mustSh(t, "lk-attack -q --model testdata/zoo/lk7.onnx --attack pgd --eps 0.01,0.03 --steps 1,3 --seed 9 < "+tmp+"/x.arrow > "+tmp+"/a.arrow")
	mustSh(t, "lk-attack -q --model testdata/zoo/lk7.onnx --attack pgd --eps 0.03 --steps 3 --seed 9 < "+tmp+"/x7.arrow > "+tmp+"/b.arrow")
	a, b := attacked(t, tmp+"/a.arrow"), attacked(t, tmp+"/b.arrow")
	if len(a) != 800 || len(b) != 200 {
		t.Fatalf("%d and %d attacked images, want 800 and 200", len(a), len(b))
	}
	orig := imagesBy(t, tmp+"/x.arrow")
	for k, v := range b {
		w := a[k]
		if w == nil {
			t.Fatalf("%s missing from the steps 1,3 run", k)
		}
		for i := range v {
			if v[i] != w[i] {
				t.Fatalf("%s pixel %d: %v with records of 7 rows and steps 3, %v with records of 32 and steps 1,3", k, i, v[i], w[i])
			}
		}
	}
	for k, v := range a { // within the eps-ball of the original, in [0,1]
		id := strings.Fields(k)[0]
		e, _ := strconv.ParseFloat(strings.Fields(k)[1], 64)
		for i, p := range v {
			if p < 0 || p > 1 || math.Abs(float64(p-orig[id][i])) > e+1e-6 {
				t.Fatalf("%s pixel %d: %v from %v", k, i, p, orig[id][i])
			}
		}
	}
	// more steps, lower accuracy
	acc := readCSV(t, mustSh(t, "lk-infer -q --model testdata/zoo/lk7.onnx < "+tmp+"/a.arrow | lk-metrics --by eps,steps --format csv"))
	top := map[string]float64{}
	for _, r := range acc {
		top[r["eps"]+"/"+r["steps"]], _ = strconv.ParseFloat(r["top1"], 64)
	}
	c, _ := strconv.ParseFloat(clean[0]["top1"], 64)
	if !(top["0.03/3"] < top["0.03/1"] && top["0.03/1"] < c && top["0.01/3"] < c) {
		t.Errorf("PGD accuracies %v, clean %v", top, c)
	}
}

// TAIG-R's images are 8-bit values inside the eps-ball, lower the
// surrogate's accuracy, and are scored on other models.
func TestTAIG(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 64 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	mustSh(t, "lk-attack -q --model testdata/zoo/lk3.onnx --attack taig --steps 4 --points 6 < "+tmp+"/x.arrow > "+tmp+"/t.arrow")
	adv, orig := attacked(t, tmp+"/t.arrow"), imagesBy(t, tmp+"/x.arrow")
	if len(adv) != 64 {
		t.Fatalf("%d images", len(adv))
	}
	for k, v := range adv {
		id := strings.Fields(k)[0]
		for i, p := range v {
			q := float64(p) * 255
			if math.Abs(q-math.Round(q)) > 1e-3 || math.Abs(float64(p-orig[id][i])) > 16.0/255+1.0/255 {
				t.Fatalf("%s pixel %d: %v (original %v)", k, i, p, orig[id][i])
			}
		}
	}
	clean := readCSV(t, mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx < "+tmp+"/x.arrow | lk-metrics --format csv"))
	rows := readCSV(t, mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx < "+tmp+"/t.arrow | lk-metrics --by attack --format csv"))
	c, _ := strconv.ParseFloat(clean[0]["top1"], 64)
	a, _ := strconv.ParseFloat(rows[0]["top1"], 64)
	if !(a < c) || rows[0]["success_rate"] == "" {
		t.Errorf("TAIG on the surrogate: %v, clean %v", rows[0], c)
	}
}

func TestAttackBadInput(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	cases := []struct{ script, want string }{
		{fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 20 %s | lk-attack -q --model testdata/zoo/lk3.onnx --attack fgsm --eps 0.01", fm), "label 9; an attack needs a true class of the model's 8"},
		{"lk-attack --model testdata/zoo/lk3.onnx --attack fgsm", "--eps is required"},
		{"lk-attack --model testdata/zoo/lk3.onnx --attack fgsm --eps 2", "--eps 2: want numbers in [0,1]"},
		{"lk-attack --model testdata/zoo/lk3.onnx --attack cw --eps 0.1", "--attack \"cw\""},
		{"lk-attack --model testdata/zoo/lk3.onnx --attack fgsm --eps 0.1 --steps 3", "--steps is for pgd, taig"},
		{fmt.Sprintf("lk-data -q --limit 4 %s | lk-attack -q --model testdata/zoo/lk3.onnx --attack fgsm --eps 0.1", fm), "column image is 1x28x28, the model lk3 expects 3x32x32"},
	}
	for _, c := range cases {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
	}
}

// --batch bounds the images of one gradient run; the attacked images do
// not depend on it (nor on the input's record size), and the saliency of
// lk-occlude does not depend on --saliency-batch.
func TestBatchDoesNotChangeBytes(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 --rows 13 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	for _, c := range []struct{ name, cmd, flag string }{
		{"pgd", "lk-attack -q --model testdata/zoo/lk3.onnx --attack pgd --eps 0.03 --steps 2 --seed 5", "--batch"},
		{"occlude", "lk-occlude --patch 4 --mode salient --lambdas 0.5 --saliency-grad testdata/zoo/lk3.onnx", "--saliency-batch"},
	} {
		a := mustSh(t, fmt.Sprintf("%s %s 32 < %s/x.arrow | sha256sum", c.cmd, c.flag, tmp))
		b := mustSh(t, fmt.Sprintf("%s %s 3 < %s/x.arrow | sha256sum", c.cmd, c.flag, tmp))
		if a != b {
			t.Errorf("%s: %s 32 and 3 give different bytes", c.name, c.flag)
		}
	}
}
