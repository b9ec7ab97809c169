package tools_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// keysOf reads a stream file's row keys, in order.
func keysOf(t *testing.T, path string) []stream.RowKey {
	t.Helper()
	r := openStream(t, path)
	k, err := stream.NewKeyer(r.Schema())
	if err != nil {
		t.Fatal(err)
	}
	var out []stream.RowKey
	for r.Next() {
		for i := 0; i < int(r.Record().NumRows()); i++ {
			out = append(out, k.Hash(r.Record(), i))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// killAfter starts the tool on the input file with --out out, feeds it the
// first feed bytes of the input (never all of it, so the tool cannot end),
// optionally lets it work a moment, and kills it with SIGKILL. It reports
// whether the kill is what ended the process.
func killAfter(t *testing.T, args []string, in, out string, feed int64, pause time.Duration) bool {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, args[0]), append(args[1:], "--out", out)...)
	cmd.Dir = testutil.Root(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(w, f, feed)
	f.Close()
	time.Sleep(pause)
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	w.Close()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("%s ended before the kill: %v\n%s", args[0], err, stderr.String())
	return false
}

// The fault-injection suite: every resumable tool runs a multi-condition
// sweep, is killed with SIGKILL at 20 seeded random points (after a random
// part of its input, sometimes mid-computation; its file may end
// mid-record), and is resumed with --resume. The resumed file must be the
// uninterrupted run's byte for byte: the same keys, none lost, none twice.
func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection suite runs about 120 kills")
	}
	tmp := t.TempDir()
	x, c := tmp+"/x.arrow", tmp+"/c.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 96 %s > %s", testutil.FashionMNIST(t), x))
	mustSh(t, "lk-corrupt -q --corruptions gaussian_noise,contrast --severities 1-3 < "+x+" > "+c)
	const lk3 = "testdata/zoo/lk3.onnx"
	tools := []struct {
		args  []string
		in    string
		table bool // the output is a table written at the end (checkpointed)
	}{
		{[]string{"lk-infer", "-q", "--model", lk3, "--batch", "8", "--threads", "1"}, c, false},
		{[]string{"lk-corrupt", "-q", "--workers", "1", "--corruptions", "gaussian_noise,glass_blur", "--severities", "1-3"}, x, false},
		{[]string{"lk-attack", "-q", "--threads", "1", "--model", lk3, "--attack", "pgd", "--eps", "0.01,0.02", "--steps", "1,2"}, x, false},
		{[]string{"lk-occlude", "--patch", "8", "--mode", "random", "--ratios", "0.25,0.5"}, x, false},
		{[]string{"lk-fft-noise", "--freqs", "0,0.5,1"}, x, false},
		{[]string{"lk-featvar", "-q", "--threads", "1", "--batch", "8", "--model", lk3}, x, true},
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	var runs, kills, lost, dup int
	for _, tool := range tools {
		name := tool.args[0]
		st, err := os.Stat(tool.in)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(tmp, name+"-whole.arrow")
		mustSh(t, strings.Join(tool.args, " ")+" --out "+want+" < "+tool.in)
		runs++
		wantBytes, _ := os.ReadFile(want)
		var wantKeys []stream.RowKey
		if !tool.table {
			wantKeys = keysOf(t, want)
		}
		for k := 0; k < 20; k++ {
			out := filepath.Join(tmp, fmt.Sprintf("%s-%d.arrow", name, k))
			feed := 1 + rng.Int64N(st.Size()-1)
			pause := time.Duration(rng.IntN(3)) * 15 * time.Millisecond
			if killAfter(t, tool.args, tool.in, out, feed, pause) {
				kills++
			}
			runs++
			// a second kill of the resumed run, now and then
			if k%4 == 3 {
				killAfter(t, append(append([]string{}, tool.args...), "--resume"), tool.in, out, 1+rng.Int64N(st.Size()-1), pause)
				kills++
				runs++
			}
			if !tool.table {
				if _, _, err := sh(t, "lk-metrics --allow-duplicates "+out+" > /dev/null"); err == nil {
					t.Fatalf("%s: the killed run's file %s reads as a complete stream", name, out)
				}
			}
			// a resumed run names its file differently: the same run
			mustSh(t, strings.Join(tool.args, " ")+" --out "+filepath.Dir(out)+"/./"+filepath.Base(out)+" --resume < "+tool.in)
			runs++
			got, _ := os.ReadFile(out)
			if !tool.table {
				gotKeys := keysOf(t, out)
				seen := map[stream.RowKey]int{}
				for _, h := range gotKeys {
					seen[h]++
					if seen[h] == 2 {
						dup++
					}
				}
				for _, h := range wantKeys {
					if seen[h] == 0 {
						lost++
					}
				}
			}
			if !bytes.Equal(got, wantBytes) {
				t.Errorf("%s: kill %d (after %d input bytes): the resumed file (%d bytes) differs from the uninterrupted run's (%d bytes)",
					name, k, feed, len(got), len(wantBytes))
			}
		}
	}
	if lost != 0 || dup != 0 {
		t.Errorf("rows lost %d, rows duplicated %d", lost, dup)
	}
	t.Logf("fault injection: %d tools, %d runs, %d SIGKILLs, rows lost %d, rows duplicated %d", len(tools), runs, kills, lost, dup)
}

