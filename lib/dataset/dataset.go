// Package dataset lists the images of a dataset on disk with their labels
// and stable ids, and orders them: shuffling, limiting and sharding depend
// only on the ids and the seed, so that every shard of a sweep and every
// re-run agrees on which image is which.
//
// Sources:
//   - a class-folder tree (ImageNet style): folder names that are ImageNet
//     WordNet ids map to ImageNet-1k indices (so 200-class sets such as
//     ImageNet-A, -R and -O get their 1k labels); other names get their
//     sorted position;
//   - a flat folder with a labels file (ILSVRC val): lines "filename label",
//     the label a 1k index or a WordNet id;
//   - IDX files (MNIST, Fashion-MNIST), gzipped or not;
//   - a list file: lines "path label", paths relative to the list file.
package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/imagenet"
)

// Item is one image of a source.
type Item struct {
	ID    string
	Label int32
	Path  string // file path; empty for IDX images
	Index int    // position in an IDX file
	// ImageNet-C trees: the corruption and severity of the image's folders
	Corruption string
	Severity   int
	Variant    string // ImageNet-9 trees: original, mixed_same, mixed_rand, ...
	// ImageNet-P trees: the item is a video of the perturbation's folder
	// (difficulty 2 and 3: the noise folders "NAME_2", "NAME_3")
	Perturbation string
	Difficulty   int
	// cue-conflict trees: the texture's category (the label is the shape's)
	Texture int
}

// Source is a listed dataset.
type Source struct {
	Kind       string // "folders", "flat", "idx", "list"
	Root       string
	Items      []Item
	LabelSpace string   // "imagenet-1k", "folders", "idx", "list"
	Classes    []string // class names in label order, when known
	Notes      []string // things the user should know (printed on stderr)
	// Corrupted is set for ImageNet-C trees: the stream gets the columns
	// corruption and severity, as lk-corrupt writes them.
	Corrupted bool
	// Variants is set for ImageNet-9 trees: the stream gets a variant column.
	Variants bool
	// Sequences is set for ImageNet-P trees: items are videos, each frame
	// a row with the columns perturbation, seq, frame and difficulty, as
	// lk-corrupt --perturbations writes them.
	Sequences bool
	// CueConflict is set for cue-conflict trees (Geirhos et al.'s
	// stimuli): the stream gets a texture column.
	CueConflict bool
	idx         *idxImages
}

// in9Variants are the Backgrounds Challenge's test variants.
var in9Variants = map[string]bool{"original": true, "mixed_same": true, "mixed_rand": true, "mixed_next": true,
	"no_fg": true, "only_bg_b": true, "only_bg_t": true, "only_fg": true, "fg_mask": true}

// openIN9 lists an ImageNet-9 tree: ROOT/VARIANT/val/NN_class/*: labels are
// the 9 class folders' positions, each row tagged with its variant.
func openIN9(root string, variants []string) (*Source, error) {
	s := &Source{Kind: "imagenet-9", Root: root, LabelSpace: "imagenet-9", Variants: true}
	for _, v := range variants {
		sub, err := openDir(filepath.Join(root, v, "val"), "")
		if err != nil {
			return nil, fmt.Errorf("%s: an ImageNet-9 tree is VARIANT/val/NN_class/*: %v", root, err)
		}
		if len(sub.Classes) != 9 {
			return nil, fmt.Errorf("%s/%s/val: %d class folders, ImageNet-9 has 9", root, v, len(sub.Classes))
		}
		s.Classes = sub.Classes
		for _, it := range sub.Items {
			it.ID = v + "/" + it.ID
			it.Variant = v
			s.Items = append(s.Items, it)
		}
	}
	s.Notes = append(s.Notes, fmt.Sprintf("ImageNet-9 layout: %d images of variants %s, labels the class folders' order (%s)",
		len(s.Items), strings.Join(variants, ", "), strings.Join(s.Classes, " ")))
	return s, nil
}

