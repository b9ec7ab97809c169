package tools_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/testutil"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(testutil.Path(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// lk-featvar's variances equal PyTorch forward hooks' on the same 64
// images (testdata/arch/make_arch.py), for both definitions, whatever the
// batch size.
func TestFeatvarMatchesPyTorch(t *testing.T) {
	var ref struct {
		Group  int `json:"group"`
		Models map[string][]struct {
			Unit      string  `json:"unit"`
			Depth     float64 `json:"depth"`
			Variance  float64 `json:"variance"`
			BatchMean float64 `json:"batch_mean_variance"`
		} `json:"models"`
	}
	readJSON(t, "testdata/arch/featvar.json", &ref)
	if len(ref.Models) != len(testutil.Zoo) {
		t.Fatalf("featvar.json has %d models", len(ref.Models))
	}
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 64 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	for _, name := range testutil.Zoo {
		want := ref.Models[name]
		for _, c := range []struct{ flags, col string }{
			{"--batch 7", "variance"},
			{fmt.Sprintf("--variance batch-mean --group %d --batch 64", ref.Group), "batch_mean_variance"},
		} {
			out := mustSh(t, fmt.Sprintf("lk-featvar -q --model testdata/zoo/%s.onnx %s --format csv < %s/x.arrow", name, c.flags, tmp))
			rows := readCSV(t, out)
			if len(rows) != len(want) {
				t.Fatalf("%s %s: %d layers, PyTorch %d", name, c.flags, len(rows), len(want))
			}
			for i, r := range rows {
				w := want[i].Variance
				if c.col != "variance" {
					w = want[i].BatchMean
				}
				got, _ := strconv.ParseFloat(r["variance"], 64)
				depth, _ := strconv.ParseFloat(r["depth"], 64)
				if math.Abs(got-w) > 1e-4*math.Abs(w) || math.Abs(depth-want[i].Depth) > 1e-6 {
					t.Errorf("%s %s layer %d (%s, PyTorch %s): variance %g depth %g, PyTorch %g %g",
						name, c.flags, i, r["name"], want[i].Unit, got, depth, w, want[i].Depth)
				}
				if r["images"] != "64" {
					t.Errorf("%s layer %d: %s images", name, i, r["images"])
				}
			}
		}
	}
}

// A model with blocks bypassed by lk-lesion gives PyTorch's logits for the
// same model with those blocks replaced by the identity.
func TestLesionMatchesPyTorch(t *testing.T) {
	var ref struct {
		Models map[string][]struct {
			Bypass []string    `json:"bypass"`
			Logits [][]float64 `json:"logits"`
		} `json:"models"`
	}
	readJSON(t, "testdata/arch/lesion.json", &ref)
	// the units lk numbers, for the modules make_arch.py bypassed
	units := map[string]map[string]string{
		"lk31":   {"stages.1.0,stages.1.1": "--group 2 --drop 3", "stages.0.2": "--drop 3"},
		"resnet": {"layer1.1": "--drop 2", "layer2.1": "--drop 4"},
		"vit":    {"blocks.2": "--group scope --drop 3", "blocks.0.mlp,blocks.3.attn": "--drop 2,7"},
	}
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 8 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	n := 0
	for name, cases := range ref.Models {
		for _, c := range cases {
			flags, ok := units[name][strings.Join(c.Bypass, ",")]
			if !ok {
				t.Fatalf("%s: no lk units for %v", name, c.Bypass)
			}
			dir := filepath.Join(tmp, fmt.Sprint(n))
			n++
			mustSh(t, fmt.Sprintf("lk-lesion --model testdata/zoo/%s.onnx %s --out %s > /dev/null", name, flags, dir))
			files, _ := filepath.Glob(dir + "/*.onnx")
			if len(files) != 1 {
				t.Fatalf("%s %s: wrote %v", name, flags, files)
			}
			mustSh(t, fmt.Sprintf("lk-infer -q --model %s < %s/x.arrow > %s/p.arrow", files[0], tmp, dir))
			p := readPredictions(t, dir+"/p.arrow")
			var worst float64
			for i, row := range c.Logits {
				for j, v := range row {
					worst = math.Max(worst, math.Abs(float64(p.logits[i*len(row)+j])-v))
				}
			}
			if worst > 1e-4 {
				t.Errorf("%s bypassing %v (%s): max |logit - PyTorch| = %g", name, c.Bypass, flags, worst)
			}
		}
	}
	if n != 6 {
		t.Fatalf("lesion.json has %d cases, want 6", n)
	}
}

// The samples lk-lesion draws depend on the seed and sample number only,
// and each model's rows carry drop_n and sample.
func TestLesionSamples(t *testing.T) {
	tmp := t.TempDir()
	a := mustSh(t, "lk-lesion --model testdata/zoo/lk31.onnx --group 2 --n 1,2 --samples 3 --seed 5 --out "+tmp+"/a")
	b := mustSh(t, "lk-lesion --model testdata/zoo/lk31.onnx --group 2 --n 1,2 --samples 3 --seed 5 --out "+tmp+"/b")
	if strings.ReplaceAll(a, tmp+"/a", "") != strings.ReplaceAll(b, tmp+"/b", "") {
		t.Errorf("same seed, different draws:\n%s\n%s", a, b)
	}
	lines := strings.Split(strings.TrimSpace(a), "\n")
	if len(lines) != 7 {
		t.Fatalf("manifest:\n%s", a)
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if got := len(strings.Split(f[4], ",")); strconv.Itoa(got) != f[2] {
			t.Errorf("drop_n %s but units %s", f[2], f[4])
		}
	}
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 16 %s | lk-infer -q --model %s/a/lk31-drop2-1.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp, tmp))
	out := mustSh(t, "lk-metrics --by model,drop_n,sample --format csv "+tmp+"/p.arrow")
	rows := readCSV(t, out)
	if rows[0]["drop_n"] != "2" || rows[0]["sample"] != "1" || rows[0]["model"] != "lk31-drop2-1" {
		t.Errorf("columns from the sidecar: %v", rows[0])
	}
}

