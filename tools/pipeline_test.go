// End-to-end tests: the tools are built as binaries and run as a user runs
// them, in shell pipelines, on the shipped data and zoo.
package tools_test

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

var bin string // folder of freshly built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lk-bin")
	if err != nil {
		panic(err)
	}
	// Binaries look for the library next to themselves (../.deps/...);
	// built into a temp folder they need LK_ORT_LIB, as a user who moves
	// them would.
	if os.Getenv("LK_ORT_LIB") == "" {
		wd, _ := os.Getwd()
		os.Setenv("LK_ORT_LIB", filepath.Join(wd, "..", ".deps", "onnxruntime-1.24.1", "libonnxruntime.so.1"))
	}
	out, err := exec.Command("go", "build", "-o", dir+"/", "./...").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the tools: %v\n%s", err, out)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sh runs a shell pipeline with the built tools first on PATH and returns
// stdout, stderr and the error of the pipeline (pipefail).
func sh(t *testing.T, script string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-o", "pipefail", "-c", script)
	cmd.Dir = testutil.Root(t)
	// LK_BIN: the pipelines' scripts run these tools, not a stale make build's
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "LK_BIN="+bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func mustSh(t *testing.T, script string) string {
	t.Helper()
	out, errOut, err := sh(t, script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errOut)
	}
	return out
}