// Issue case 1: an ImageNet-C style sweep (ids repeat once per condition)
// cut at 1,000,000 bytes and resumed keeps all 200 rows.
func TestResumeSweepKeepsEveryCondition(t *testing.T) {
	tmp := t.TempDir()
	c, p := tmp+"/c.arrow", tmp+"/p.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 20 %s | lk-corrupt -q --corruptions gaussian_noise,contrast --severities 1-5 > %s", testutil.FashionMNIST(t), c))
	mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx --out "+p+" < "+c)
	whole, _ := os.ReadFile(p)
	if err := os.Truncate(p, 1000000); err != nil {
		t.Fatal(err)
	}
	mustSh(t, "lk-infer -q --model testdata/zoo/lk3.onnx --out "+p+" --resume < "+c)
	if n := len(keysOf(t, p)); n != 200 {
		t.Errorf("%d rows after resuming, want 200", n)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, whole) {
		t.Error("the resumed file differs from the uninterrupted run's")
	}
	// random bytes as the file to resume: a clear error, never a panic
	rng := rand.New(rand.NewPCG(3, 30))
	for i := 0; i < 30; i++ {
		junk := make([]byte, 1+rng.IntN(5000))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if i%3 == 0 { // a plausible start: continuation marker and a length
			binary.LittleEndian.PutUint32(junk, 0xffffffff)
		}
		os.WriteFile(p, junk, 0o644)
		_, errOut, err := sh(t, "lk-infer -q --model testdata/zoo/lk3.onnx --out "+p+" --resume < "+c)
		if err == nil || strings.Contains(errOut, "panic") || !strings.Contains(errOut, "resuming "+p) {
			t.Fatalf("random bytes %d as the resume file: %v %q", i, err, errOut)
		}
	}
}

