package tools_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/testutil"
)

// notShipped marks README command lines that need what a clone does not
// have: real datasets, other models, files of an earlier run, a cluster.
var notShipped = []string{"/data/", "...", "my-photos.txt", "cat.jpg", "~/Pictures", " m.onnx", "resnet50.onnx", "replknet31b", "convnext", "dino_vits16",
	"preds-*", "shard-*", "imagenet-a-preds", "x.arrow", "lesion-*.arrow", "a-*.arrow", "out/clean-", "val.arrow",
	"make ", "sbatch", "parallel ", "MODELS=", "SALIENCY=", "out/preds", "$SLURM", "taig.arrow", "pa.ipc", " c.arrow"}

// readmeBlocks returns the README's indented code blocks as lists of
// commands (continuation lines joined), without comments and output.
func readmeBlocks(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks [][]string
	var cur []string
	var cont string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		indented := strings.HasPrefix(line, "    ") && trim != ""
		if !indented {
			if trim != "" && len(cur) > 0 {
				blocks, cur = append(blocks, cur), nil
			}
			continue
		}
		if cont != "" {
			trim, cont = cont+" "+trim, ""
		}
		if strings.HasSuffix(trim, "\\") {
			cont = strings.TrimSuffix(trim, "\\")
			continue
		}
		if i := strings.Index(trim, "#"); i == 0 {
			continue
		}
		first := strings.Fields(trim)[0]
		if strings.HasPrefix(first, "lk-") || first == "for" {
			cur = append(cur, trim)
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// smallFashionMNIST writes the first n images and labels of the shipped
// test split as IDX files at dir/testdata/fashion-mnist: README commands
// run as written, on less data.
func smallFashionMNIST(t *testing.T, dir string, n int) {
	t.Helper()
	out := filepath.Join(dir, "testdata", "fashion-mnist")
	os.MkdirAll(out, 0o755)
	for _, name := range []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		f, err := os.Open(testutil.Path(t, "testdata", "fashion-mnist", name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		dims := int(data[3])
		per := 1
		for d := 1; d < dims; d++ {
			per *= int(binary.BigEndian.Uint32(data[4+4*d:]))
		}
		binary.BigEndian.PutUint32(data[4:], uint32(n))
		head := 4 + 4*dims
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data[:head+n*per])
		zw.Close()
		if err := os.WriteFile(filepath.Join(out, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Every README command that needs only what the repository ships runs as
// written (on the first 200 images of the test split) and exits 0, so the
// README's examples cannot drift from the tools.
func TestReadmeCommands(t *testing.T) {
	dir := t.TempDir()
	smallFashionMNIST(t, dir, 200)
	for _, d := range []string{"zoo", "images", "imagenet-p"} {
		if err := os.Symlink(testutil.Path(t, "testdata", d), filepath.Join(dir, "testdata", d)); err != nil {
			t.Fatal(err)
		}
	}
	ran, skipped := 0, 0
	for _, block := range readmeBlocks(t) {
		for _, cmd := range block {
			skip := false
			for _, s := range notShipped {
				skip = skip || strings.Contains(cmd, s)
			}
			if skip {
				skipped++
				continue
			}
			c := exec.Command("bash", "-e", "-c", cmd)
			c.Dir = dir
			c.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			if err := c.Run(); err != nil {
				t.Errorf("README command failed: %s\n%v\n%s", cmd, err, stderr.String())
				continue
			}
			if strings.Contains(cmd, "--format text") && stdout.Len() == 0 {
				t.Errorf("README command printed nothing: %s", cmd)
			}
			ran++
		}
	}
	if ran < 12 {
		t.Errorf("only %d README commands ran (%d need data a clone lacks): did the README's code blocks change shape?", ran, skipped)
	}
	t.Logf("%d README commands ran, %d need data or models a clone lacks", ran, skipped)
}

// Every flag of every tool's -h is in the README.
func TestReadmeNamesEveryFlag(t *testing.T) {
	readme, err := os.ReadFile(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tools, _ := filepath.Glob(filepath.Join(bin, "lk-*"))
	if len(tools) < 14 {
		t.Fatalf("%d tools built", len(tools))
	}
	for _, tool := range tools {
		var help bytes.Buffer
		c := exec.Command(tool, "-h")
		c.Stdout, c.Stderr = &help, &help
		c.Run()
		for _, line := range strings.Split(help.String(), "\n") {
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			name := strings.Fields(line)[0][1:]
			flag := "--" + name
			if len(name) == 1 {
				flag = "-" + name
			}
			found := false
			for _, after := range []string{" ", "`", "=", ",", "\n", ")", "|"} {
				found = found || bytes.Contains(readme, []byte(flag+after))
			}
			if !found {
				t.Errorf("%s %s is not in the README", filepath.Base(tool), flag)
			}
		}
	}
}

// The README's Caffe-style sidecar is the one testdata/modern's
// resnet-bgr255 export is read with, whose logits and gradients match
// PyTorch's (lib/grad's TestModernExportsMatchPyTorch).
func TestReadmeCaffeSidecar(t *testing.T) {
	readme, err := os.ReadFile(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "A Caffe-style model")
	if i < 0 {
		t.Fatal("README: no Caffe-style sidecar example")
	}
	block := s[i:]
	block = block[strings.Index(block, "```json")+len("```json"):]
	block = block[:strings.Index(block, "```")]
	var doc, fixture model.Config
	if err := json.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("README's sidecar: %v\n%s", err, block)
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata", "modern", "resnet-bgr255.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	if doc.InputScale != fixture.InputScale || doc.ChannelOrder != fixture.ChannelOrder || len(doc.Mean) != 3 || len(doc.Std) != 3 {
		t.Fatalf("README's sidecar %+v, the fixture's %+v", doc, fixture)
	}
	for c := 0; c < 3; c++ {
		if math.Abs(float64(doc.Mean[c]-fixture.Mean[c])) > 1e-4 || math.Abs(float64(doc.Std[c]-fixture.Std[c])) > 1e-4 {
			t.Fatalf("README's mean %v std %v, the fixture's %v %v", doc.Mean, doc.Std, fixture.Mean, fixture.Std)
		}
	}
}
