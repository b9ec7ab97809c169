package dataset

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/imagenet"
)

// ClassMap maps a class-folder tree's folder names to the ImageNet-1k
// classes each stands for (one or more: ObjectNet's "chair" is four
// ImageNet chairs), for datasets whose classes overlap ImageNet's.
type ClassMap map[string][]int

// ReadClassMap reads lines "FOLDER CLASS[,CLASS...]", classes as
// ImageNet-1k indices or WordNet ids; blank lines and lines starting
// with # are skipped. Errors name the file and line.
func ReadClassMap(path string) (ClassMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := ClassMap{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: %q: want FOLDER CLASS[,CLASS...] (ImageNet-1k indices or WordNet ids, comma-separated)", path, line, text)
		}
		if _, dup := m[fields[0]]; dup {
			return nil, fmt.Errorf("%s:%d: folder %q is mapped twice", path, line, fields[0])
		}
		for _, c := range strings.Split(fields[1], ",") {
			i, ok := imagenet.Index(c)
			if !ok {
				n, err := strconv.Atoi(c)
				if err != nil || n < 0 || n >= len(imagenet.WNIDs) {
					return nil, fmt.Errorf("%s:%d: class %q is neither an ImageNet-1k index (0-999) nor an ImageNet WordNet id", path, line, c)
				}
				i = n
			}
			m[fields[0]] = append(m[fields[0]], i)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no mappings", path)
	}
	return m, nil
}

// MapClasses relabels a class-folder tree through m: each image gets the
// smallest ImageNet class of its folder, and the groups are returned for
// the stream's metadata (lk-metrics scores a prediction right when it
// falls in the label's group). A folder m does not map is an error
// listing them, unless skipUnmapped, which drops their images (ObjectNet
// is scored on its classes that overlap ImageNet's).
func (s *Source) MapClasses(m ClassMap, skipUnmapped bool) (*imagenet.ClassGroups, error) {
	if s.Kind != "folders" {
		return nil, fmt.Errorf("%s: a class map relabels a class-folder tree, not a %s source", s.Root, s.Kind)
	}
	var groups [][]int
	for _, g := range m {
		groups = append(groups, g)
	}
	cg, err := imagenet.NewClassGroups(groups)
	if err != nil {
		return nil, err
	}
	var kept []Item
	unmapped := map[string]int{}
	skipped := -1 // the note on left-out folders, if any
	for _, it := range s.Items {
		folder, _, _ := strings.Cut(it.ID, "/")
		g, ok := m[folder]
		if !ok {
			unmapped[folder]++
			continue
		}
		it.Label = int32(slices.Min(g))
		kept = append(kept, it)
	}
	if len(unmapped) > 0 {
		var names []string
		n := 0
		for f, k := range unmapped {
			names = append(names, f)
			n += k
		}
		sort.Strings(names)
		if !skipUnmapped {
			return nil, fmt.Errorf("%s: %d folders are not in the class map: %s (--skip-unmapped leaves their images out)", s.Root, len(names), strings.Join(names, " "))
		}
		s.Notes = append(s.Notes, fmt.Sprintf("class map: %d images of %d unmapped folders left out", n, len(names)))
		skipped = len(s.Notes) - 1
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no image is in a mapped folder", s.Root)
	}
	// the folder tree's note on how folders became labels no longer holds
	var notes []string
	if skipped >= 0 {
		notes = []string{s.Notes[skipped]}
	}
	s.Items, s.LabelSpace, s.Classes, s.Notes = kept, "imagenet-1k", nil, notes
	s.Notes = append(s.Notes, fmt.Sprintf("class map: %d images of %d folders, labelled by the smallest ImageNet class of their folder's group; lk-metrics scores a prediction in the group as right", len(kept), len(m)))
	return cg, nil
}