// isCorruption tells an ImageNet-C or ImageNet-C-bar corruption's folder.
func isCorruption(name string) bool {
	_, bar := imagenet.CBarSeverities[name]
	return imagenet.IsCorruption(name) || bar
}

// severity reads a severity folder of corruption c: 1-5 for ImageNet-C,
// the parameter value ("2.35") for ImageNet-C-bar.
func severity(c, folder string) (int, error) {
	if sev, bar := imagenet.CBarSeverities[c]; bar {
		if n, ok := imagenet.CBarLevel(c, folder); ok {
			return n, nil
		}
		var want []string
		for _, v := range sev {
			want = append(want, fmt.Sprintf("%.2f", v))
		}
		return 0, fmt.Errorf("folder %q is not a severity of ImageNet-C-bar's %s (its five: %s)", folder, c, strings.Join(want, " "))
	}
	n, err := strconv.Atoi(folder)
	if err != nil || n < 1 || n > 5 {
		return 0, fmt.Errorf("folder %q is not a severity; an ImageNet-C tree is CORRUPTION/SEVERITY(1-5)/WNID/*.JPEG", folder)
	}
	return n, nil
}

// perturbationFolder reads an ImageNet-P folder name: a perturbation, for
// noise perturbations optionally with the difficulty, "gaussian_noise_2".
func perturbationFolder(name string) (pert string, difficulty int, ok bool) {
	if imagenet.IsPerturbation(name) {
		return name, 1, true
	}
	if i := len(name) - 2; i > 0 && name[i] == '_' && (name[i+1] == '2' || name[i+1] == '3') {
		p := name[:i]
		if imagenet.IsNoisePerturbation(p) {
			return p, int(name[i+1] - '0'), true
		}
	}
	return "", 0, false
}

// isCueConflict tells a cue-conflict tree: every folder one of the 16
// categories, and its images named SHAPEn-TEXTUREm.png.
func isCueConflict(root string, dirs []string) bool {
	for _, d := range dirs {
		if _, ok := imagenet.Category16(d); !ok {
			return false
		}
	}
	files, err := os.ReadDir(filepath.Join(root, dirs[0]))
	if err != nil {
		return false
	}
	for _, f := range files {
		if isImage(f.Name()) {
			_, err := cueTexture(f.Name())
			return err == nil
		}
	}
	return false
}

// cueTexture reads the texture's category from a cue-conflict file name
// as model-vs-human does: "XXX_dog10-bird2.png" is bird (after the last
// "_", before the extension, after the last "-", digits removed).
func cueTexture(name string) (int, error) {
	base := name[strings.LastIndex(name, "_")+1:]
	base = strings.TrimSuffix(base, filepath.Ext(base))
	dash := strings.LastIndex(base, "-")
	if dash < 0 {
		return 0, fmt.Errorf("file %q: want SHAPEn-TEXTUREm (e.g. airplane1-bicycle2.png)", name)
	}
	t := strings.TrimRight(base[dash+1:], "0123456789")
	c, ok := imagenet.Category16(t)
	if !ok {
		return 0, fmt.Errorf("file %q: texture %q is not one of the 16 categories (%s)", name, t, strings.Join(imagenet.Categories16, " "))
	}
	return c, nil
}

// openCueConflict lists a cue-conflict tree, ROOT/CATEGORY/SHAPEn-TEXTUREm.png
// (Geirhos et al. 2019; model-vs-human's cue-conflict set): labels are the
// shape's position among the 16 categories, the texture column the
// texture's.
func openCueConflict(root string, dirs []string) (*Source, error) {
	s := &Source{Kind: "cue-conflict", Root: root, LabelSpace: "categories-16", Classes: imagenet.Categories16, CueConflict: true}
	for _, d := range dirs {
		shape, _ := imagenet.Category16(d)
		files, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.IsDir() || !isImage(f.Name()) {
				continue
			}
			tex, err := cueTexture(f.Name())
			if err != nil {
				return nil, fmt.Errorf("%s: %v", filepath.Join(root, d), err)
			}
			s.Items = append(s.Items, Item{ID: d + "/" + f.Name(), Label: int32(shape), Path: filepath.Join(root, d, f.Name()), Texture: tex})
		}
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: a cue-conflict tree without images", root)
	}
	sort.Slice(s.Items, func(i, j int) bool { return s.Items[i].ID < s.Items[j].ID })
	s.Notes = append(s.Notes, fmt.Sprintf("cue-conflict layout: %d images; labels are the shape's category among the 16 (%s), column texture the texture's",
		len(s.Items), strings.Join(imagenet.Categories16, " ")))
	return s, nil
}

