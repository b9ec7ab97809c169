package tools_test

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// A sweep's bytes depend on the seed and the images only: not on the
// number of workers nor on how the stream is cut into records.
func TestCorruptDeterministic(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 40 %s > %s/a.arrow", fm, tmp))
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 40 --rows 7 %s > %s/b.arrow", fm, tmp))
	mustSh(t, "lk-corrupt -q --corruptions gaussian_noise,impulse_noise,zoom_blur --severities 2,5 --seed 4 --workers 1 < "+tmp+"/a.arrow > "+tmp+"/a.out")
	mustSh(t, "lk-corrupt -q --corruptions gaussian_noise,impulse_noise,zoom_blur --severities 2,5 --seed 4 --workers 3 < "+tmp+"/b.arrow > "+tmp+"/b.out")
	a, b := imagesBy(t, tmp+"/a.out", "corruption", "severity"), imagesBy(t, tmp+"/b.out", "corruption", "severity")
	if len(a) != 240 || len(b) != 240 {
		t.Fatalf("%d and %d images, want 240", len(a), len(b))
	}
	for k, v := range a {
		w := b[k]
		if w == nil {
			t.Fatalf("%s missing", k)
		}
		for i := range v {
			if v[i] != w[i] {
				t.Fatalf("%s pixel %d: %v with 1 worker and records of 32, %v with 3 and records of 7", k, i, v[i], w[i])
			}
		}
	}
}

// imagesBy reads an image stream's pixels keyed by id and the values of
// the named columns.
func imagesBy(t *testing.T, path string, cols ...string) map[string][]float32 {
	t.Helper()
	r := openStream(t, path)
	ic, err := stream.Images(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, c := range cols {
		idx = append(idx, r.Schema().FieldIndices(c)[0])
	}
	out := map[string][]float32{}
	for r.Next() {
		rec := r.Record()
		px, _, _ := stream.Float32Rows(rec.Column(ic.Image))
		sz := len(px) / int(rec.NumRows())
		ids := rec.Column(ic.ID).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			k := ids.Value(i)
			for _, j := range idx {
				k += " " + rec.Column(j).ValueStr(i)
			}
			out[k] = append([]float32(nil), px[i*sz:(i+1)*sz]...)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCorruptBadInput(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	cases := []struct{ script, want string }{
		{fmt.Sprintf("lk-data -q --limit 4 %s | lk-corrupt -q --corruptions contrast", fm), "images are 1x28x28; the corruptions and perturbations are defined on RGB images (lk-data --gray3"},
		{"lk-corrupt --corruptions frostbite < /dev/null", "\"frostbite\" is not one of"},
		{"lk-corrupt --corruptions contrast --severities 0-7 < /dev/null", "severities are 1 to 5"},
		{"lk-corrupt < /dev/null", "--corruptions (or --perturbations) is required"},
	}
	for _, c := range cases {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
	}
}

// lk-data reads an ImageNet-C tree into a stream with the columns that
// lk-corrupt writes, so real and generated sweeps score alike.
func TestDataImageNetC(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"fog/2/n01440764/a.png", "contrast/5/n01443537/b.png"} {
		mustSh(t, fmt.Sprintf("mkdir -p %s/%s && cp testdata/images/collage-500x375.bilinear.png %s/%s", root, p[:strings.LastIndex(p, "/")], root, p))
	}
	mustSh(t, fmt.Sprintf("lk-data -q --resize 36 --crop 32 %s > %s/c.arrow", root, root))
	imgs := imagesBy(t, root+"/c.arrow", "corruption", "severity")
	if imgs["contrast/5/n01443537/b.png contrast 5"] == nil || imgs["fog/2/n01440764/a.png fog 2"] == nil || len(imgs) != 2 {
		var keys []string
		for k := range imgs {
			keys = append(keys, k)
		}
		t.Errorf("rows %v", keys)
	}
}

// A sweep through the whole chain; normalised by itself, every CE and the
// mCE are 100 (CE is 1 at the baseline's errors); AlexNet-normalised CE is
// error / AlexNet's error.
func TestCESweep(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 24 %s | lk-corrupt -q --corruptions all | lk-infer -q --model testdata/zoo/lk3.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp))
	mustSh(t, "lk-metrics --measure ce --by model "+tmp+"/p.arrow > "+tmp+"/base.arrow")
	rows := readCSV(t, mustSh(t, "lk-metrics --measure ce --by model --baseline "+tmp+"/base.arrow --format csv "+tmp+"/p.arrow"))
	if len(rows) != 19+3 {
		t.Fatalf("%d rows, want 19 corruptions and 3 summaries", len(rows))
	}
	for _, r := range rows {
		if r["ce"] != "100.00" && !(r["error"] == "0.00" && r["ce"] == "") {
			t.Errorf("self-normalised CE %v", r)
		}
	}
	alex := readCSV(t, mustSh(t, "lk-metrics --measure ce --by model --format csv "+tmp+"/p.arrow"))
	for _, r := range alex {
		if r["corruption"] == "fog" {
			e, _ := strconv.ParseFloat(r["error"], 64)
			ce, _ := strconv.ParseFloat(r["ce"], 64)
			if math.Abs(ce-e/0.819324) > 0.01 {
				t.Errorf("fog: error %v, CE %v, want error / 0.819324", e, ce)
			}
		}
	}
	_, errOut, err := sh(t, "lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 4 "+testutil.FashionMNIST(t)+" | lk-corrupt -q --corruptions fog --severities 1-2 | lk-infer -q --model testdata/zoo/lk3.onnx | lk-metrics --measure ce")
	if err == nil || !strings.Contains(errOut, "corruption fog has 2 severities; CE averages all 5") {
		t.Errorf("partial severities: %v %q", err, errOut)
	}
}

