package dataset_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

func touchJPEG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(testutil.Path(t, "testdata", "images", "collage-gray-300x200.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngTree writes a 4x4 PNG at each relative path of a new folder.
func pngTree(t *testing.T, paths ...string) string {
	root := t.TempDir()
	for _, p := range paths {
		writePNG(t, filepath.Join(root, p))
	}
	return root
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	f.Close()
}

func TestSources(t *testing.T) {
	root := t.TempDir()
	// ImageNet-A style: 2 of the 200 wnid folders
	touchJPEG(t, filepath.Join(root, "inA", "n01498041", "x.JPEG"))
	touchJPEG(t, filepath.Join(root, "inA", "n12267677", "sub", "y.jpeg"))
	// plain names
	touchJPEG(t, filepath.Join(root, "named", "zebra", "a.png.jpg"))
	touchJPEG(t, filepath.Join(root, "named", "apple", "b.jpg"))
	os.WriteFile(filepath.Join(root, "named", "apple", "notes.txt"), []byte("not an image"), 0o644)
	// flat val folder with a labels file mixing the two label forms is refused per line
	touchJPEG(t, filepath.Join(root, "flat", "ILSVRC2012_val_00000001.JPEG"))
	touchJPEG(t, filepath.Join(root, "flat", "ILSVRC2012_val_00000002.JPEG"))
	os.WriteFile(filepath.Join(root, "val.csv"), []byte("ImageId,PredictionString\nILSVRC2012_val_00000002,n15075141 1 2 3 4\nILSVRC2012_val_00000001,n01440764 5 6 7 8\n"), 0o644)
	os.WriteFile(filepath.Join(root, "list.txt"), []byte("# path label\nnamed/zebra/a.png.jpg 4\nnamed/apple/b.jpg -1\n"), 0o644)

	cases := []struct {
		name, path, labels string
		space              string
		want               []string // id=label
	}{
		{"wnid folders", "inA", "", "imagenet-1k", []string{"n01498041/x.JPEG=6", "n12267677/sub/y.jpeg=988"}},
		{"named folders", "named", "", "folders", []string{"apple/b.jpg=0", "zebra/a.png.jpg=1"}},
		{"flat with LOC csv", "flat", "val.csv", "imagenet-1k", []string{"ILSVRC2012_val_00000001.JPEG=0", "ILSVRC2012_val_00000002.JPEG=999"}},
		{"list file", "list.txt", "", "list", []string{"named/zebra/a.png.jpg=4", "named/apple/b.jpg=-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			labels := c.labels
			if labels != "" {
				labels = filepath.Join(root, labels)
			}
			s, err := dataset.Open(filepath.Join(root, c.path), labels)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range s.Items {
				got = append(got, it.ID+"="+strconv.Itoa(int(it.Label)))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") || s.LabelSpace != c.space {
				t.Errorf("got %v (%s), want %v (%s)", got, s.LabelSpace, c.want, c.space)
			}
			if _, err := s.Load(s.Items[0], 0); err != nil {
				t.Error(err)
			}
		})
	}
	// a user's own photos: a flat folder without labels, one image, a plain
	// list of paths give unlabelled images (label -1), with a note that
	// says how to give labels
	os.WriteFile(filepath.Join(root, "paths.txt"), []byte("named/apple/b.jpg\n# a comment\n\nnamed/apple/b.jpg\n"), 0o644)
	for _, c := range []struct {
		src  string
		n    int
		note string
	}{
		{"flat", 0, "--labels FILE"},
		{"named/apple/b.jpg", 1, "images without labels (label -1)"},
		{"paths.txt", 2, "2 images without labels"},
	} {
		s, err := dataset.Open(filepath.Join(root, c.src), "")
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if c.n > 0 && len(s.Items) != c.n {
			t.Errorf("%s: %d items, want %d", c.src, len(s.Items), c.n)
		}
		for _, it := range s.Items {
			if it.Label != -1 {
				t.Errorf("%s: item %s has label %d, want -1", c.src, it.ID, it.Label)
			}
		}
		if len(s.Notes) == 0 || !strings.Contains(s.Notes[0], c.note) {
			t.Errorf("%s: notes %q, want one with %q", c.src, s.Notes, c.note)
		}
		if _, err := s.Load(s.Items[0], 0); err != nil {
			t.Errorf("%s: %v", c.src, err)
		}
	}
	// a bad label line names the file and line
	os.WriteFile(filepath.Join(root, "bad.txt"), []byte("named/apple/b.jpg n99999999\n"), 0o644)
	if _, err := dataset.Open(filepath.Join(root, "bad.txt"), ""); err == nil || !strings.Contains(err.Error(), "bad.txt:1") {
		t.Errorf("bad wnid: %v", err)
	}
}

func TestIDX(t *testing.T) {
	s, err := dataset.Open(testutil.FashionMNIST(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != 10000 || s.Items[0].ID != "t10k/0000" || s.Items[0].Label != 9 || s.Items[1].Label != 2 {
		t.Fatalf("%d items, first %+v, second %+v (Fashion-MNIST's test labels start 9, 2)", len(s.Items), s.Items[0], s.Items[1])
	}
	img, _ := s.Load(s.Items[0], 0)
	if img.W != 28 || img.H != 28 || img.C != 1 {
		t.Fatalf("image %dx%dx%d", img.W, img.H, img.C)
	}
}

func TestOrder(t *testing.T) {
	var items []dataset.Item
	for i := 0; i < 1000; i++ {
		items = append(items, dataset.Item{ID: strconv.Itoa(i)})
	}
	a := dataset.Order(items, true, 5, 100, 0, 1)
	b := dataset.Order(items, true, 5, 100, 0, 1)
	c := dataset.Order(items, true, 6, 100, 0, 1)
	if len(a) != 100 || a[0] != b[0] || a[0] == c[0] && a[1] == c[1] {
		t.Fatal("shuffle is not a function of the seed")
	}
	seen := map[string]int{}
	for k := 0; k < 4; k++ {
		for _, it := range dataset.Order(items, true, 5, 100, k, 4) {
			seen[it.ID]++
		}
	}
	for _, it := range a {
		if seen[it.ID] != 1 {
			t.Fatalf("id %s is in %d shards", it.ID, seen[it.ID])
		}
	}
	if len(seen) != 100 {
		t.Fatalf("shards hold %d ids, want 100", len(seen))
	}
}

// An ImageNet-C tree (CORRUPTION/SEVERITY/WNID/*.JPEG), or one
// corruption's folder of it, lists its images with corruption and
// severity; a tree that half matches is an error saying what was expected.
func TestImageNetC(t *testing.T) {
	root := pngTree(t, "fog/1/n01440764/a.png", "fog/3/n01443537/b.png", "snow/5/n01440764/c.png")
	s, err := dataset.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range s.Items {
		got = append(got, fmt.Sprintf("%s %d %s %d", it.ID, it.Label, it.Corruption, it.Severity))
	}
	want := "fog/1/n01440764/a.png 0 fog 1|fog/3/n01443537/b.png 1 fog 3|snow/5/n01440764/c.png 0 snow 5"
	if strings.Join(got, "|") != want || !s.Corrupted {
		t.Errorf("items %v", got)
	}
	one, err := dataset.Open(filepath.Join(root, "fog"), "")
	if err != nil || len(one.Items) != 2 || one.Items[1].Severity != 3 || one.Items[1].Corruption != "fog" {
		t.Errorf("one corruption's folder: %v %+v", err, one)
	}
	os.MkdirAll(filepath.Join(root, "holiday"), 0o755)
	if _, err := dataset.Open(root, ""); err == nil || !strings.Contains(err.Error(), "mixes corruption folders") {
		t.Errorf("mixed tree: %v", err)
	}
	os.Remove(filepath.Join(root, "holiday"))
	os.MkdirAll(filepath.Join(root, "fog", "7"), 0o755)
	if _, err := dataset.Open(root, ""); err == nil || !strings.Contains(err.Error(), `folder "7" is not a severity`) {
		t.Errorf("bad severity: %v", err)
	}
}

// An ImageNet-C-bar tree names its severity folders by the corruption's
// parameter ("%.2f", make_imagenet_c_bar.py); they are read as the levels
// 1-5 of imagenet_c_bar.csv, and a value that is none of them is an error
// listing the five.
func TestImageNetCBar(t *testing.T) {
	root := pngTree(t, "caustic_refraction/2.35/n01440764/a.png", "caustic_refraction/9.15/n01440764/b.png", "sparkles/3.00/n01443537/c.png")
	s, err := dataset.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range s.Items {
		got = append(got, fmt.Sprintf("%s %d %s %d", it.ID, it.Label, it.Corruption, it.Severity))
	}
	want := "caustic_refraction/2.35/n01440764/a.png 0 caustic_refraction 1|caustic_refraction/9.15/n01440764/b.png 0 caustic_refraction 5|sparkles/3.00/n01443537/c.png 1 sparkles 3"
	if strings.Join(got, "|") != want || !s.Corrupted {
		t.Errorf("items %v", got)
	}
	os.MkdirAll(filepath.Join(root, "sparkles", "4.00", "n01440764"), 0o755)
	if _, err := dataset.Open(root, ""); err == nil || !strings.Contains(err.Error(), `folder "4.00" is not a severity of ImageNet-C-bar's sparkles (its five: 1.00 2.00 3.00 5.00 6.00)`) {
		t.Errorf("unknown parameter: %v", err)
	}
}

// An ImageNet-9 tree (VARIANT/val/NN_class/*) is read with labels by class
// folder and a variant per row.
func TestImageNet9(t *testing.T) {
	root := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	classes := []string{"00_dog", "01_bird", "02_wheeled vehicle", "03_reptile", "04_carnivore", "05_insect", "06_musical instrument", "07_primate", "08_fish"}
	for _, v := range []string{"original", "mixed_rand"} {
		for _, c := range classes {
			p := filepath.Join(root, v, "val", c, "x.png")
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, _ := os.Create(p)
			png.Encode(f, img)
			f.Close()
		}
	}
	s, err := dataset.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Items) != 18 || !s.Variants || s.Items[0].Variant != "mixed_rand" || s.Items[17].Label != 8 || s.Items[17].Variant != "original" {
		t.Errorf("items %+v", s.Items)
	}
	os.MkdirAll(filepath.Join(root, "original", "val", "09_extra"), 0o755)
	f, _ := os.Create(filepath.Join(root, "original", "val", "09_extra", "y.png"))
	png.Encode(f, img)
	f.Close()
	if _, err := dataset.Open(root, ""); err == nil || !strings.Contains(err.Error(), "10 class folders, ImageNet-9 has 9") {
		t.Errorf("10 classes: %v", err)
	}
}

// A cue-conflict tree (CATEGORY/SHAPEn-TEXTUREm.png, Geirhos et al.'s
// stimuli) is read with the shape's category as the label and the
// texture's, from the file name as model-vs-human reads it, as a column.
func TestCueConflict(t *testing.T) {
	root := pngTree(t, "airplane/airplane1-bicycle2.png", "cat/cat3-cat7.png", "truck/x_truck10-elephant1.png")
	s, err := dataset.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range s.Items {
		got = append(got, fmt.Sprintf("%s %d %d", it.ID, it.Label, it.Texture))
	}
	want := "airplane/airplane1-bicycle2.png 0 2|cat/cat3-cat7.png 7 7|truck/x_truck10-elephant1.png 15 11"
	if strings.Join(got, "|") != want || !s.CueConflict || s.Kind != "cue-conflict" {
		t.Errorf("items %v", got)
	}
	writePNG(t, filepath.Join(root, "cat/cat4-zebra2.png"))
	if _, err := dataset.Open(root, ""); err == nil || !strings.Contains(err.Error(), `file "cat4-zebra2.png": texture "zebra" is not one of the 16 categories`) {
		t.Errorf("unknown texture: %v", err)
	}
}

// An ImageNet-P tree (PERTURBATION/WNID/*.mp4, testdata/imagenet-p/make_p.py)
// becomes one row per frame, in order, with the columns lk-corrupt
// --perturbations writes; the pixels are OpenCV's decoding of the videos.
func TestImageNetP(t *testing.T) {
	root := testutil.Path(t, "testdata", "imagenet-p")
	s, err := dataset.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range s.Items {
		got = append(got, fmt.Sprintf("%s %d %s %d", it.ID, it.Label, it.Perturbation, it.Difficulty))
	}
	want := "gaussian_noise/n01440764/a.mp4 0 gaussian_noise 1|gaussian_noise_2/n01440764/a.mp4 0 gaussian_noise 2|" +
		"rotate/n01443537/b.mp4 1 rotate 1|rotate/n01443537/c.mp4 1 rotate 1"
	if strings.Join(got, "|") != want || !s.Sequences {
		t.Fatalf("items %v", got)
	}
	// shards keep videos whole: they split items, not frames
	var buf bytes.Buffer
	if _, err := dataset.Write(s, dataset.Order(s.Items, false, 0, 0, 0, 1), &buf, dataset.WriteOptions{BatchRows: 4}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.NewReader(&buf, "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Schema().Metadata().GetValue(stream.MetaRows); ok {
		t.Error("a video stream claims a row count before decoding")
	}
	frames := map[string][]float32{}
	var rows []string
	for r.Next() {
		rec := r.Record()
		px, _, _ := stream.Float32Rows(rec.Column(2))
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string // every column but the image
			for j := 0; j < int(rec.NumCols()); j++ {
				if j != 2 {
					row = append(row, rec.Column(j).ValueStr(i))
				}
			}
			rows = append(rows, strings.Join(row, " "))
			seq := rec.Column(4).ValueStr(i)
			frames[seq] = append(frames[seq], px[i*3*32*32:(i+1)*3*32*32]...)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6+6+8+5 || rows[0] != "gaussian_noise/n01440764/a.mp4/0 0 gaussian_noise gaussian_noise/n01440764/a.mp4 0 1" ||
		rows[11] != "gaussian_noise_2/n01440764/a.mp4/5 0 gaussian_noise gaussian_noise_2/n01440764/a.mp4 5 2" ||
		rows[24] != "rotate/n01443537/c.mp4/4 1 rotate rotate/n01443537/c.mp4 4 1" {
		t.Fatalf("%d rows: %q ... %q ... %q", len(rows), rows[0], rows[11], rows[len(rows)-1])
	}
	for seq, px := range frames {
		ref, err := imageio.ReadFile(filepath.Join(root, strings.TrimSuffix(seq, ".mp4")+".cv2.png"), 0)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, v := range px { // CHW frames against HWC stacked frames
			f, c, y, x := i/3072, i/1024%3, i/32%32, i%32
			worst = max(worst, math.Abs(float64(v)-float64(ref.Pix[((f*32+y)*32+x)*3+c])/255))
		}
		if worst > 1.01/255 {
			t.Errorf("%s: frames differ from OpenCV's by %.4f", seq, worst)
		}
	}

	// one perturbation's folder alone
	one, err := dataset.Open(filepath.Join(root, "gaussian_noise_2"), "")
	if err != nil || len(one.Items) != 1 || one.Items[0].Difficulty != 2 || one.Items[0].ID != "gaussian_noise_2/n01440764/a.mp4" {
		t.Errorf("one folder: %v %+v", err, one)
	}
	// videos in folders not named by a perturbation, and mixed trees
	tmp := t.TempDir()
	video, _ := os.ReadFile(filepath.Join(root, "rotate", "n01443537", "b.mp4"))
	for _, p := range []string{"clips/n01440764/x.mp4", "mixed/rotate/n01440764/x.mp4", "mixed/extra/n01440764/x.mp4"} {
		os.MkdirAll(filepath.Join(tmp, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(tmp, p), video, 0o644)
	}
	for dir, msg := range map[string]string{"clips": "not named by an ImageNet-P perturbation", "mixed": "mixes perturbation folders"} {
		if _, err := dataset.Open(filepath.Join(tmp, dir), ""); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", dir, err, msg)
		}
	}
}

// The ways a dataset on disk used to lose or mislabel images without a
// word (issue "Trustworthy numbers", case 4), each now a listing or an
// error that names the file.
func TestIntegrity(t *testing.T) {
	root := t.TempDir()
	ids := func(s *dataset.Source) string {
		var got []string
		for _, it := range s.Items {
			got = append(got, it.ID+"="+strconv.Itoa(int(it.Label)))
		}
		return strings.Join(got, " ")
	}
	// a class folder that is a symbolic link, and a linked image
	touchJPEG(t, filepath.Join(root, "elsewhere", "cat", "c.jpg"))
	touchJPEG(t, filepath.Join(root, "linked", "apple", "a.jpg"))
	if err := os.Symlink(filepath.Join(root, "elsewhere", "cat"), filepath.Join(root, "linked", "banana")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(root, "elsewhere", "cat", "c.jpg"), filepath.Join(root, "linked", "apple", "l.jpg"))
	s, err := dataset.Open(filepath.Join(root, "linked"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(s); got != "apple/a.jpg=0 apple/l.jpg=0 banana/c.jpg=1" {
		t.Errorf("symbolic links: %s", got)
	}
	// a link back up the tree is a loop, not an endless walk
	os.Symlink(filepath.Join(root, "linked"), filepath.Join(root, "elsewhere", "cat", "up"))
	if _, err := dataset.Open(filepath.Join(root, "linked"), ""); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Errorf("a link loop: %v", err)
	}
	// ImageNet-V2: folders 0..N are class indices, not sorted positions
	for _, d := range []string{"0", "2", "10", "999"} {
		touchJPEG(t, filepath.Join(root, "v2", d, "x.jpeg"))
	}
	s, err = dataset.Open(filepath.Join(root, "v2"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(s); got != "0/x.jpeg=0 10/x.jpeg=10 2/x.jpeg=2 999/x.jpeg=999" {
		t.Errorf("numbered folders: %s", got)
	}
	if !strings.Contains(strings.Join(s.Notes, " "), "ImageNet-V2") {
		t.Errorf("numbered folders are not said: %v", s.Notes)
	}
	// a flat folder: every image exactly one line, every line an image
	for _, n := range []string{"a.JPEG", "b.JPEG", "c.JPEG"} {
		touchJPEG(t, filepath.Join(root, "flat", n))
	}
	write := func(name, text string) string {
		p := filepath.Join(root, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	for _, c := range []struct{ name, labels, want string }{
		{"image without a line", "a.JPEG 1\nb.JPEG 2\n", "have no line, e.g. c.JPEG"},
		{"two lines for one image", "a.JPEG 1\nb.JPEG 2\nc.JPEG 3\nb.JPEG 4\n", "dup.txt:4: image b.JPEG has a second labels line (the first is line 2)"},
		{"a line without an image", "a.JPEG 1\nb.JPEG 2\nc.JPEG 3\nd.JPEG 3\n", "gone.txt:4: image d.JPEG"},
		{"label 1000 in ImageNet-1k", "a.JPEG n01440764\nb.JPEG 1000\nc.JPEG 3\n", "image b.JPEG has label 1000, outside the label space's classes 0..999"},
	} {
		file := map[string]string{"image without a line": "short.txt", "two lines for one image": "dup.txt", "a line without an image": "gone.txt", "label 1000 in ImageNet-1k": "big.txt"}[c.name]
		if _, err := dataset.Open(filepath.Join(root, "flat"), write(file, c.labels)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if s, err := dataset.Open(filepath.Join(root, "flat"), write("ok.txt", "c.JPEG 3\na.JPEG 1\nb.JPEG 2\n")); err != nil || ids(s) != "a.JPEG=1 b.JPEG=2 c.JPEG=3" {
		t.Errorf("a complete labels file: %v %v", err, s)
	}
	if err := dataset.CheckLabels([]dataset.Item{{ID: "x", Label: 8}}, 8, "set"); err == nil || !strings.Contains(err.Error(), "image x has label 8") {
		t.Errorf("CheckLabels: %v", err)
	}
}
