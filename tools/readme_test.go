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
	"slices"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/testutil"
)

// notShipped marks README command lines that need what a clone does not
// have: real datasets, other models, files of an earlier run, a cluster.
var notShipped = []string{"/data/", "...", "~/Pictures", " m.onnx", "replknet31b", "convnext", "dino_vits16",
	"preds-*", "shard-*", "imagenet-a-preds", "x.arrow", "lesion-*.arrow", "a-*.arrow", "out/clean-", "val.arrow",
	"make ", "sbatch", "parallel ", "MODELS=", "SALIENCY=", "out/preds", "$SLURM", "taig.arrow", "pa.ipc", "out/c.arrow", "out/reproduce/", "$P/", "out/data/"}

// yours marks the commands of a newcomer's own material, which run on
// stand-ins: a shipped photo as cat.jpg, a list of it as my-photos.txt,
// and torchvision's resnet50 exported with random weights as
// resnet50.onnx (when Debian's PyTorch can export it).
var yours = []string{"cat.jpg", "my-photos.txt", "resnet50.onnx"}

// docFiles are the README and the pages under docs/: every command and
// flag they show is tested as the README's are.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{testutil.Path(t, "README.md")}
	for _, pat := range []string{"docs/*.md", "docs/tools/*.md"} {
		m, _ := filepath.Glob(testutil.Path(t, pat))
		files = append(files, m...)
	}
	if len(files) < 15 {
		t.Fatalf("docs: %v", files)
	}
	return files
}

// docText is every doc file's text, one after another.
func docText(t *testing.T) []byte {
	var all []byte
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), '\n')
	}
	return all
}

// readmeBlocks returns the indented code blocks of the README and docs/
// as lists of commands (continuation lines joined), without comments and
// output.
func readmeBlocks(t *testing.T) [][]string {
	t.Helper()
	var blocks [][]string
	for _, f := range docFiles(t) {
		blocks = append(blocks, fileBlocks(t, f)...)
	}
	return blocks
}

func fileBlocks(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
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

// Every command of the README and docs/ that needs only what the
// repository ships runs as written (on the first 200 images of the test
// split) and exits 0, so the docs' examples cannot drift from the tools;
// the newcomer's own-material commands run on stand-ins (yours).
func TestReadmeCommands(t *testing.T) {
	dir := t.TempDir()
	smallFashionMNIST(t, dir, 200)
	for _, d := range []string{"zoo", "images", "imagenet-p", "fashion-mnist/photos"} {
		if err := os.Symlink(testutil.Path(t, "testdata", d), filepath.Join(dir, "testdata", d)); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	run := func(t *testing.T, cmd string) bool {
		opts := []string{"-e", "-o", "pipefail", "-c", cmd} // a failing first stage fails the command
		if strings.Contains(cmd, "| head") {
			opts = []string{"-e", "-c", cmd} // head closes the pipe early on purpose
		}
		c := exec.Command("bash", opts...)
		c.Dir = dir
		c.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Errorf("README command failed: %s\n%v\n%s", cmd, err, stderr.String())
			return false
		}
		if strings.Contains(cmd, "--format text") && stdout.Len() == 0 {
			t.Errorf("README command printed nothing: %s", cmd)
		}
		return true
	}
	ran, skipped := 0, 0
	var own []string
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
			if slices.ContainsFunc(yours, func(s string) bool { return strings.Contains(cmd, s) }) {
				own = append(own, cmd)
				continue
			}
			if run(t, cmd) {
				ran++
			}
		}
	}
	if ran < 12 || len(own) < 3 {
		t.Errorf("only %d README commands ran and %d use a newcomer's material (%d need data a clone lacks): did the docs' code blocks change shape?", ran, len(own), skipped)
	}
	t.Logf("%d README commands ran, %d need data or models a clone lacks", ran, skipped)
	t.Run("your own photo and model", func(t *testing.T) {
		big := testutil.BigModels(t)
		for _, f := range []string{"resnet50.onnx", "resnet50.json"} {
			if err := os.Symlink(filepath.Join(big, f), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(testutil.Path(t, "testdata", "images", "collage-500x375.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "cat.jpg"), b, 0o644)
		os.WriteFile(filepath.Join(dir, "my-photos.txt"), []byte("# a photo of a tabby\ncat.jpg 281\n"), 0o644)
		for _, cmd := range own {
			run(t, cmd)
		}
		t.Logf("%d commands on a newcomer's photo and torchvision export ran", len(own))
	})
}

// Every flag of every tool's -h is in the README or docs/.
func TestReadmeNamesEveryFlag(t *testing.T) {
	readme := docText(t)
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
				t.Errorf("%s %s is in neither the README nor docs/", filepath.Base(tool), flag)
			}
		}
	}
}