// Issue case 2: a prediction stream through a tool that changes the
// pixels loses its logits and model, so that scoring it again needs a new
// lk-infer, and the numbers are the new pixels'.
func TestPerturbationDropsStalePredictions(t *testing.T) {
	tmp := t.TempDir()
	p := tmp + "/p.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 64 %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s", testutil.FashionMNIST(t), p))
	for _, tool := range []string{
		"lk-corrupt -q --corruptions fog --severities 5",
		"lk-attack -q --model testdata/zoo/lk3.onnx --attack fgsm --eps 0.1",
		"lk-fft-noise --freqs 0.5 --eps 0.3",
		"lk-occlude --patch 8 --mode random --ratios 0.5",
		"lk-render --renditions invert",
	} {
		name := strings.Fields(tool)[0]
		_, errOut, err := sh(t, tool+" < "+p+" | lk-metrics --format csv")
		if err == nil || !strings.Contains(errOut, "dropping column model, logits") || !strings.Contains(errOut, `no column "logits"`) {
			t.Errorf("%s on predictions, scored without lk-infer: %v %q", name, err, errOut)
		}
		again := readCSV(t, mustSh(t, tool+" < "+p+" 2>/dev/null | lk-infer -q --model testdata/zoo/lk3.onnx | lk-metrics --format csv"))
		fresh := readCSV(t, mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 64 %s | %s | lk-infer -q --model testdata/zoo/lk3.onnx | lk-metrics --format csv", testutil.FashionMNIST(t), tool)))
		if again[0]["top1"] != fresh[0]["top1"] || again[0]["n"] != fresh[0]["n"] {
			t.Errorf("%s: predictions then perturbation scored %v, images then perturbation %v", name, again[0], fresh[0])
		}
	}
}

// nanModel writes a copy of the zoo lk3 whose first float weight is NaN:
// every logit and every gradient is NaN.
func nanModel(t *testing.T) string {
	t.Helper()
	m, err := onnx.Load(testutil.Path(t, "testdata", "zoo", "lk3.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	done := false
	for _, init := range m.Graph().GetInitializer() {
		if init.GetDataType() == 1 && len(init.GetRawData()) >= 4 && !done {
			raw := init.GetRawData()
			for i := 0; i+4 <= len(raw); i += 4 {
				binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(float32(math.NaN())))
			}
			done = true
		}
	}
	if !done {
		t.Fatal("no raw float initializer to poison")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nan.onnx")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testutil.Path(t, "testdata", "zoo", "lk3.json"), filepath.Join(dir, "nan.json"))
	return path
}

// Issue case 3: a model with NaN outputs makes every model-running tool
// fail with the row id, not write unchanged images or a NaN table.
func TestNonFiniteModelFails(t *testing.T) {
	tmp := t.TempDir()
	x := tmp + "/x.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 8 %s > %s", testutil.FashionMNIST(t), x))
	nan := nanModel(t)
	for _, tool := range []string{
		"lk-infer -q --model " + nan,
		"lk-attack -q --model " + nan + " --attack fgsm --eps 0.01",
		"lk-attack -q --model " + nan + " --attack pgd --eps 0.01 --steps 2",
		"lk-occlude --patch 8 --mode salient --ratios 0.5 --saliency-grad " + nan,
		"lk-featvar -q --model " + nan,
		"lk-erf -q --images 4 --model " + nan, // the feature map is NaN: no all-zero ERF
	} {
		_, errOut, err := sh(t, tool+" < "+x+" > /dev/null")
		if err == nil || !strings.Contains(errOut, "non-finite") || !strings.Contains(errOut, `row id "t10k/`) {
			t.Errorf("%s: %v %q", strings.Fields(tool)[0], err, errOut)
		}
	}
}

