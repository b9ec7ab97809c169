package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	p := tooltest.Predictions(t, "lk3", 40)
	names := filepath.Join(t.TempDir(), "names.txt")
	os.WriteFile(names, []byte("a\nb\n\nc\n"), 0o644)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"-k", "0"}, Stdin: p, Err: "at least 1", Usage: true},
		{Args: []string{"--format", "json"}, Stdin: p, Err: "want one of", Usage: true},
		{Name: "names with an empty line", Args: []string{"--names", names}, Stdin: p, Err: "line 3 is empty", Usage: true},
		{Name: "images, not predictions", Stdin: tooltest.Images(t, 4), Err: "lk-infer's output"},
		{Args: []string{"--format", "csv"}, Stdin: p},
	})
	os.WriteFile(names, []byte("a\nb\n"), 0o644)
	if _, _, err := tooltest.Run(run, p, "--names", names); err == nil || !strings.Contains(err.Error(), "2 class names; the model has 8") {
		t.Errorf("--names of 2 for 8 classes: %v", err)
	}
	out, stderr, err := tooltest.Run(run, p, "-k", "20", "--format", "arrow")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stderr), "-k 20: the model has 8 classes") {
		t.Errorf("stderr %s: want the note on -k", stderr)
	}
	r := tooltest.Stream(t, out)
	rows := 0
	for r.Next() {
		rows += int(r.Record().NumRows())
	}
	var cols []string
	for _, f := range r.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	if got, want := strings.Join(cols, ","), "id,model,label,label_name,rank,class,name,prob"; rows != 40*8 || got != want {
		t.Errorf("%d rows, columns %s: want 320 rows of %s", rows, got, want)
	}
}

// A photo of one's own (a PNG of Fashion-MNIST test image 2) through
// lk-data, lk-infer and lk-top gives the zoo model's classes with the
// sidecar's names and the softmax of the logits PyTorch computed for that
// image when the model was exported (lk31.ref.json).
func TestPhotoAgainstPyTorch(t *testing.T) {
	testutil.ORT(t)
	src, err := dataset.Open(testutil.Path(t, "testdata", "fashion-mnist", "photos", "trouser.png"), "")
	if err != nil {
		t.Fatal(err)
	}
	var imgs, preds bytes.Buffer
	if _, err := dataset.Write(src, src.Items, &imgs, dataset.WriteOptions{Spec: preprocess.Spec{CropH: 32, CropW: 32, Gray3: true}}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.NewReader(&imgs, "photo")
	if err != nil {
		t.Fatal(err)
	}
	if err := infer.Run(r, &preds, infer.Options{Model: tooltest.Zoo(t, "lk31")}); err != nil {
		t.Fatal(err)
	}
	out, _, err := tooltest.Run(run, preds.Bytes(), "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Logits [][]float64 }
	b, _ := os.ReadFile(testutil.Path(t, "testdata", "zoo", "lk31.ref.json"))
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	logits := ref.Logits[2] // make_photos.py: trouser.png is test image 2
	m, z := math.Inf(-1), 0.0
	for _, v := range logits {
		m = math.Max(m, v)
	}
	for _, v := range logits {
		z += math.Exp(v - m)
	}
	fashion := []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker"}
	if len(lines) != 6 || lines[1][0] != "trouser.png" || lines[1][2] != "-1" {
		t.Fatalf("lk-top wrote %q", lines)
	}
	col := map[string]int{}
	for i, h := range lines[0] {
		col[h] = i
	}
	prev := 2.0
	for rank, l := range lines[1:] {
		c, _ := strconv.Atoi(l[col["class"]])
		p, _ := strconv.ParseFloat(l[col["prob"]], 64)
		want := math.Exp(logits[c]-m) / z
		if l[col["rank"]] != strconv.Itoa(rank+1) || l[col["name"]] != fashion[c] || math.Abs(p-want) > 1e-4 || p > prev {
			t.Errorf("rank %s: class %d %q prob %v; PyTorch's softmax %v for %q, ranks descending", l[col["rank"]], c, l[col["name"]], p, want, fashion[c])
		}
		prev = p
	}
	if lines[1][col["name"]] != "Trouser" {
		t.Errorf("top-1 %q, want Trouser", lines[1][col["name"]])
	}
}