// OOD detection from two prediction streams: a stream against itself is
// chance (AUROC 50); without --positive the tool says what it needs.
func TestOODMeasure(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 200 %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp))
	rows := readCSV(t, mustSh(t, "lk-metrics --measure ood --allow-duplicates --by model --positive "+tmp+"/p.arrow --format csv "+tmp+"/p.arrow"))
	if rows[0]["auroc"] != "50.00" || rows[0]["n"] != "400" {
		t.Errorf("a stream against itself: %v", rows[0])
	}
	// the same rows as positives and negatives are refused unless allowed
	if _, errOut, err := sh(t, "lk-metrics --measure ood --by model --positive "+tmp+"/p.arrow "+tmp+"/p.arrow"); err == nil || !strings.Contains(errOut, "duplicate row key") {
		t.Errorf("the same stream as positives and negatives: %v %q", err, errOut)
	}
	_, errOut, err := sh(t, "lk-metrics --measure ood "+tmp+"/p.arrow")
	if err == nil || !strings.Contains(errOut, "--measure ood needs --positive FILE") {
		t.Errorf("no positives: %v %q", err, errOut)
	}
}

// Sequences through the chain: every sequence is scored once per
// perturbation at any stride, FP is a percentage, and a stream that is not
// sequences is refused with what is needed.
func TestSequencesFP(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 12 %s | lk-corrupt -q --perturbations translate,gaussian_noise | lk-infer -q --model testdata/zoo/lk3.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp))
	for _, stride := range []string{"1", "3"} {
		rows := readCSV(t, mustSh(t, "lk-metrics --measure fp --stride "+stride+" --by model --format csv "+tmp+"/p.arrow"))
		if len(rows) != 2 {
			t.Fatalf("rows %v", rows)
		}
		for _, r := range rows {
			fp, _ := strconv.ParseFloat(r["fp"], 64)
			if r["n"] != "12" || fp < 0 || fp > 100 {
				t.Errorf("stride %s: %v", stride, r)
			}
		}
	}
	// normalised by itself: FR and the T5D ratio are 100
	mustSh(t, "lk-metrics --measure fp --by model "+tmp+"/p.arrow > "+tmp+"/base.arrow")
	for _, r := range readCSV(t, mustSh(t, "lk-metrics --measure fp --by model --baseline "+tmp+"/base.arrow --format csv "+tmp+"/p.arrow")) {
		if r["fr"] != "100.00" && r["fp"] != "0.00" {
			t.Errorf("self-normalised FR %v", r)
		}
	}
	_, errOut, err := sh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 4 %s | lk-infer -q --model testdata/zoo/lk3.onnx | lk-metrics --measure fp", testutil.FashionMNIST(t)))
	if err == nil || !strings.Contains(errOut, "no column perturbation; flip probability needs sequences") {
		t.Errorf("not sequences: %v %q", err, errOut)
	}
}