// The docs' Caffe-style sidecar is the one testdata/modern's
// resnet-bgr255 export is read with, whose logits and gradients match
// PyTorch's (lib/grad's TestModernExportsMatchPyTorch).
func TestReadmeCaffeSidecar(t *testing.T) {
	readme, err := os.ReadFile(testutil.Path(t, "docs", "models.md"))
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

// toolFlags are the flags each built tool's -h lists.
func toolFlags(t *testing.T) map[string]map[string]bool {
	tools, _ := filepath.Glob(filepath.Join(bin, "lk-*"))
	out := map[string]map[string]bool{}
	for _, tool := range tools {
		var help bytes.Buffer
		c := exec.Command(tool, "-h")
		c.Stdout, c.Stderr = &help, &help
		c.Run()
		fl := map[string]bool{}
		for _, line := range strings.Split(help.String(), "\n") {
			if strings.HasPrefix(line, "  -") {
				name := strings.Fields(line)[0][1:]
				if len(name) == 1 {
					fl["-"+name] = true
				} else {
					fl["--"+name] = true
				}
			}
		}
		out[filepath.Base(tool)] = fl
	}
	return out
}

// The README's table of shared flags names, for each row, exactly the
// tools whose -h lists all the row's flags.
func TestReadmeSharedFlags(t *testing.T) {
	readme, err := os.ReadFile(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "| flag | tools | meaning |")
	if i < 0 {
		t.Fatal("README: no table of shared flags")
	}
	flags := toolFlags(t)
	rows := 0
	for _, line := range strings.Split(s[i:], "\n")[2:] {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "/"), " | ")
		var want []string
		for _, f := range strings.Split(cells[0], "`")[1:] {
			if strings.HasPrefix(f, "-") {
				want = append(want, strings.Fields(f)[0])
			}
		}
		listed := strings.Split(strings.TrimSpace(cells[1]), ", ")
		slices.Sort(listed)
		var have []string
		for tool, fl := range flags {
			all := true
			for _, f := range want {
				all = all && fl[f]
			}
			if all {
				have = append(have, tool)
			}
		}
		slices.Sort(have)
		if !slices.Equal(listed, have) {
			t.Errorf("README's row for %v lists %v; the tools with those flags are %v", want, listed, have)
		}
		rows++
	}
	if rows < 10 {
		t.Errorf("%d rows in the table of shared flags", rows)
	}
}

// The README's first path: its lk-top command prints the lines the README
// shows, comes within the first screens, and the sentence on fog holds.
func TestReadmeFirstScreen(t *testing.T) {
	readme, err := os.ReadFile(testutil.Path(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	at := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "    lk-data") && strings.HasSuffix(l, "| lk-top") && strings.Contains(l, "photos/trouser.png")
	})
	if at < 0 || at > 110 {
		t.Fatalf("README: the photo's lk-top command is at line %d; want it in the first 110 lines", at+1)
	}
	var shown []string
	for _, l := range lines[at+1:] {
		if strings.HasPrefix(l, "    ") {
			shown = append(shown, l[4:])
		} else if len(shown) > 0 {
			break
		}
	}
	got := mustSh(t, strings.TrimSpace(lines[at])+" --format text 2>/dev/null")
	if strings.Join(shown, "\n") != strings.TrimRight(got, "\n") {
		t.Errorf("README shows\n%s\nthe command prints\n%s", strings.Join(shown, "\n"), got)
	}
	if !strings.Contains(string(readme), "fog turns the trousers into a pullover from severity 2") {
		t.Fatal("README: the sentence on fog changed; change this test with it")
	}
	csv := readCSV(t, mustSh(t, "lk-data -q --gray3 --crop 32 testdata/fashion-mnist/photos/trouser.png | lk-corrupt -q --corruptions fog --severities 1-5 | lk-infer -q --model testdata/zoo/lk31.onnx | lk-top -q -k 1 --format csv"))
	for _, r := range csv {
		want := "Pullover"
		if r["severity"] == "1" {
			want = "Trouser"
		}
		if r["name"] != want {
			t.Errorf("fog severity %s: top class %s, the README says %s", r["severity"], r["name"], want)
		}
	}
}
