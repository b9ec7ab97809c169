package tools_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// Shards written one after another read as the whole run, in every tool
// that reads streams; two models' predictions are never scored as one;
// conditions pooled into one score are said.
func TestShardsAndPooling(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	data := fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 120 %s", fm)
	whole := mustSh(t, data+" | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv")
	for k := 0; k < 3; k++ {
		mustSh(t, fmt.Sprintf("%s --shard %d/3 | lk-infer -q --model testdata/zoo/lk31.onnx > %s/s%d.arrow", data, k, tmp, k))
	}
	cat := fmt.Sprintf("cat %s/s0.arrow %s/s1.arrow %s/s2.arrow", tmp, tmp, tmp)
	if got := mustSh(t, cat+" | lk-metrics --format csv"); got != whole {
		t.Errorf("three shards concatenated:\n%s\nthe whole run:\n%s", got, whole)
	}
	mustSh(t, cat+" > "+tmp+"/all.arrow")
	if got := mustSh(t, "lk-metrics --format csv "+tmp+"/all.arrow"); got != whole {
		t.Errorf("a concatenated file named as an argument:\n%s\nwant\n%s", got, whole)
	}
	if got := mustSh(t, cat+" | lk-select --correct | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv"); !strings.Contains(got, "100.00") {
		t.Errorf("lk-select over concatenated shards, its correct rows rescored: %s", got)
	}
	mustSh(t, data+" | lk-infer -q --model testdata/zoo/resnet.onnx > "+tmp+"/resnet.arrow")
	for _, c := range []struct{ script, want string }{
		{"lk-metrics " + tmp + "/all.arrow " + tmp + "/resnet.arrow", "the rows hold model lk31, resnet: one score would pool their predictions; add --by model"},
		{"cat " + tmp + "/all.arrow " + tmp + "/resnet.arrow | lk-metrics --measure calibration", "the rows hold model lk31, resnet"},
		{"(cat " + tmp + "/s0.arrow; echo trailing) | lk-metrics", "bytes that are not another Arrow IPC stream"},
		{"cat " + tmp + "/s0.arrow " + tmp + "/s0.arrow | lk-metrics", "duplicate row key"},
		{fmt.Sprintf("cat %s/s0.arrow <(%s --limit 3) | lk-metrics", tmp, data), "has columns"},
	} {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
	}
	out, errOut, err := sh(t, data+" | lk-corrupt -q --corruptions gaussian_noise,contrast --severities 1 | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv")
	if err != nil || !strings.Contains(errOut, "the scores pool the rows of every corruption (gaussian_noise, contrast)") {
		t.Errorf("pooled corruptions: %v, stdout %q stderr %q; want a note", err, out, errOut)
	}
	if got := mustSh(t, "lk-metrics --by model --format csv "+tmp+"/all.arrow "+tmp+"/resnet.arrow"); !strings.Contains(got, "lk31,120,") || !strings.Contains(got, "resnet,120,") {
		t.Errorf("--by model: %s", got)
	}
}