// openImageNetP lists an ImageNet-P tree: ROOT/PERTURBATION/WNID/*.mp4
// (or, given one perturbation's folder, ROOT/WNID/*.mp4); each item is a
// video whose frames become rows.
func openImageNetP(root string, folders []string, single string) (*Source, error) {
	s := &Source{Kind: "imagenet-p", Root: root, LabelSpace: "imagenet-1k", Sequences: true}
	for _, f := range folders {
		dir, name := filepath.Join(root, f), f
		if single != "" {
			dir, name = root, single
		}
		pert, diff, _ := perturbationFolder(name)
		classes, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, c := range classes {
			if !isDir(dir, c) || strings.HasPrefix(c.Name(), ".") {
				continue
			}
			label, ok := imagenet.Index(c.Name())
			if !ok {
				return nil, fmt.Errorf("%s: folder %q is not an ImageNet WordNet id; an ImageNet-P tree is PERTURBATION/WNID/*.mp4", dir, c.Name())
			}
			files, err := os.ReadDir(filepath.Join(dir, c.Name()))
			if err != nil {
				return nil, err
			}
			for _, v := range files {
				if v.IsDir() || !strings.EqualFold(filepath.Ext(v.Name()), ".mp4") {
					continue
				}
				s.Items = append(s.Items, Item{ID: name + "/" + c.Name() + "/" + v.Name(), Label: int32(label),
					Path: filepath.Join(dir, c.Name(), v.Name()), Perturbation: pert, Difficulty: diff})
			}
		}
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: an ImageNet-P tree without videos (expected PERTURBATION/WNID/*.mp4)", root)
	}
	sort.Slice(s.Items, func(i, j int) bool { return s.Items[i].ID < s.Items[j].ID })
	s.Notes = append(s.Notes, fmt.Sprintf("ImageNet-P layout: %d videos, one row per frame, with columns perturbation, seq, frame and difficulty", len(s.Items)))
	return s, nil
}

// openImageNetC lists an ImageNet-C tree: ROOT/CORRUPTION/SEVERITY/WNID/*.JPEG
// (or, given one corruption's folder, ROOT/SEVERITY/WNID/*.JPEG).
func openImageNetC(root string, corruptions []string, single string) (*Source, error) {
	s := &Source{Kind: "imagenet-c", Root: root, LabelSpace: "imagenet-1k", Corrupted: true}
	for _, c := range corruptions {
		cdir := filepath.Join(root, c)
		if single != "" {
			cdir = root
		}
		sevs, err := os.ReadDir(cdir)
		if err != nil {
			return nil, err
		}
		for _, sv := range sevs {
			if !isDir(cdir, sv) || strings.HasPrefix(sv.Name(), ".") {
				continue
			}
			name := c
			if single != "" {
				name = single
			}
			sev, err := severity(name, sv.Name())
			if err != nil {
				return nil, fmt.Errorf("%s: %v", cdir, err)
			}
			sub, err := openDir(filepath.Join(cdir, sv.Name()), "")
			if err != nil {
				return nil, err
			}
			if sub.LabelSpace != "imagenet-1k" {
				return nil, fmt.Errorf("%s/%s: class folders are not ImageNet WordNet ids; an ImageNet-C tree is CORRUPTION/SEVERITY/WNID/*.JPEG", cdir, sv.Name())
			}
			for _, it := range sub.Items {
				it.ID = name + "/" + sv.Name() + "/" + it.ID
				it.Corruption, it.Severity = name, sev
				s.Items = append(s.Items, it)
			}
		}
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: an ImageNet-C tree without images", root)
	}
	s.Notes = append(s.Notes, fmt.Sprintf("ImageNet-C layout: %d images with columns corruption and severity (ImageNet-C-bar's parameter folders as their levels 1-5)", len(s.Items)))
	return s, nil
}

// ImageExts are the file extensions listed as images (case-insensitive),
// as torchvision's ImageFolder lists them.
var ImageExts = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif"}

func isImage(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range ImageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// NeedLabelsError is a source that needs a labels file to be given.
type NeedLabelsError struct{ Path, Why string }

func (e *NeedLabelsError) Error() string { return e.Path + ": " + e.Why }

// Open lists the dataset at path. labels names a labels file for a flat
// folder or the labels IDX file (default: found next to the images).
func Open(path, labels string) (*Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openDir(path, labels)
	}
	if isIDX(path) {
		return openIDX(path, labels)
	}
	if isImage(path) { // one photo: a prediction, no label
		s := &Source{Kind: "list", Root: filepath.Dir(path), LabelSpace: "list",
			Items: []Item{{ID: filepath.Base(path), Label: -1, Path: path}}}
		s.Notes = append(s.Notes, unlabelledNote(1))
		return s, nil
	}
	return openList(path)
}

// unlabelledNote tells a user why their images get no accuracy.
func unlabelledNote(n int) string {
	return fmt.Sprintf("%d images without labels (label -1): lk-infer predicts them, lk-metrics cannot score them; a list file of \"path label\" lines, class folders or --labels give labels", n)
}

func openDir(root, labels string) (*Source, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	nfiles := 0
	for _, e := range entries {
		if isDir(root, e) && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, e.Name())
		} else if isImage(e.Name()) {
			nfiles++
		}
	}
	if labels != "" {
		return openFlat(root, labels)
	}
	if len(dirs) == 0 {
		if nfiles > 0 { // a folder of photos: predictions without labels
			s := &Source{Kind: "flat", Root: root, LabelSpace: "list"}
			for _, e := range entries {
				if !isDir(root, e) && isImage(e.Name()) {
					s.Items = append(s.Items, Item{ID: e.Name(), Label: -1, Path: filepath.Join(root, e.Name())})
				}
			}
			sort.Slice(s.Items, func(i, j int) bool { return s.Items[i].ID < s.Items[j].ID })
			s.Notes = append(s.Notes, unlabelledNote(len(s.Items))+" (a flat folder such as ILSVRC val: --labels FILE of \"filename label-or-wnid\" lines)")
			return s, nil
		}
		return nil, fmt.Errorf("%s: no class folders and no images (expected ROOT/CLASS/*.JPEG)", root)
	}
	sort.Strings(dirs)
	nc := 0
	for _, d := range dirs {
		if isCorruption(d) {
			nc++
		}
	}
	np := 0
	for _, d := range dirs {
		if _, _, ok := perturbationFolder(d); ok {
			np++
		}
	}
	if np > 0 && hasVideos(filepath.Join(root, dirs[0])) {
		if np != len(dirs) {
			return nil, fmt.Errorf("%s mixes perturbation folders (ImageNet-P) with others; expected only PERTURBATION/WNID/*.mp4", root)
		}
		return openImageNetP(root, dirs, "")
	}
	if p := filepath.Base(filepath.Clean(root)); hasVideos(root) {
		if _, _, ok := perturbationFolder(p); !ok {
			return nil, fmt.Errorf("%s holds videos but is not named by an ImageNet-P perturbation (%s, noise ones also NAME_2, NAME_3); an ImageNet-P tree is PERTURBATION/WNID/*.mp4",
				root, strings.Join(imagenet.Perturbations, ", "))
		}
		return openImageNetP(root, []string{""}, p)
	}
	if nc > 0 {
		if nc != len(dirs) {
			return nil, fmt.Errorf("%s mixes corruption folders (ImageNet-C) with others; expected only CORRUPTION/SEVERITY/WNID/*.JPEG", root)
		}
		return openImageNetC(root, dirs, "")
	}
	nv := 0
	for _, d := range dirs {
		if in9Variants[d] {
			nv++
		}
	}
	if nv > 0 && nv == len(dirs) {
		return openIN9(root, dirs)
	}
	if isCueConflict(root, dirs) {
		return openCueConflict(root, dirs)
	}
	if c := filepath.Base(filepath.Clean(root)); isCorruption(c) && allSeverities(c, dirs) {
		return openImageNetC(root, []string{""}, filepath.Base(filepath.Clean(root)))
	}
	s := &Source{Kind: "folders", Root: root, Classes: dirs}
	numbers, numeric := folderNumbers(dirs)
	allWNID := !numeric
	for _, d := range dirs {
		if _, ok := imagenet.Index(d); !ok {
			allWNID = false
			break
		}
	}
	switch {
	case numeric:
		// ImageNet-V2's layout: folders 0..999 are class indices, and
		// their sorted positions ("10" before "2") would be wrong labels
		s.LabelSpace = "indices"
		s.Classes = nil // the names are the labels; sorted, they are not in label order
		s.Notes = append(s.Notes, fmt.Sprintf("%d class folders named by numbers: labels are the numbers, not the folders' sorted positions (ImageNet-V2's layout)", len(dirs)))
	case allWNID:
		s.LabelSpace = "imagenet-1k"
		if len(dirs) != len(imagenet.WNIDs) {
			s.Notes = append(s.Notes, fmt.Sprintf("%d class folders named by ImageNet WordNet ids: labels are their ImageNet-1k indices", len(dirs)))
		}
	default:
		s.LabelSpace = "folders"
		s.Notes = append(s.Notes, fmt.Sprintf("folder names are not all ImageNet WordNet ids (e.g. %q): labels are the sorted folder positions 0..%d", firstNonWNID(dirs), len(dirs)-1))
	}
	for ci, d := range dirs {
		label := int32(ci)
		if allWNID {
			i, _ := imagenet.Index(d)
			label = int32(i)
		}
		if numeric {
			label = numbers[ci]
		}
		files, err := walkImages(filepath.Join(root, d))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			s.Items = append(s.Items, Item{ID: filepath.ToSlash(rel), Label: label, Path: f})
		}
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: %d class folders but no images with extensions %s", root, len(dirs), strings.Join(ImageExts, " "))
	}
	return s, nil
}

// isDir reports whether the entry e of folder dir is a folder, following
// a symbolic link (a class folder linked in from elsewhere is a class).
func isDir(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink == 0 {
		return e.IsDir()
	}
	st, err := os.Stat(filepath.Join(dir, e.Name()))
	return err == nil && st.IsDir()
}

// folderNumbers reads class folder names that are all whole numbers
// (ImageNet-V2: 0..999) as class indices.
func folderNumbers(dirs []string) ([]int32, bool) {
	out := make([]int32, len(dirs))
	for i, d := range dirs {
		v, err := strconv.ParseInt(d, 10, 32)
		if err != nil || v < 0 || strconv.FormatInt(v, 10) != d {
			return nil, false
		}
		out[i] = int32(v)
	}
	return out, len(dirs) > 0
}

// walkImages lists the image files under dir, sorted, following symbolic
// links to files and folders; a link back to a folder being walked is a
// loop and an error.
func walkImages(dir string) ([]string, error) {
	var files []string
	var walk func(p string, open map[string]bool) error
	walk = func(p string, open map[string]bool) error {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if open[real] {
			return fmt.Errorf("%s: symbolic link loop (it leads back to %s)", p, real)
		}
		open[real] = true
		defer delete(open, real)
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			q := filepath.Join(p, e.Name())
			if isDir(p, e) {
				if strings.HasPrefix(e.Name(), ".") {
					continue
				}
				if err := walk(q, open); err != nil {
					return err
				}
			} else if isImage(e.Name()) {
				if e.Type()&fs.ModeSymlink != 0 {
					if _, err := os.Stat(q); err != nil {
						return fmt.Errorf("%s: %v (a broken symbolic link)", q, err)
					}
				}
				files = append(files, q)
			}
		}
		return nil
	}
	if err := walk(dir, map[string]bool{}); err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// hasVideos reports whether dir's first class folder holds mp4 files.
func hasVideos(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !isDir(dir, e) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, e.Name()))
		for _, f := range files {
			if strings.EqualFold(filepath.Ext(f.Name()), ".mp4") {
				return true
			}
		}
		return false
	}
	return false
}

func allSeverities(corruption string, dirs []string) bool {
	for _, d := range dirs {
		if _, err := severity(corruption, d); err != nil {
			return false
		}
	}
	return len(dirs) > 0
}

func firstNonWNID(dirs []string) string {
	for _, d := range dirs {
		if _, ok := imagenet.Index(d); !ok {
			return d
		}
	}
	return ""
}

// parseLabel reads a label token: an integer or an ImageNet WordNet id.
func parseLabel(tok string) (int32, bool, error) {
	if imagenet.IsWNID(tok) {
		i, ok := imagenet.Index(tok)
		if !ok {
			return 0, true, fmt.Errorf("%q is not one of the 1000 ImageNet-1k WordNet ids", tok)
		}
		return int32(i), true, nil
	}
	v, err := strconv.ParseInt(tok, 10, 32)
	if err != nil || v < -1 {
		return 0, false, fmt.Errorf("label %q: want a class index (-1 for unknown) or an ImageNet WordNet id", tok)
	}
	return int32(v), false, nil
}

// readPairs reads "name label" lines (space, tab or comma separated; blank
// lines and # comments skipped).
func readPairs(path string, fn func(line int, name, label string) error) error {
	return readLines(path, false, fn)
}

// readLines is readPairs that, with bare, also takes "name" lines alone
// (label "").
func readLines(path string, bare bool, fn func(line int, name, label string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if bare && len(fields) == 1 {
			fields = append(fields, "")
		}
		if len(fields) < 2 {
			return fmt.Errorf("%s:%d: want \"path label\", got %q", path, n, line)
		}
		if err := fn(n, fields[0], fields[1]); err != nil {
			return fmt.Errorf("%s:%d: %v", path, n, err)
		}
	}
	return sc.Err()
}

func openFlat(root, labels string) (*Source, error) {
	s := &Source{Kind: "flat", Root: root, LabelSpace: "list"}
	wnids := 0
	lineOf := map[string]int{}
	err := readPairs(labels, func(line int, name, tok string) error {
		if n := strings.ToLower(name); n == "imageid" || n == "filename" {
			return nil // a CSV header
		}
		l, isW, err := parseLabel(tok)
		if err != nil {
			return err
		}
		if isW {
			wnids++
		}
		p := filepath.Join(root, name)
		if !isImage(p) {
			if _, err := os.Stat(p + ".JPEG"); err == nil { // LOC_val_solution.csv names ids without extension
				p += ".JPEG"
				name += ".JPEG"
			}
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("image %s: %v", name, err)
		}
		id := filepath.ToSlash(filepath.Clean(name))
		if first, dup := lineOf[id]; dup {
			return fmt.Errorf("image %s has a second labels line (the first is line %d); each image needs exactly one", name, first)
		}
		lineOf[id] = line
		s.Items = append(s.Items, Item{ID: id, Label: l, Path: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// every image of the folder needs a line: one left out would vanish
	// from the evaluation without a word
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, e := range entries {
		if !isDir(root, e) && isImage(e.Name()) {
			if _, ok := lineOf[e.Name()]; !ok {
				missing = append(missing, e.Name())
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %d images of %s have no line, e.g. %s; each image needs exactly one \"filename label\" line",
			labels, len(missing), root, missing[0])
	}
	if err := labelSpace(s, wnids, labels); err != nil {
		return nil, err
	}
	sort.Slice(s.Items, func(i, j int) bool { return s.Items[i].ID < s.Items[j].ID })
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: no labelled images", labels)
	}
	return s, nil
}

// labelSpace sets the label space of a labels or list file: any WordNet
// id makes it ImageNet-1k, whose numeric labels must then be 0..999.
func labelSpace(s *Source, wnids int, file string) error {
	if wnids == 0 {
		return nil
	}
	s.LabelSpace = "imagenet-1k"
	return CheckLabels(s.Items, len(imagenet.WNIDs), file)
}

// CheckLabels refuses an item whose label is not -1 (unknown) or one of
// the classes 0..classes-1.
func CheckLabels(items []Item, classes int, where string) error {
	for _, it := range items {
		if it.Label < -1 || int(it.Label) >= classes {
			return fmt.Errorf("%s: image %s has label %d, outside the label space's classes 0..%d", where, it.ID, it.Label, classes-1)
		}
	}
	return nil
}

func openList(path string) (*Source, error) {
	s := &Source{Kind: "list", Root: filepath.Dir(path), LabelSpace: "list"}
	wnids, bare := 0, 0
	err := readLines(path, true, func(line int, name, tok string) error {
		if tok == "" { // a plain list of paths
			tok = "-1"
			bare++
		}
		l, isW, err := parseLabel(tok)
		if err != nil {
			return err
		}
		if isW {
			wnids++
		}
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(s.Root, name)
		}
		s.Items = append(s.Items, Item{ID: filepath.ToSlash(name), Label: l, Path: p})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%s: no \"path label\" lines (is it a list file?)", path)
	}
	if bare > 0 {
		s.Notes = append(s.Notes, unlabelledNote(bare))
	}
	if err := labelSpace(s, wnids, path); err != nil {
		return nil, err
	}
	return s, nil
}

// Load decodes item it to 8-bit pixels.
func (s *Source) Load(it Item, maxPixels int) (*imageio.Image, error) {
	if s.idx != nil {
		return s.idx.image(it.Index), nil
	}
	return imageio.ReadFile(it.Path, maxPixels)
}

// Name is how errors name an item: its file, or the IDX file and index.
func (s *Source) Name(it Item) string {
	if it.Path != "" {
		return it.Path
	}
	return fmt.Sprintf("%s image %d", s.Root, it.Index)
}

// Order selects and orders items: shuffle (when seed >= 0, by a hash of
// seed and id), then the first limit (when > 0), then shard k of n (by a
// hash of the id). The union of all shards is the unsharded selection.
func Order(items []Item, shuffle bool, seed int64, limit, k, n int) []Item {
	out := append([]Item{}, items...)
	if shuffle {
		keys := make(map[string]uint64, len(out))
		for _, it := range out {
			keys[it.ID] = hash(fmt.Sprintf("%d\x00%s", seed, it.ID))
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := keys[out[i].ID], keys[out[j].ID]
			if a != b {
				return a < b
			}
			return out[i].ID < out[j].ID
		})
	}
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	if n > 1 {
		var sh []Item
		for _, it := range out {
			if int(hash(it.ID)%uint64(n)) == k {
				sh = append(sh, it)
			}
		}
		out = sh
	}
	return out
}

func hash(s string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, s)
	return h.Sum64()
}

// ---- IDX

type idxImages struct {
	n, h, w int
	pix     []uint8
}

func (x *idxImages) image(i int) *imageio.Image {
	sz := x.h * x.w
	return &imageio.Image{W: x.w, H: x.h, C: 1, Pix: x.pix[i*sz : (i+1)*sz]}
}

func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		// a few kilobytes of gzip can claim gigabytes: read at most the bound
		if b, err = io.ReadAll(io.LimitReader(zr, maxIDXBytes+1)); err != nil {
			return nil, fmt.Errorf("%s: corrupt gzip: %v", path, err)
		}
		if len(b) > maxIDXBytes {
			return nil, fmt.Errorf("%s: over %d bytes once decompressed: too large for an IDX file (a gzip bomb?)", path, maxIDXBytes)
		}
	}
	return b, nil
}

// maxIDXBytes bounds an IDX file, decompressed: MNIST-style sets are tens
// of megabytes.
const maxIDXBytes = 4 << 30

func isIDX(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [4]byte
	r := io.Reader(f)
	if zr, err := gzip.NewReader(f); err == nil {
		r = zr
	} else {
		f.Seek(0, io.SeekStart)
	}
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return false
	}
	return head[0] == 0 && head[1] == 0 && head[2] == 0x08 && (head[3] == 1 || head[3] == 3)
}

// readIDX parses an unsigned-byte IDX array.
func readIDX(path string) (dims []int, data []uint8, err error) {
	b, err := readMaybeGzip(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: not an unsigned-byte IDX file", path)
	}
	nd := int(b[3])
	if len(b) < 4+4*nd {
		return nil, nil, fmt.Errorf("%s: truncated IDX header", path)
	}
	total := 1
	for i := 0; i < nd; i++ {
		d := int(binary.BigEndian.Uint32(b[4+4*i:]))
		dims = append(dims, d)
		if d > 0 && total > len(b)/d { // more than the file can hold, and no overflow
			return nil, nil, fmt.Errorf("%s: header says %v, more than its %d bytes", path, dims, len(b))
		}
		total *= d
	}
	data = b[4+4*nd:]
	if len(data) != total {
		return nil, nil, fmt.Errorf("%s: header says %v (%d bytes) but the file has %d data bytes", path, dims, total, len(data))
	}
	return dims, data, nil
}

func openIDX(path, labels string) (*Source, error) {
	dims, pix, err := readIDX(path)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 {
		return nil, fmt.Errorf("%s: an IDX file of %d dimensions; lk-data reads image files (N x H x W)", path, len(dims))
	}
	if labels == "" {
		base := filepath.Base(path)
		guess := strings.Replace(base, "images-idx3", "labels-idx1", 1)
		if guess == base {
			return nil, &NeedLabelsError{Path: path, Why: "the labels IDX file is not beside it under the usual name"}
		}
		labels = filepath.Join(filepath.Dir(path), guess)
	}
	ld, lab, err := readIDX(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %v", err)
	}
	if len(ld) != 1 || ld[0] != dims[0] {
		return nil, fmt.Errorf("%s has %v labels for %d images in %s", labels, ld, dims[0], path)
	}
	stem := strings.SplitN(filepath.Base(path), "-", 2)[0]
	s := &Source{Kind: "idx", Root: path, LabelSpace: "idx", idx: &idxImages{n: dims[0], h: dims[1], w: dims[2], pix: pix}}
	width := len(strconv.Itoa(dims[0] - 1))
	for i := 0; i < dims[0]; i++ {
		s.Items = append(s.Items, Item{ID: fmt.Sprintf("%s/%0*d", stem, width, i), Label: int32(lab[i]), Index: i})
	}
	return s, nil
}

// LabelSet reads a set of labels: numbers and ranges ("0-7", "1,3,5-9"),
// or the name of a 200-class subset (imagenet-a, imagenet-r, imagenet-o:
// e.g. the val images of ImageNet-O's classes, its in-distribution set).
func LabelSet(v string) (map[int32]bool, error) {
	if sub, ok := imagenet.Subsets[v]; ok {
		set := map[int32]bool{}
		for _, i := range sub.Indices {
			set[int32(i)] = true
		}
		return set, nil
	}
	set, err := cli.IntSet(v)
	if err != nil {
		return nil, fmt.Errorf("%v, or a subset: imagenet-a, imagenet-r, imagenet-o", err)
	}
	return set, nil
}

// KeepLabels returns the items whose label is in set.
func KeepLabels(items []Item, set map[int32]bool) []Item {
	var out []Item
	for _, it := range items {
		if set[it.Label] {
			out = append(out, it)
		}
	}
	return out
}
