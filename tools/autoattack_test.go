package tools_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

var zoo = []string{"lk3", "lk7", "lk13", "lk31", "resnet", "vit"}

// robustByID scores an attacked stream on the attacked model and returns,
// per image id, whether it is still classified correctly.
func robustByID(t *testing.T, model, attacked string) map[string]bool {
	t.Helper()
	out := mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/%s.onnx < %s | lk-metrics --measure robust --by id --format csv", model, attacked))
	m := map[string]bool{}
	for _, r := range readCSV(t, out) {
		v, err := strconv.ParseFloat(r["robust"], 64)
		if err != nil || (v != 0 && v != 100) {
			t.Fatalf("robust accuracy of one image: %q", r["robust"])
		}
		m[r["id"]] = v == 100
	}
	return m
}

func count(m map[string]bool) (n int) {
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// On every zoo model APGD-CE at 100 iterations leaves no more images
// correctly classified than PGD at the same eps and iterations, and its
// images stay in the eps-ball and in [0,1].
func TestAPGDNeverWeakerThanPGD(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 48 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	clean := imagesBy(t, tmp+"/x.arrow")
	const eps = 2.0 / 255
	for _, m := range zoo {
		mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/%s.onnx --attack pgd --eps %v --steps 100 < %s/x.arrow > %s/pgd.arrow", m, eps, tmp, tmp))
		mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/%s.onnx --attack apgd-ce --eps %v < %s/x.arrow > %s/apgd.arrow", m, eps, tmp, tmp))
		// compared as image counts: the printed percentage is rounded
		pgd := readCSV(t, mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/%s.onnx < %s/pgd.arrow | lk-metrics --format csv", m, tmp)))[0]
		top1, _ := strconv.ParseFloat(pgd["top1"], 64)
		p := int(math.Round(top1 * 48 / 100))
		a := count(robustByID(t, m, tmp+"/apgd.arrow"))
		t.Logf("%s: robust accuracy at eps 2/255, 100 iterations: PGD %d of 48, APGD-CE %d", m, p, a)
		if a > p {
			t.Errorf("%s: APGD-CE leaves %d of 48 correct, PGD %d", m, a, p)
		}
		for k, adv := range imagesBy(t, tmp+"/apgd.arrow") {
			for i, v := range adv {
				x := clean[k][i]
				if v < 0 || v > 1 || math.Abs(float64(v-x)) > eps+1e-6 {
					t.Fatalf("%s: image %s pixel %d: %v from %v, outside the eps-ball or [0,1]", m, k, i, v, x)
				}
			}
		}
	}
}

// FAB-T, a minimum-norm attack, against APGD-T on the zoo at AutoAttack's
// settings but fewer iterations and targets: at eps 2/255 it leaves at
// most 4 of 48 images more correct than APGD-T, its images stay in the
// eps-ball and in [0,1], and each image it counts as broken is
// misclassified.
func TestFABAgainstAPGD(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 48 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	clean := imagesBy(t, tmp+"/x.arrow")
	const eps = 2.0 / 255
	for _, m := range []string{"resnet", "lk31", "vit"} {
		counts := map[string]int{}
		for _, a := range []string{"apgd-t", "fab-t"} {
			f := fmt.Sprintf("%s/%s.arrow", tmp, a)
			mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/%s.onnx --attack %s --eps %v --steps 30 --targets 3 < %s/x.arrow > %s", m, a, eps, tmp, f))
			counts[a] = count(robustByID(t, m, f)) // robustByID checks broken_by against the predictions
			if a == "fab-t" {
				for k, adv := range imagesBy(t, f) {
					for i, v := range adv {
						if x := clean[k][i]; v < 0 || v > 1 || math.Abs(float64(v-x)) > eps+1e-6 {
							t.Fatalf("%s: FAB-T image %s pixel %d: %v from %v, outside the eps-ball or [0,1]", m, k, i, v, x)
						}
					}
				}
			}
		}
		t.Logf("%s: robust images of 48 at eps 2/255: APGD-T %d, FAB-T %d", m, counts["apgd-t"], counts["fab-t"])
		if counts["fab-t"] > counts["apgd-t"]+4 {
			t.Errorf("%s: FAB-T leaves %d of 48 correct, APGD-T %d", m, counts["fab-t"], counts["apgd-t"])
		}
	}
}

// On every zoo model the images autoattack leaves correct are exactly
// those every one of its attacks, run alone, leaves correct: each attack
// runs per image with its own random draws, so it is never weaker than
// any of its parts. At eps 0 robust accuracy is the clean accuracy.
func TestAutoAttackIsItsParts(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 32 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	const budget = "--eps 0.006 --seed 3"
	for _, m := range zoo {
		run := func(attack, flags string) map[string]bool {
			f := fmt.Sprintf("%s/%s.arrow", tmp, attack)
			mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/%s.onnx --attack %s %s %s < %s/x.arrow > %s", m, attack, budget, flags, tmp, f))
			return robustByID(t, m, f)
		}
		aa := run("autoattack", "--steps 10 --targets 3 --queries 40")
		parts := []map[string]bool{run("apgd-ce", "--steps 10"), run("apgd-t", "--steps 10 --targets 3"), run("fab-t", "--steps 10 --targets 3"), run("square", "--queries 40")}
		for id, ok := range aa {
			want := parts[0][id] && parts[1][id] && parts[2][id] && parts[3][id]
			if ok != want {
				t.Errorf("%s: image %s: autoattack robust %v; apgd-ce %v, apgd-t %v, fab-t %v, square %v", m, id, ok, parts[0][id], parts[1][id], parts[2][id], parts[3][id])
			}
		}
		t.Logf("%s: robust images: autoattack %d, apgd-ce %d, apgd-t %d, fab-t %d, square %d of %d", m, count(aa), count(parts[0]), count(parts[1]), count(parts[2]), count(parts[3]), len(aa))
	}
	out := mustSh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/lk31.onnx --attack autoattack --eps 0 < %s/x.arrow | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --measure robust --format csv", tmp))
	r := readCSV(t, out)[0]
	clean := readCSV(t, mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/lk31.onnx < %s/x.arrow | lk-metrics --format csv", tmp)))[0]
	for _, k := range []string{"clean", "robust_after_apgd-ce", "robust_after_apgd-t", "robust_after_fab-t", "robust_after_square", "robust"} {
		if r[k] != clean["top1"] {
			t.Errorf("eps 0: %s %s, clean top-1 %s", k, r[k], clean["top1"])
		}
	}
}

// A fixed-seed autoattack gives the same bytes whatever --batch, the same
// images whatever the input's record size, and a run killed mid-way and
// resumed by key the bytes of one run.
func TestAutoAttackBytes(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 24 --rows 13 %s > %s/x.arrow", fm, tmp))
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 24 --rows 5 %s > %s/x5.arrow", fm, tmp))
	args := []string{"-q", "--model", "testdata/zoo/lk7.onnx", "--attack", "autoattack", "--eps", "0.006,0.01", "--steps", "10", "--targets", "2", "--queries", "30", "--seed", "9"}
	cmd := "lk-attack " + strings.Join(args, " ")
	a := mustSh(t, fmt.Sprintf("%s --batch 32 < %s/x.arrow | tee %s/a.arrow | sha256sum", cmd, tmp, tmp))
	b := mustSh(t, fmt.Sprintf("%s --batch 3 < %s/x.arrow | sha256sum", cmd, tmp))
	if a != b {
		t.Errorf("autoattack bytes differ with --batch 32 and 3")
	}
	mustSh(t, fmt.Sprintf("%s --batch 4 < %s/x5.arrow > %s/c.arrow", cmd, tmp, tmp))
	want, got := imagesBy(t, tmp+"/a.arrow", "eps", "broken_by"), imagesBy(t, tmp+"/c.arrow", "eps", "broken_by")
	if len(got) != len(want) || len(want) != 48 {
		t.Fatalf("%d and %d images by id, eps and broken_by, want 48", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g, w) {
			t.Fatalf("image %s differs when the input comes in records of 5", k)
		}
	}
	// kill a run once it has written its first record, then resume it
	out := tmp + "/r.arrow"
	c := exec.Command(filepath.Join(bin, "lk-attack"), append(args, "--out", out)...)
	c.Dir = testutil.Root(t)
	f, _ := os.Open(tmp + "/x.arrow")
	defer f.Close()
	c.Stdin = f
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	killWhenWritten(t, c, out, 13*3*32*32*4)
	mustSh(t, fmt.Sprintf("%s --out %s --resume < %s/x.arrow", cmd, out, tmp))
	if r := mustSh(t, "sha256sum < "+out); r != a {
		t.Errorf("the resumed run's bytes differ from one run's")
	}
}

// Bad combinations are refused with a message naming the flag.
func TestAutoAttackBadInput(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 4 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	for _, c := range []struct{ args, want string }{
		{"--attack apgd-t --targets 8", "need at least 9"},
		{"--attack apgd-ce --steps 5,10", "--steps: apgd-ce takes one iteration count"},
		{"--attack square --steps 5", "--steps is for"},
		{"--attack apgd-ce --queries 10", "--queries is for square and autoattack"},
		{"--attack pgd --targets 3 --eps 0.1", "--targets is for apgd-t, fab-t and autoattack"},
	} {
		_, errOut, err := sh(t, fmt.Sprintf("lk-attack -q --model testdata/zoo/lk3.onnx %s < %s/x.arrow > /dev/null", c.args, tmp))
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: %v, stderr %q; want %q", c.args, err, errOut, c.want)
		}
	}
}

// On torchvision's resnet50 and vit_b_16 (random weights, exported by
// make_arch.py when PyTorch is present) at 224 px: autoattack labels each
// image with what broke it and lk-metrics agrees with the predictions;
// at eps 0 robust accuracy is the clean one. lk-erf draws resnet50's ERF
// at its last stage and tells a ViT's tokens apart from a feature map.
func TestAutoAttackAndERFTorchvision(t *testing.T) {
	dir := testutil.BigModels(t)
	tmp := t.TempDir()
	collageList(t, tmp+"/list.txt", 0)
	for _, m := range []string{"resnet50", "vit_b_16"} {
		// labels: the model's own predictions, so that every image starts correct
		mustSh(t, fmt.Sprintf("lk-data -q --resize 256 --crop 224 %s/list.txt | lk-infer -q --model %s/%s.onnx > %s/p.arrow", tmp, dir, m, tmp))
		p := readPredictions(t, tmp+"/p.arrow")
		relabelled := ""
		for i, id := range p.ids {
			relabelled += fmt.Sprintf("%s %d\n", id, argmax(p.logits[i*1000:(i+1)*1000]))
		}
		os.WriteFile(tmp+"/l.txt", []byte(relabelled), 0o644)
		mustSh(t, fmt.Sprintf("lk-data -q --resize 256 --crop 224 %s/l.txt > %s/x.arrow", tmp, tmp))
		for _, eps := range []string{"0", "0.0157"} {
			mustSh(t, fmt.Sprintf("lk-attack -q --model %s/%s.onnx --attack autoattack --eps %s --steps 5 --targets 3 --queries 20 --seed 1 < %s/x.arrow > %s/aa.arrow", dir, m, eps, tmp, tmp))
			r := readCSV(t, mustSh(t, fmt.Sprintf("lk-infer -q --model %s/%s.onnx < %s/aa.arrow | lk-metrics --measure robust --format csv", dir, m, tmp)))[0]
			t.Logf("%s eps %s: %v", m, eps, r)
			if r["clean"] != "100.00" || r["n"] != "3" {
				t.Errorf("%s eps %s: %v, want 3 images all correct before the attack", m, eps, r)
			}
			if eps == "0" && r["robust"] != "100.00" {
				t.Errorf("%s at eps 0: robust %s, want the clean 100.00", m, r["robust"])
			}
		}
	}
	mustSh(t, fmt.Sprintf("lk-data -q --resize 256 --crop 224 %s/list.txt > %s/x.arrow", tmp, tmp))
	rows := erfTable(t, fmt.Sprintf("--model %s/resnet50.onnx --images 3 --areas", dir), tmp+"/x.arrow")
	var sides []int
	for _, r := range rows {
		if r["threshold"] != "" {
			s, _ := strconv.Atoi(r["side"])
			sides = append(sides, s)
		}
	}
	if len(sides) != 4 || !slices.IsSorted(sides) || sides[3] > 224 || sides[0] < 1 {
		t.Errorf("resnet50 ERF square sides per threshold %v, want 4 growing sides within 224", sides)
	}
	_, errOut, err := sh(t, fmt.Sprintf("lk-erf -q --model %s/vit_b_16.onnx --images 3 < %s/x.arrow", dir, tmp))
	if err == nil || !strings.Contains(errOut, "name one with --node") {
		t.Errorf("lk-erf on a ViT: %v %s, want an error asking for --node", err, errOut)
	}
}