// One output rule for every tool that writes a file: never its own
// input, a second writer refused while the first holds the file, links
// followed, FIFOs written into rather than replaced.
func TestOutputRule(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	fm := testutil.FashionMNIST(t)
	x := tmp + "/x.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 40 %s > %s", fm, x))
	size := func(p string) string { return strings.TrimSpace(mustSh(t, "stat -c %s "+p)) }
	before := size(x)
	m := "--model testdata/zoo/lk31.onnx"
	for _, c := range []struct{ script, want string }{
		{"lk-infer -q " + m + " --out " + x + " < " + x, "is also the input on stdin"},
		{"lk-infer -q " + m + " --out " + x + " " + x, "is also the input " + x},
		{"lk-corrupt -q --corruptions contrast --out " + x + " < " + x, "is also the input on stdin"},
		{"lk-attack -q " + m + " --attack fgsm --eps 0.01 --out " + x + " " + x, "is also the input"},
		{"lk-occlude -q --patch 4 --out " + x + " < " + x, "is also the input on stdin"},
		{"lk-fft-noise -q --freqs 0.5 --out " + x + " < " + x, "is also the input on stdin"},
		{"lk-featvar -q " + m + " --out " + x + " " + x, "is also the input"},
		{"lk-infer -q " + m + " --out " + tmp + "/p.arrow < " + x + " && lk-plot --kind bar --x model --y top1 -o " + tmp + "/p.arrow " + tmp + "/p.arrow", "is also the input"},
		{"lk-infer -q " + m + " --out /dev/null --resume < " + x, "not a regular file, so nothing in it can be continued"},
	} {
		_, errOut, err := sh(t, c.script)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: err %v, stderr %q; want %q", c.script, err, errOut, c.want)
		}
		if got := size(x); got != before {
			t.Fatalf("%s: the input is now %s bytes, was %s", c.script, got, before)
		}
	}
	// a second writer while the first holds the file (its input still open)
	out := tmp + "/o.arrow"
	first := fmt.Sprintf("(cat %s; sleep 3) | lk-infer -q %s --out %s", x, m, out)
	second := fmt.Sprintf("sleep 1; lk-infer -q %s --out %s < %s", m, out, x)
	_, errOut, err := sh(t, fmt.Sprintf("(%s) & (%s); s=$?; wait $!; f=$?; echo \"first $f second $s\" >&2; [ $f = 0 ] && [ $s != 0 ]", first, second))
	if err != nil || !strings.Contains(errOut, "is being written by another run") {
		t.Fatalf("two writers of one --out: %v\n%s", err, errOut)
	}
	if got := mustSh(t, "lk-metrics --format csv "+out+" | cut -d, -f1"); got != "n\n40\n" {
		t.Errorf("the first writer's file after the second was refused: %q", got)
	}
	// a link's target gets the bytes; a FIFO's reader gets them all
	mustSh(t, fmt.Sprintf("ln -s real.arrow %s/link.arrow && lk-featvar -q %s --out %s/link.arrow < %s", tmp, m, tmp, x))
	if !strings.HasPrefix(mustSh(t, "stat -c %F "+tmp+"/link.arrow"), "symbolic link") || size(tmp+"/real.arrow") == "0" {
		t.Errorf("--out through a link: the link was replaced or its target is empty")
	}
	got := mustSh(t, fmt.Sprintf("mkfifo %s/fifo && (lk-featvar -q %s --out %s/fifo < %s &) && lk-metrics --help >/dev/null 2>&1; cat %s/fifo | wc -c", tmp, m, tmp, x, tmp))
	if strings.TrimSpace(got) != size(tmp+"/real.arrow") {
		t.Errorf("--out a FIFO: its reader got %s bytes, the file %s", strings.TrimSpace(got), size(tmp+"/real.arrow"))
	}
	if !strings.HasPrefix(mustSh(t, "stat -c %F "+tmp+"/fifo"), "fifo") {
		t.Errorf("--out a FIFO replaced it")
	}
}

// --resume continues only the run that wrote the file: the same flags
// over other images (another folder given to lk-data upstream) are
// another run; the same stream under another file name is the same run.
func TestResumeChecksWhatRowsComeFrom(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	imgs := testutil.Path(t, "testdata", "images")
	mustSh(t, fmt.Sprintf("mkdir -p %s/A/0 %s/B/0 && cp %s/collage-333x500.jpg %s/collage-500x375.jpg %s/A/0/ && cp %s/collage-333x500.bicubic.png %s/collage-500x375.bicubic.png %s/B/0/",
		tmp, tmp, imgs, imgs, tmp, imgs, imgs, tmp))
	data := func(dir string) string { return fmt.Sprintf("lk-data -q --resize 32 --crop 32 %s/%s", tmp, dir) }
	for _, tool := range []string{
		"lk-corrupt -q --corruptions contrast --severities 1",
		"lk-infer -q --model testdata/zoo/lk31.onnx",
	} {
		out := tmp + "/out.arrow"
		mustSh(t, fmt.Sprintf("rm -f %s; %s | %s --out %s", out, data("A"), tool, out))
		_, errOut, err := sh(t, fmt.Sprintf("%s | %s --out %s --resume", data("B"), tool, out))
		if err == nil || !strings.Contains(errOut, "was written by another run") {
			t.Errorf("%s: resumed over other images: err %v, stderr %q", tool, err, errOut)
		}
		mustSh(t, fmt.Sprintf("%s > %s/a1.arrow && cp %s/a1.arrow %s/a2.arrow && rm -f %s && %s --out %s %s/a1.arrow && %s --out %s --resume %s/a2.arrow",
			data("A"), tmp, tmp, tmp, out, tool, out, tmp, tool, out, tmp))
	}
}