// Issue case 5: the same file twice, overlapping shards and a repeated
// condition are refused instead of counted twice.
func TestDuplicatesRefused(t *testing.T) {
	tmp := t.TempDir()
	p := tmp + "/p.arrow"
	fm := testutil.FashionMNIST(t)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s", fm, p))
	_, errOut, err := sh(t, "lk-metrics "+p+" "+p)
	if err == nil || !strings.Contains(errOut, `duplicate row key (id "t10k/0001", model lk3) in `+p+" (input 1) and again in "+p+" (input 2)") {
		t.Errorf("the same file twice: %v %q", err, errOut)
	}
	// overlapping shards: 0/2 with the whole
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 --shard 0/2 %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s/s0.arrow", fm, tmp))
	if _, errOut, err := sh(t, "lk-metrics "+tmp+"/s0.arrow "+p); err == nil || !strings.Contains(errOut, "duplicate row key") {
		t.Errorf("overlapping shards: %v %q", err, errOut)
	}
	// knowingly: every row counted
	rows := readCSV(t, mustSh(t, "lk-metrics --allow-duplicates --format csv "+p+" "+p))
	if rows[0]["n"] != "80" {
		t.Errorf("--allow-duplicates: %v", rows)
	}
	// two models' predictions of the same images are not duplicates
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 %s | lk-infer -q --model testdata/zoo/lk7.onnx > %s/p7.arrow", fm, tmp))
	if rows := readCSV(t, mustSh(t, "lk-metrics --by model --format csv "+p+" "+tmp+"/p7.arrow")); len(rows) != 2 {
		t.Errorf("two models: %v", rows)
	}
	for _, c := range []string{
		"lk-corrupt --corruptions fog,fog",
		"lk-attack --model testdata/zoo/lk3.onnx --attack pgd --eps 0.01,0.01",
		"lk-fft-noise --freqs 0.5,0.5",
		"lk-occlude --patch 8 --mode random,random",
		"lk-metrics --by model,model",
	} {
		_, errOut, err := sh(t, c+" < "+p+" > /dev/null")
		if err == nil || !strings.Contains(errOut, "given twice") {
			t.Errorf("%s: %v %q", c, err, errOut)
		}
	}
}

// Issue case 6: a full disk under lk-lesion's manifest and a truncated
// stream under lk-plot's montage are errors.
func TestLostWritesAreErrors(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fill")
	}
	tmp := t.TempDir()
	if err := os.Symlink("/dev/full", tmp+"/manifest.tsv"); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := sh(t, "lk-lesion --model testdata/zoo/resnet.onnx --n 1 --samples 1 --out "+tmp+" > /dev/null")
	if err == nil || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("lk-lesion with a full disk: %v %q", err, errOut)
	}
	x := tmp + "/x.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 64 %s > %s", testutil.FashionMNIST(t), x))
	if err := os.Truncate(x, 500000); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = sh(t, "lk-plot --kind montage --limit 4 -o "+tmp+"/m.png "+x)
	if err == nil || !strings.Contains(errOut, "truncated") {
		t.Errorf("montage of a truncated stream: %v %q", err, errOut)
	}
	// every tool's stream output to a full disk fails
	for _, tool := range []string{
		"lk-data -q --gray3 --crop 32 --limit 64 " + testutil.FashionMNIST(t),
		"lk-metrics --format text " + tmp + "/p.arrow",
	} {
		if strings.HasPrefix(tool, "lk-metrics") {
			mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 8 %s | lk-infer -q --model testdata/zoo/lk3.onnx > %s/p.arrow", testutil.FashionMNIST(t), tmp))
		}
		if _, _, err := sh(t, tool+" > /dev/full"); err == nil {
			t.Errorf("%s > /dev/full exits 0", strings.Fields(tool)[0])
		}
	}
}

// The same input gives the same table bytes, run after run: lk-metrics
// --measure fp once summed sequences in map order, and the last bits of
// its flip rates changed between runs.
func TestMetricsBytesRepeat(t *testing.T) {
	tmp := t.TempDir()
	p := tmp + "/p.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 %s | lk-corrupt -q --perturbations gaussian_noise,rotate,brightness | lk-infer -q --model testdata/zoo/lk3.onnx > %s", testutil.FashionMNIST(t), p))
	for _, m := range []string{"--measure fp --by model", "--by model,perturbation"} {
		first := mustSh(t, "lk-metrics "+m+" "+p+" | sha256sum")
		for i := 0; i < 5; i++ {
			if again := mustSh(t, "lk-metrics "+m+" "+p+" | sha256sum"); again != first {
				t.Fatalf("lk-metrics %s: run %d wrote other bytes than run 0", m, i+1)
			}
		}
	}
}