func readCSV(t *testing.T, s string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("not a CSV table: %v\n%s", err, s)
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// The README's pipeline gives, for every zoo model, the clean accuracy that
// PyTorch measured on the same 8000 images at training time (the sidecar's
// test_top1, from seeds/train.log), and the README shows make demo's table.
func TestPipelineMatchesTrainingAccuracy(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 %s > %s/fm.arrow", fm, tmp))
	var files []string
	for _, m := range testutil.Zoo {
		f := filepath.Join(tmp, m+".arrow")
		mustSh(t, fmt.Sprintf("lk-infer -q --batch 50 --model testdata/zoo/%s.onnx < %s/fm.arrow > %s", m, tmp, f))
		files = append(files, f)
	}
	text := mustSh(t, "lk-metrics --by model --format text "+strings.Join(files, " "))
	readme, err := os.ReadFile(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	after := strings.SplitN(string(readme), "Clean accuracy on Fashion-MNIST test, classes 0-7 (8000 images):\n", 2)
	if len(after) != 2 {
		t.Fatal("README: no clean-accuracy table")
	}
	for _, l := range strings.Split(after[1], "\n") {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		shown = append(shown, l[4:])
	}
	if strings.Join(shown, "\n") != strings.TrimRight(text, "\n") {
		t.Errorf("README's clean table\n%s\nlk-metrics prints\n%s", strings.Join(shown, "\n"), text)
	}
	rows := readCSV(t, mustSh(t, "lk-metrics --by model --format csv "+strings.Join(files, " ")))
	if len(rows) != len(testutil.Zoo) {
		t.Fatalf("%d result rows for %d models", len(rows), len(testutil.Zoo))
	}
	for _, r := range rows {
		var cfg struct {
			TestTop1 float64 `json:"test_top1"`
		}
		b, err := os.ReadFile(testutil.Path(t, "testdata", "zoo", r["model"]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(b, &cfg)
		got, _ := strconv.ParseFloat(r["top1"], 64)
		if r["n"] != "8000" || math.Abs(got-100*cfg.TestTop1) > 0.05 {
			t.Errorf("%s: top1 %.2f on %s images, PyTorch measured %.2f on 8000", r["model"], got, r["n"], 100*cfg.TestTop1)
		}
	}
}

// Predictions keep the input's order, ids and labels, and the output bytes
// do not depend on the batch size.
func TestInferPassThroughAndBatchInvariance(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --rows 7 --gray3 --crop 32 --limit 100 %s > %s/in.arrow", fm, tmp))
	a := mustSh(t, fmt.Sprintf("lk-infer -q --batch 64 --model testdata/zoo/resnet.onnx < %s/in.arrow > %s/a.arrow && echo ok", tmp, tmp))
	b := mustSh(t, fmt.Sprintf("lk-infer -q --batch 13 --model testdata/zoo/resnet.onnx < %s/in.arrow > %s/b.arrow && echo ok", tmp, tmp))
	if a != "ok\n" || b != "ok\n" {
		t.Fatal("lk-infer failed")
	}
	ra, rb := readPredictions(t, tmp+"/a.arrow"), readPredictions(t, tmp+"/b.arrow")
	if len(ra.ids) != 100 || ra.ids[0] != "t10k/0000" || ra.ids[99] != "t10k/0099" {
		t.Fatalf("ids: %d rows, first %q", len(ra.ids), ra.ids[0])
	}
	ba, _ := os.ReadFile(tmp + "/a.arrow")
	bb, _ := os.ReadFile(tmp + "/b.arrow")
	if !bytes.Equal(ba, bb) {
		for i := range ra.logits {
			if ra.logits[i] != rb.logits[i] {
				t.Fatalf("logit %d: %v with batch 64, %v with batch 13", i, ra.logits[i], rb.logits[i])
			}
		}
		t.Fatal("outputs with batch 64 and 13 differ")
	}
}

type preds struct {
	ids    []string
	logits []float32
}

// openStream opens an Arrow stream file; it is closed when the test ends.
func openStream(t *testing.T, path string) *stream.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := stream.NewReader(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readPredictions(t *testing.T, path string) preds {
	t.Helper()
	r := openStream(t, path)
	var p preds
	lcol, _, err := stream.Logits(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		rec := r.Record()
		ids := rec.Column(0).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			p.ids = append(p.ids, ids.Value(i))
		}
		v, _, _ := stream.Float32Rows(rec.Column(lcol))
		p.logits = append(p.logits, v...)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Shuffling, limiting and sharding depend only on the seed and the ids:
// the bytes do not change with the number of decoding workers, and the
// shards partition the unsharded selection.
func TestDataDeterministic(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	tmp := t.TempDir()
	base := fmt.Sprintf("lk-data -q --crop 32 --shuffle --seed 7 --limit 300 %s", fm)
	mustSh(t, base+" --workers 1 > "+tmp+"/w1.arrow")
	mustSh(t, base+" --workers 3 > "+tmp+"/w3.arrow")
	b1, _ := os.ReadFile(tmp + "/w1.arrow")
	b3, _ := os.ReadFile(tmp + "/w3.arrow")
	if !bytes.Equal(b1, b3) {
		t.Fatal("output differs between 1 and 3 decoding workers")
	}
	all := readIDs(t, tmp+"/w1.arrow")
	var union []string
	for k := 0; k < 3; k++ {
		f := fmt.Sprintf("%s/s%d.arrow", tmp, k)
		mustSh(t, fmt.Sprintf("%s --shard %d/3 > %s", base, k, f))
		union = append(union, readIDs(t, f)...)
	}
	sort.Strings(union)
	sorted := append([]string{}, all...)
	sort.Strings(sorted)
	if strings.Join(union, ",") != strings.Join(sorted, ",") {
		t.Fatalf("the 3 shards hold %d ids, the unsharded run %d, and they differ", len(union), len(all))
	}
	if all[0] == "t10k/0000" && all[1] == "t10k/0001" {
		t.Error("--shuffle did not shuffle")
	}
}

func readIDs(t *testing.T, path string) []string {
	t.Helper()
	r := openStream(t, path)
	var ids []string
	for r.Next() {
		c := r.Record().Column(0).(*array.String)
		for i := 0; i < c.Len(); i++ {
			ids = append(ids, c.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// pngBomb is a valid PNG header claiming w x h pixels and nothing else.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// Bad input gets a clear error naming what is wrong and a non-zero exit.
func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	imgs := testutil.Path(t, "testdata", "images")
	// a class-folder tree with one corrupt JPEG
	tree := filepath.Join(tmp, "tree")
	for _, d := range []string{"cats", "dogs"} {
		os.MkdirAll(filepath.Join(tree, d), 0o755)
	}
	copyFile(t, filepath.Join(imgs, "collage-500x375.jpg"), filepath.Join(tree, "cats", "a.jpg"))
	copyFile(t, filepath.Join(imgs, "collage-333x500.jpg"), filepath.Join(tree, "dogs", "b.jpg"))
	copyFile(t, filepath.Join(imgs, "truncated.jpg"), filepath.Join(tree, "dogs", "c.jpg"))
	bomb := filepath.Join(tmp, "bomb")
	os.MkdirAll(filepath.Join(bomb, "x"), 0o755)
	os.WriteFile(filepath.Join(bomb, "x", "huge.png"), pngBomb(100000, 100000), 0o644)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 20 %s > %s/fm.arrow", fm, tmp))
	data, _ := os.ReadFile(tmp + "/fm.arrow")
	os.WriteFile(tmp+"/cut.arrow", data[:len(data)*2/3], 0o644)

	cases := []struct {
		name, script string
		want         []string
	}{
		{"corrupt JPEG", "lk-data -q --resize 64 --crop 56 " + tree + " > /dev/null",
			[]string{"dogs/c.jpg", "corrupt JPEG", "--skip-bad"}},
		{"decompression bomb", "lk-data -q " + bomb + " > /dev/null",
			[]string{"huge.png", "100000x100000", "--max-pixels"}},
		{"missing model", "lk-infer --model " + tmp + "/nope.onnx < " + tmp + "/fm.arrow > /dev/null",
			[]string{"nope.onnx", "no such file"}},
		{"wrong shape", "lk-data -q --crop 32 " + fm + " --limit 4 | lk-infer -q --model testdata/zoo/resnet.onnx > /dev/null",
			[]string{"column image is 1x32x32", "expects 3x32x32"}},
		{"truncated stream", "lk-infer -q --model testdata/zoo/resnet.onnx < " + tmp + "/cut.arrow > /dev/null",
			[]string{"truncated"}},
		{"not a stream", "echo hello | lk-metrics", []string{"not an Arrow IPC stream"}},
		{"missing library", "LK_ORT_LIB=" + tmp + "/libnope.so lk-infer -q --model testdata/zoo/resnet.onnx < " + tmp + "/fm.arrow > /dev/null",
			[]string{"libnope.so", "make deps"}},
		{"no CUDA in the library", "lk-infer -q --provider cuda --model testdata/zoo/resnet.onnx < " + tmp + "/fm.arrow > /dev/null",
			[]string{"a CPU build, and no libonnxruntime_providers_cuda.so beside it", "make deps-gpu"}},
		{"labels outside the model", "lk-infer -q --model testdata/zoo/resnet.onnx < " + tmp + "/fm.arrow | lk-metrics --format csv",
			[]string{`row id "t10k/00`, "label 9 is outside the model's 8 classes"}},
		{"unknown --by column", "lk-infer -q --model testdata/zoo/resnet.onnx < " + tmp + "/fm.arrow | lk-metrics --by severity",
			[]string{"--by severity: no such column"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := sh(t, c.script)
			if err == nil {
				t.Fatalf("exit status 0; want a failure\nstderr: %s", stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("panic trace on stderr:\n%s", stderr)
			}
		})
	}

	// --skip-bad: the bad file is counted on stderr and the rest is written.
	_, stderr, err := sh(t, "lk-data -q --skip-bad --resize 64 --crop 56 "+tree+" > "+tmp+"/skip.arrow")
	if err != nil {
		t.Fatalf("--skip-bad: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 of 3") || !strings.Contains(stderr, "c.jpg") {
		t.Errorf("--skip-bad stderr: %s", stderr)
	}
	if ids := readIDs(t, tmp+"/skip.arrow"); strings.Join(ids, ",") != "cats/a.jpg,dogs/b.jpg" {
		t.Errorf("--skip-bad wrote %v", ids)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Binary output to a terminal is refused; lk-metrics prints text there.
// util-linux's script gives the tools a pseudo-terminal as stdout.
func TestTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) not installed")
	}
	fm := testutil.FashionMNIST(t)
	out, _, err := sh(t, fmt.Sprintf("script -qec 'lk-data -q --limit 2 %s' /dev/null", fm))
	if err == nil || !strings.Contains(out, "refusing to write a binary Arrow stream to a terminal") {
		t.Errorf("lk-data to a terminal: err %v, output %q", err, out)
	}
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 30 %s | lk-infer -q --model testdata/zoo/resnet.onnx > %s/p.arrow", fm, tmp))
	out, _, err = sh(t, fmt.Sprintf("script -qec 'lk-metrics --by model %s/p.arrow' /dev/null", tmp))
	if err != nil || !strings.Contains(out, "top1") || !strings.Contains(out, "resnet") {
		t.Errorf("lk-metrics on a terminal: err %v, output %q", err, out)
	}
}

// --shard auto in a Slurm job array task is --shard k/n, byte for byte
// (provenance records the resolved shard), for an array from 0 or from 1.
func TestShardAuto(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	for _, c := range []struct{ id, lo, hi, want string }{{"2", "0", "3", "2/4"}, {"1", "1", "4", "0/4"}} {
		env := fmt.Sprintf("SLURM_ARRAY_TASK_ID=%s SLURM_ARRAY_TASK_MIN=%s SLURM_ARRAY_TASK_MAX=%s SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_STEP=1", c.id, c.lo, c.hi)
		auto := mustSh(t, fmt.Sprintf("%s lk-data -q --crop 32 --limit 50 --shard auto %s | sha256sum", env, fm))
		fixed := mustSh(t, fmt.Sprintf("lk-data -q --crop 32 --limit 50 --shard %s %s | sha256sum", c.want, fm))
		if auto != fixed {
			t.Errorf("task %s of %s-%s: --shard auto differs from --shard %s", c.id, c.lo, c.hi, c.want)
		}
	}
	if _, errOut, err := sh(t, "env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX lk-data -q --shard auto "+fm+" > /dev/null"); err == nil || !strings.Contains(errOut, "neither SLURM_ARRAY_TASK_ID") {
		t.Errorf("--shard auto outside a job: %v %q", err, errOut)
	}
}