// Every measure refuses an empty stream instead of printing an empty
// table (fp and robust printed one, exit 0).
func TestMetricsEmptyInput(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 20 %s | lk-infer -q --model testdata/zoo/lk31.onnx | lk-select -q --min-confidence 1 > %s/empty.arrow", testutil.FashionMNIST(t), tmp))
	for _, m := range []string{"accuracy", "ce", "fp", "robust", "calibration", "reliability", "shape-bias", "in9"} {
		_, errOut, err := sh(t, fmt.Sprintf("lk-metrics --measure %s %s/empty.arrow", m, tmp))
		if err == nil || !strings.Contains(errOut, "rows to score") {
			t.Errorf("--measure %s on 0 rows: err %v, stderr %q", m, err, errOut)
		}
	}
}

// --by id (a per-image table) skips unlabelled images with the same note
// as the table without --by, instead of failing.
func TestMetricsByIDUnlabelled(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	imgs := testutil.Path(t, "testdata", "images")
	list := fmt.Sprintf("%s/collage-500x375.jpg 1\n%s/collage-333x500.jpg -1\n", imgs, imgs)
	if err := os.WriteFile(tmp+"/list.txt", []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := sh(t, fmt.Sprintf("lk-data -q --resize 32 --crop 32 %s/list.txt | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --by id --format csv", tmp))
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(errOut, "1 rows have label -1 (unknown) and are not scored") {
		t.Errorf("--by id with an unlabelled image: %v\n%s%s", err, out, errOut)
	}
}

// A user's own photos: a folder without class folders, one photo, a plain
// list of paths run through lk-infer as unlabelled images (label -1), and
// lk-data says how to give labels.
func TestOwnPhotos(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	imgs := testutil.Path(t, "testdata", "images")
	mustSh(t, fmt.Sprintf("mkdir -p %s/photos && cp %s/collage-500x375.jpg %s/collage-cmyk-260x180.jpg %s/photos/ && printf 'photos/collage-500x375.jpg\\nphotos/collage-cmyk-260x180.jpg 3\\n' > %s/list.txt",
		tmp, imgs, imgs, tmp, tmp))
	for _, c := range []struct {
		src     string
		n, note string
	}{
		{tmp + "/photos", "2", "2 images without labels (label -1)"},
		{tmp + "/photos/collage-500x375.jpg", "1", "1 images without labels"},
		{tmp + "/list.txt", "1", "1 images without labels"},
	} {
		// the note from lk-data, then the predictions scored
		out, errOut, err := sh(t, fmt.Sprintf("lk-data --resize 40 --crop 32 %s > /dev/null; lk-data -q --resize 40 --crop 32 %s | lk-infer -q --model testdata/zoo/lk31.onnx | lk-metrics --format csv", c.src, c.src))
		if !strings.Contains(errOut, c.note) {
			t.Errorf("%s: stderr %q, want %q", c.src, errOut, c.note)
		}
		if c.src == tmp+"/list.txt" {
			if err != nil || !strings.HasPrefix(strings.Split(out, "\n")[1], "1,") {
				t.Errorf("%s: the labelled image scored alone: %v %q %q", c.src, err, out, errOut)
			}
		} else if err == nil || !strings.Contains(errOut, "no labelled rows to score: all "+c.n+" have label -1") {
			t.Errorf("%s: %v %q", c.src, err, errOut)
		}
	}
}