// lk-attn-dist writes one row per channel, sorted, equal to numpy's scores.
func TestAttnDist(t *testing.T) {
	var ref struct {
		Models map[string][]struct {
			Node   string    `json:"node"`
			Kernel int       `json:"kernel"`
			Paper  []float64 `json:"paper"`
			Code   []float64 `json:"code"`
		} `json:"models"`
	}
	readJSON(t, "testdata/arch/attn_dist.json", &ref)
	want := ref.Models["lk31"]
	for _, norm := range []string{"paper", "code"} {
		rows := readCSV(t, mustSh(t, "lk-attn-dist --model testdata/zoo/lk31.onnx --normalise "+norm+" --format csv"))
		k := 0
		for _, l := range want {
			vals := l.Paper
			if norm == "code" {
				vals = l.Code
			}
			for rank, v := range vals {
				r := rows[k]
				k++
				got, _ := strconv.ParseFloat(r["score"], 64)
				if r["layer"] != l.Node || r["rank"] != strconv.Itoa(rank) || math.Abs(got-v) > 1e-5*math.Max(1, math.Abs(v)) {
					t.Fatalf("%s row %d: %v, numpy %s rank %d score %g", norm, k, r, l.Node, rank, v)
				}
			}
		}
		if k != len(rows) {
			t.Errorf("%d rows, numpy %d", len(rows), k)
		}
	}
	// the first large kernel is in stage 1, block 1; the transition's is in none
	rows := readCSV(t, mustSh(t, "lk-attn-dist --model testdata/zoo/lk31.onnx --format csv"))
	if rows[0]["stage"] != "1" || rows[0]["block"] != "1" || rows[0]["kernel"] != "31" {
		t.Errorf("first row %v", rows[0])
	}
}

// Graphs the tools cannot use get a message that names what is missing.
func TestArchBadInput(t *testing.T) {
	tmp := t.TempDir()
	cases := []struct {
		script, want string
	}{
		{"lk-attn-dist --model testdata/models/tiny_dynamic.onnx", "no depthwise Conv"},
		{"lk-lesion --model testdata/models/tiny_dynamic.onnx --out " + tmp, "no residual blocks"},
		{"lk-erf --model testdata/models/tiny_dynamic.onnx < /dev/null", "name a 4-D feature map with --node"},
		{"lk-featvar --model testdata/models/tiny_dynamic.onnx < /dev/null", "no residual blocks"},
		{"lk-featvar --model testdata/models/tiny_dynamic.onnx --input-size 3,8,8 < /dev/null", "the graph's input input float[?,3,32,32] disagrees with the input size 3x8x8 asked for"},
		{"lk-lesion --model testdata/zoo/lk31.onnx --group 3 --out " + tmp, "stage 1 has 4 blocks, not a multiple of 3"},
		{"lk-lesion --model testdata/zoo/resnet.onnx --drop 3 --out " + tmp, "unit 3 (/layer2/layer2.0) is not eligible: no: changes shape"},
		{"lk-lesion --model testdata/zoo/lk31.onnx --n 9 --out " + tmp, "cannot drop 9 units from 8 eligible"},
		{"lk-lesion --model testdata/zoo/lk31.onnx --stage 3 --out " + tmp, "--stage 3: the model has stages 1-2"},
		{"lk-featvar --model testdata/zoo/lk31.onnx --variance nope", "--variance \"nope\""},
		{"lk-attn-dist --model testdata/zoo/nothere.onnx", "no such file"},
		{"lk-featvar -q --model testdata/zoo/lk31.onnx < testdata/zoo/lk31.json", "not an Arrow IPC stream"},
		{fmt.Sprintf("lk-data -q --limit 4 %s | lk-featvar -q --model testdata/zoo/lk31.onnx", testutil.FashionMNIST(t)), "column image is 1x28x28, the model lk31 expects 3x32x32"},
	}
	for _, c := range cases {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
		if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: panicked:\n%s", c.script, errOut)
		}
	}
}

// An op ONNX Runtime does not know, on the path the probe runs: the error
// names the op and the node.
func TestArchUnknownOp(t *testing.T) {
	m, err := onnx.Load(testutil.Path(t, "testdata/zoo/resnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for _, n := range m.Graph().GetNode() {
		if n.GetOpType() == "Relu" {
			n.OpType = proto.String("NoSuchOp")
			name = n.GetName()
			break
		}
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "odd.onnx")); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testutil.Path(t, "testdata/zoo/resnet.json"), filepath.Join(dir, "odd.json"))
	for _, tool := range []string{"lk-lesion --list", "lk-featvar --list", "lk-summary"} {
		_, errOut, err := sh(t, fmt.Sprintf("%s --model %s/odd.onnx", tool, dir))
		if tool == "lk-summary" {
			_, errOut, err = sh(t, fmt.Sprintf("lk-summary %s/odd.onnx", dir))
		}
		if err == nil || !strings.Contains(errOut, "NoSuchOp") || !strings.Contains(errOut, name) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: err %v, stderr %q; want the op NoSuchOp and node %s named", tool, err, errOut, name)
		}
	}
}
