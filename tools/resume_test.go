package tools_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lk-robustness/lk/lib/testutil"
)

// lk-infer killed mid-run and resumed on its output file ends with every
// row exactly once, with the logits of an uninterrupted run.
func TestInferResumeAfterKill(t *testing.T) {
	tmp := t.TempDir()
	in := tmp + "/x.arrow"
	out := tmp + "/p.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 4000 %s > %s", testutil.FashionMNIST(t), in))
	want := readPredictions(t, func() string {
		mustSh(t, "lk-infer -q --model testdata/zoo/lk31.onnx < "+in+" > "+tmp+"/whole.arrow")
		return tmp + "/whole.arrow"
	}())
	cmd := exec.Command(filepath.Join(bin, "lk-infer"), "-q", "--batch", "8", "--threads", "1", "--model", "testdata/zoo/lk31.onnx", "--out", out)
	cmd.Dir = testutil.Root(t)
	f, _ := os.Open(in)
	defer f.Close()
	cmd.Stdin = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kill it once it has written something, before it is done
	killWhenWritten(t, cmd, out, 2<<20)
	if _, _, err := sh(t, "lk-metrics "+out+" > /dev/null"); err == nil {
		t.Fatal("the killed run's file reads as complete")
	}
	mustSh(t, "lk-infer -q --model testdata/zoo/lk31.onnx --out "+out+" --resume < "+in)
	got := readPredictions(t, out)
	if len(got.ids) != len(want.ids) {
		t.Fatalf("%d rows after resuming, want %d", len(got.ids), len(want.ids))
	}
	k := len(want.logits) / len(want.ids)
	at := map[string]int{}
	for i, id := range got.ids {
		if _, dup := at[id]; dup {
			t.Fatalf("row %s twice", id)
		}
		at[id] = i
	}
	for i, id := range want.ids {
		j, ok := at[id]
		if !ok {
			t.Fatalf("row %s lost", id)
		}
		for c := 0; c < k; c++ {
			if got.logits[j*k+c] != want.logits[i*k+c] {
				t.Fatalf("row %s: logits differ from the uninterrupted run", id)
			}
		}
	}
	// another model's file is not resumed into
	_, errOut2, err := sh(t, "lk-infer -q --model testdata/zoo/lk3.onnx --out "+out+" --resume < "+in)
	if err == nil || !strings.Contains(errOut2, "was written by another run") {
		t.Errorf("resuming another model's file: %v %q", err, errOut2)
	}
}

// killWhenWritten kills a started command once the file at path holds
// more than size bytes (at most a minute from now).
func killWhenWritten(t *testing.T, cmd *exec.Cmd, path string, size int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() > size {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s wrote no more than %d bytes to %s in 60 s", filepath.Base(cmd.Path), size, path)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
}