// lk-data --tag adds constant columns (ImageNet-9's variants scored in one
// table); a tag may not shadow a stream column.
func TestDataTags(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	for _, v := range []string{"mixed_same", "mixed_rand"} {
		mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 16 --tag variant=%s %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s/%s.arrow", v, fm, tmp, v))
	}
	rows := readCSV(t, mustSh(t, "lk-metrics --by variant --format csv "+tmp+"/mixed_same.arrow "+tmp+"/mixed_rand.arrow"))
	// the same images under two tags: BG-Gap 0
	if len(rows) != 3 || rows[0]["variant"] != "mixed_rand" || rows[1]["variant"] != "mixed_same" || rows[2]["bg_gap"] != "0.00" {
		t.Errorf("rows %v", rows)
	}
	_, errOut, err := sh(t, "lk-data -q --tag label=3 "+fm+" > /dev/null")
	if err == nil || !strings.Contains(errOut, "column label is already in the stream") {
		t.Errorf("shadowing tag: %v %q", err, errOut)
	}
}

// Every image failing (zoom blur needs square images) is one clear error,
// not a hang, however few the workers.
func TestCorruptErrorsDoNotHang(t *testing.T) {
	root := t.TempDir()
	mustSh(t, fmt.Sprintf("mkdir -p %s/x && for i in 1 2 3; do cp testdata/images/collage-500x375.jpg %s/x/$i.jpg; done", root, root))
	_, errOut, err := sh(t, fmt.Sprintf("lk-data -q --resize 40 %s | timeout 60 lk-corrupt -q --workers 1 --corruptions zoom_blur", root))
	if err == nil || !strings.Contains(errOut, "zoom_blur needs a square image") {
		t.Errorf("err %v, stderr %q", err, errOut)
	}
}

// lk-data reads an ImageNet-P tree (mp4 videos through ffmpeg) into a
// sequence stream that lk-metrics --measure fp scores: its flip
// probabilities equal ones counted here from the predictions (noise:
// against frame 0; others: consecutive frames).
func TestDataImageNetP(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, "lk-data -q testdata/imagenet-p | lk-infer -q --model testdata/zoo/resnet.onnx > "+tmp+"/p.arrow")
	p := readPredictions(t, tmp+"/p.arrow")
	if len(p.ids) != 25 {
		t.Fatalf("%d frames, want 25", len(p.ids))
	}
	k := len(p.logits) / len(p.ids)
	argmax := func(i int) int {
		best := 0
		for j := range k {
			if p.logits[i*k+j] > p.logits[i*k+best] {
				best = j
			}
		}
		return best
	}
	// id: FOLDER/WNID/NAME.mp4/FRAME; per folder, the mean over videos of
	// each video's flip rate
	type video struct{ flips, pairs int }
	videos := map[string]*video{}
	first := map[string]int{}
	prev := map[string]int{}
	for i, id := range p.ids {
		seq := id[:strings.LastIndexByte(id, '/')]
		ref, ok := prev[seq]
		if strings.Contains(seq, "noise") {
			ref = first[seq]
		}
		if !ok {
			first[seq] = argmax(i)
			videos[seq] = &video{}
		} else {
			videos[seq].pairs++
			if argmax(i) != ref {
				videos[seq].flips++
			}
		}
		prev[seq] = argmax(i)
	}
	want := map[string]float64{}
	count := map[string]int{}
	for seq, v := range videos {
		folder := seq[:strings.IndexByte(seq, '/')]
		want[folder] += float64(v.flips) / float64(v.pairs)
		count[folder]++
	}
	rows := readCSV(t, mustSh(t, "lk-metrics --measure fp --by difficulty --format csv "+tmp+"/p.arrow"))
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	for _, r := range rows {
		folder := r["perturbation"]
		if r["difficulty"] != "1" {
			folder += "_" + r["difficulty"]
		}
		fp, _ := strconv.ParseFloat(r["fp"], 64)
		if w := 100 * want[folder] / float64(count[folder]); math.Abs(fp-w) > 0.006 || r["n"] != strconv.Itoa(count[folder]) {
			t.Errorf("%s: fp %v over %s videos, counted %.2f over %d", folder, fp, r["n"], w, count[folder])
		}
	}
}

