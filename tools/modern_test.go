package tools_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// Every model-reading tool on every export of testdata/modern (today's
// PyTorch: opsets 17-20, fixed, declared and baked batches, model-local
// functions, external data) runs and agrees with the same weights'
// dynamic opset-17 export, whose logits and gradients lib/grad's
// TestModernExportsMatchPyTorch checks against PyTorch; or it refuses with
// an error that names the cause (an ERF of a ViT, kernel distances of a
// model without depthwise convolutions).
func TestModernExportsEveryTool(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	imgs := filepath.Join(tmp, "x.arrow")
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 6 %s > %s", testutil.FashionMNIST(t), imgs))
	dir := testutil.Path(t, "testdata", "modern")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if len(paths) < 29 {
		t.Fatalf("%s holds %d models, want 29", dir, len(paths))
	}
	type outputs struct {
		logits, adv   map[string][]float32
		erf           []float64
		featvar, attn string
		summary       string
		lesion        string
		occlude       map[string][]float32
	}
	run := func(t *testing.T, path string) outputs {
		fam := strings.SplitN(filepath.Base(path), "-", 2)[0]
		var o outputs
		w := filepath.Join(tmp, strings.TrimSuffix(filepath.Base(path), ".onnx"))
		os.MkdirAll(w, 0o755)
		mustSh(t, fmt.Sprintf("lk-infer -q --model %s < %s > %s/p.arrow", path, imgs, w))
		o.logits = logitsBy(t, w+"/p.arrow")
		mustSh(t, fmt.Sprintf("lk-attack -q --model %s --attack fgsm --eps 0.03 < %s > %s/a.arrow", path, imgs, w))
		o.adv = attacked(t, w+"/a.arrow")
		// layer names follow the export's module names (a wrapper's /m/...)
		o.featvar = mustSh(t, fmt.Sprintf("lk-featvar -q --name m --model %s --format csv < %s | cut -d, -f1,2,4-", path, imgs))
		// the model's name and file are the only columns that may differ
		o.summary = strings.Join(strings.Split(mustSh(t, fmt.Sprintf("lk-summary --format csv %s | cut -d, -f3-", path)), "\n"), ";")
		o.lesion = mustSh(t, fmt.Sprintf("lk-lesion --model %s --n 1 --samples 2 --seed 3 --out %s/lesion >/dev/null && cd %s/lesion && ls *.onnx | wc -l", path, w, w))
		mustSh(t, fmt.Sprintf("lk-occlude -q --saliency-grad %s --patch 8 --mode salient --lambdas 0.5 < %s > %s/o.arrow", path, imgs, w))
		o.occlude = imagesBy(t, w+"/o.arrow", stream.ColDropMode, stream.ColDropRatio)
		switch fam {
		case "vit":
			_, errOut, err := sh(t, fmt.Sprintf("lk-erf -q --model %s --images 3 --format csv < %s", path, imgs))
			if err == nil || !strings.Contains(errOut, "the ERF needs a feature map") {
				t.Fatalf("lk-erf on a ViT: %v, want a refusal naming the feature map it needs\n%s", err, errOut)
			}
		default:
			rows := readCSV(t, mustSh(t, fmt.Sprintf("lk-erf -q --model %s --images 3 --format csv < %s", path, imgs)))
			for _, r := range rows {
				v, _ := strconv.ParseFloat(r["score"], 64)
				o.erf = append(o.erf, v)
			}
		}
		out, errOut, err := sh(t, fmt.Sprintf("lk-attn-dist --model %s --format csv | cut -d, -f2-", path))
		switch {
		case fam == "lk" && err != nil:
			t.Fatalf("lk-attn-dist: %v\n%s", err, errOut)
		case fam != "lk" && (err == nil || !strings.Contains(errOut, "no depthwise Conv")):
			t.Fatalf("lk-attn-dist without depthwise convolutions: %v, want a refusal naming them\n%s", err, errOut)
		}
		o.attn = out
		return o
	}
	ref := map[string]outputs{}
	for _, fam := range []string{"resnet", "lk", "vit"} {
		ref[fam] = run(t, filepath.Join(dir, fam+"-op17.onnx"))
	}
	for _, path := range paths {
		name := filepath.Base(path)
		fam := strings.SplitN(name, "-", 2)[0]
		if name == fam+"-op17.onnx" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			got, want := run(t, path), ref[fam]
			if strings.Contains(name, "-half") {
				// float16 weights and batch norms kept apart: the tools run,
				// and its logits are the float32 twin's to float16 precision
				sameFloats(t, "lk-infer logits", got.logits, want.logits, 2e-3)
				return
			}
			sameFloats(t, "lk-infer logits", got.logits, want.logits, 1e-4)
			mostlySame(t, "lk-attack FGSM images", got.adv, want.adv, 0.999)
			mostlySame(t, "lk-occlude salient drop", got.occlude, want.occlude, 0.999)
			if got.featvar != want.featvar {
				t.Errorf("lk-featvar:\n%s\nwant\n%s", got.featvar, want.featvar)
			}
			for _, c := range []struct{ tool, got, want string }{
				{"lk-summary", got.summary, want.summary}, {"lk-attn-dist", got.attn, want.attn}, {"lk-lesion", got.lesion, want.lesion}} {
				if c.got != c.want {
					t.Errorf("%s:\n%.500s\nwant\n%.500s", c.tool, c.got, c.want)
				}
			}
			if len(got.erf) != len(want.erf) {
				t.Fatalf("lk-erf: %d values, want %d", len(got.erf), len(want.erf))
			}
			for i := range got.erf {
				if math.Abs(got.erf[i]-want.erf[i]) > 1e-4*math.Abs(want.erf[i])+1e-9 {
					t.Fatalf("lk-erf value %d: %g, want %g", i, got.erf[i], want.erf[i])
				}
			}
		})
	}
}

// logitsBy reads a prediction stream's logits by id.
func logitsBy(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	r := openStream(t, path)
	out := map[string][]float32{}
	li, ii := r.Schema().FieldIndices(stream.ColLogits)[0], r.Schema().FieldIndices(stream.ColID)[0]
	for r.Next() {
		rec := r.Record()
		vals, _, err := stream.Float32Rows(rec.Column(li))
		if err != nil {
			t.Fatal(err)
		}
		k := len(vals) / int(rec.NumRows())
		ids := rec.Column(ii).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			out[ids.Value(i)] = append([]float32(nil), vals[i*k:(i+1)*k]...)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFloats fails unless both maps hold the same keys with values within
// rel of the largest |want|.
func sameFloats(t *testing.T, what string, got, want map[string][]float32, rel float64) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: row %s has %d values, want %d", what, k, len(g), len(w))
		}
		var scale float64
		for _, v := range w {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range w {
			if math.Abs(float64(g[i])-float64(w[i])) > rel*scale {
				t.Fatalf("%s: row %s value %d is %g, want %g", what, k, i, g[i], w[i])
			}
		}
	}
}

// mostlySame fails unless at least frac of all values are equal (images
// that a gradient sign made, where a sign within round-off of 0 may go
// either way).
func mostlySame(t *testing.T, what string, got, want map[string][]float32, frac float64) {
	t.Helper()
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	same, total := 0, 0
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: row %s has %d values, want %d", what, k, len(g), len(w))
		}
		for i := range w {
			total++
			if g[i] == w[i] {
				same++
			}
		}
	}
	if float64(same) < frac*float64(total) {
		t.Fatalf("%s: %d of %d values equal, want at least %.1f%%", what, same, total, 100*frac)
	}
}
