package imagenet

import (
	"slices"
	"strings"
	"testing"
)

// The 16 categories' ImageNet classes are those whose WordNet ids
// model-vs-human lists for the category (human_categories.py), for the
// categories with short lists; the bird and dog classes lie in their
// blocks of ImageNet's order; no class is in two categories.
func TestCategory16Indices(t *testing.T) {
	wnids := map[string][]string{
		"airplane": {"n02690373", "n03955296", "n13861050", "n13941806"},
		"bear":     {"n02132136", "n02133161", "n02134084", "n02134418"},
		"bicycle":  {"n02835271", "n03792782"},
		"boat":     {"n02951358", "n03344393", "n03662601", "n04273569", "n04612373", "n04612504"},
		"bottle":   {"n02823428", "n03937543", "n03983396", "n04557648", "n04560804", "n04579145", "n04591713"},
		"car":      {"n02814533", "n03100240", "n03100346", "n13419325", "n04285008"},
		"cat":      {"n02122878", "n02123045", "n02123159", "n02126465", "n02123394", "n02123597", "n02124075", "n02125311"},
		"chair":    {"n02791124", "n03376595", "n04099969", "n00605023", "n04429376"},
		"clock":    {"n02708093", "n03196217", "n04548280"},
		"elephant": {"n02504013", "n02504458"},
		"keyboard": {"n03085013", "n04505470"},
		"knife":    {"n03041632"},
		"oven":     {"n03259401", "n04111414", "n04111531"},
		"truck": {"n03345487", "n03417042", "n03770679", "n03796401", "n00319176", "n01016201", "n03930630",
			"n03930777", "n05061003", "n06547832", "n10432053", "n03977966", "n04461696", "n04467665"},
	}
	if !slices.IsSorted(Categories16) || len(Categories16) != 16 || len(Category16Indices) != 16 {
		t.Fatalf("categories %v", Categories16)
	}
	seen := map[int]string{}
	for c, name := range Categories16 {
		for _, i := range Category16Indices[c] {
			if other, ok := seen[i]; ok {
				t.Errorf("class %d in %s and %s", i, other, name)
			}
			seen[i] = name
			if w, ok := wnids[name]; ok && !slices.Contains(w, WNIDs[i]) {
				t.Errorf("%s: class %d is %s, not one of its WordNet ids", name, i, WNIDs[i])
			}
		}
	}
	if n := len(Category16Indices[3]); n != 49 || Category16Indices[3][0] != 8 || Category16Indices[3][n-1] != 145 {
		t.Errorf("bird: %d classes from %d", n, Category16Indices[3][0])
	}
	if n := len(Category16Indices[10]); n != 109 || Category16Indices[10][0] != 152 || Category16Indices[10][n-1] != 268 {
		t.Errorf("dog: %d classes", n)
	}
}

// The class names line up with the WordNet ids: one per class, unique,
// and at the indices whose synsets they name.
func TestNames(t *testing.T) {
	if len(Names) != 1000 {
		t.Fatalf("%d names", len(Names))
	}
	seen := map[string]bool{}
	for i, n := range Names {
		if n == "" || seen[n] || strings.ContainsAny(n, ",\n") {
			t.Errorf("name %d %q: empty, repeated or with a comma", i, n)
		}
		seen[n] = true
	}
	for wnid, want := range map[string]string{"n01440764": "tench", "n02123045": "tabby", "n07753592": "banana",
		"n02012849": "crane bird", "n03126707": "crane", "n15075141": "toilet tissue", "n04592741": "wing"} {
		i, ok := Index(wnid)
		if !ok || Names[i] != want {
			t.Errorf("%s: index %d name %q, want %q", wnid, i, Names[i], want)
		}
	}
}