// lk-select keeps exactly the rows a model gets wrong with a softmax of at
// least the bound (counted here from the logits), as an image stream that
// another model can run on (the -A twin).
func TestSelectMisclassified(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 400 %s | lk-infer -q --model testdata/zoo/resnet.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp))
	mustSh(t, "lk-select -q --misclassified --min-confidence 0.6 < "+tmp+"/p.arrow > "+tmp+"/a.arrow")
	p := readPredictions(t, tmp+"/p.arrow")
	labels := readLabels(t, tmp+"/p.arrow")
	var want []string
	for i, id := range p.ids {
		l := p.logits[i*8 : i*8+8]
		top, z := 0, 0.0
		for j := range l {
			if l[j] > l[top] {
				top = j
			}
		}
		for j := range l {
			z += math.Exp(float64(l[j] - l[top]))
		}
		if int32(top) != labels[i] && 1/z >= 0.6 {
			want = append(want, id)
		}
	}
	got := readIDs(t, tmp+"/a.arrow")
	if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kept %v, want %v", got, want)
	}
	// another model runs on the selection
	rows := readCSV(t, mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx < "+tmp+"/a.arrow | lk-metrics --format csv"))
	if len(rows) != 1 || rows[0]["n"] != strconv.Itoa(len(want)) {
		t.Errorf("lk3 on the selection: %v", rows)
	}
	_, errOut, err := sh(t, "lk-select --drop nosuch < "+tmp+"/p.arrow > /dev/null")
	if err == nil || !strings.Contains(errOut, `no column "nosuch" to drop`) {
		t.Errorf("bad --drop: %v %q", err, errOut)
	}
}

func readLabels(t *testing.T, path string) []int32 {
	t.Helper()
	r := openStream(t, path)
	var out []int32
	for r.Next() {
		out = append(out, r.Record().Column(1).(*array.Int32).Int32Values()...)
	}
	return out
}

// Frost numbers are comparable with ImageNet-C's only when made with the
// reference's photographs: the provenance says which frost made them.
func TestCorruptFrostProvenance(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 2 %s > %s/x.arrow", fm, tmp))
	white := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	for _, name := range []string{"frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"} {
		f, err := os.Create(tmp + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, white) // read by content, not by extension
		f.Close()
	}
	for _, c := range []struct{ flags, want string }{
		{"--corruptions frost", "procedural"},
		{"--corruptions frost --frost-dir " + tmp, "photographs"},
		{"--corruptions fog", ""},
	} {
		mustSh(t, fmt.Sprintf("lk-corrupt -q %s --severities 1 < %s/x.arrow > %s/y.arrow", c.flags, tmp, tmp))
		got := mustSh(t, "strings "+tmp+"/y.arrow | grep -o 'frost[^a-z:-]*:[^a-z]*[a-z]*' || true")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: provenance records frost as %q, want %s", c.flags, got, c.want)
		}
	}
}
