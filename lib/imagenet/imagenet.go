// Package imagenet holds the ImageNet-1k class list and the class subsets
// of the robustness sets, so that every tool maps labels the same way.
//
// The 1000 WordNet ids are in the standard index order (sorted, as
// torchvision's ImageFolder orders the training folders). ImageNet-A, -R and
// -O each use a different subset of 200 classes; the index lists are those of
// the datasets' own evaluation code (hendrycks/natural-adv-examples eval.py,
// hendrycks/imagenet-r eval.py, eval_many_models.py).
package imagenet

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed wnids.txt
var wnidsTxt string

// WNIDs are the 1000 ImageNet-1k WordNet ids in index order.
var WNIDs = strings.Fields(wnidsTxt)

var wnidIndex = func() map[string]int {
	m := make(map[string]int, len(WNIDs))
	for i, w := range WNIDs {
		m[w] = i
	}
	return m
}()

// Names are the 1000 ImageNet-1k class names in index order, one short
// English name per class (the names torchvision's weights metadata gives,
// made unique where two WordNet synsets share a lemma: "crane bird" and
// "crane"), for people reading predictions.
var Names = strings.Split(strings.TrimSuffix(namesTxt, "\n"), "\n")

//go:embed names.txt
var namesTxt string

// Index returns the ImageNet-1k index of a WordNet id.
func Index(wnid string) (int, bool) {
	i, ok := wnidIndex[wnid]
	return i, ok
}

// IsWNID reports whether s looks like a WordNet id (n followed by 8 digits).
func IsWNID(s string) bool {
	if len(s) != 9 || s[0] != 'n' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Subset is a set of ImageNet-1k classes evaluated on their own: logits are
// restricted to Indices (increasing) before the argmax or softmax.
type Subset struct {
	Name    string
	Indices []int
	pos     map[int]int
}

// Position returns the position of 1k index i within the subset.
func (s *Subset) Position(i int) (int, bool) {
	p, ok := s.pos[i]
	return p, ok
}

func newSubset(name string, idx []int) *Subset {
	if !sort.IntsAreSorted(idx) {
		panic("imagenet: subset " + name + " is not sorted")
	}
	s := &Subset{Name: name, Indices: idx, pos: map[int]int{}}
	for p, i := range idx {
		s.pos[i] = p
	}
	return s
}

// Subsets by name.
var Subsets = map[string]*Subset{
	"imagenet-a": newSubset("imagenet-a", imagenetA),
	"imagenet-r": newSubset("imagenet-r", imagenetR),
	"imagenet-o": newSubset("imagenet-o", imagenetO),
}

// LookupSubset returns the named subset or an error listing the known ones.
func LookupSubset(name string) (*Subset, error) {
	if s, ok := Subsets[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown class subset %q (known: imagenet-a, imagenet-r, imagenet-o)", name)
}

// ImageNet-A: the 200 classes of natural adversarial examples.
var imagenetA = []int{
	6, 11, 13, 15, 17, 22, 23, 27, 30, 37, 39, 42, 47, 50, 57, 70, 71, 76, 79, 89,
	90, 94, 96, 97, 99, 105, 107, 108, 110, 113, 124, 125, 130, 132, 143, 144, 150, 151, 207, 234,
	235, 254, 277, 283, 287, 291, 295, 298, 301, 306, 307, 308, 309, 310, 311, 313, 314, 315, 317, 319,
	323, 324, 326, 327, 330, 334, 335, 336, 347, 361, 363, 372, 378, 386, 397, 400, 401, 402, 404, 407,
	411, 416, 417, 420, 425, 428, 430, 437, 438, 445, 456, 457, 461, 462, 470, 472, 483, 486, 488, 492,
	496, 514, 516, 528, 530, 539, 542, 543, 549, 552, 557, 561, 562, 569, 572, 573, 575, 579, 589, 606,
	607, 609, 614, 626, 627, 640, 641, 642, 643, 658, 668, 677, 682, 684, 687, 701, 704, 719, 736, 746,
	749, 752, 758, 763, 765, 768, 773, 774, 776, 779, 780, 786, 792, 797, 802, 803, 804, 813, 815, 820,
	823, 831, 833, 835, 839, 845, 847, 850, 859, 862, 870, 879, 880, 888, 890, 897, 900, 907, 913, 924,
	932, 933, 934, 937, 943, 945, 947, 951, 954, 956, 957, 959, 971, 972, 980, 981, 984, 986, 987, 988,
}

// ImageNet-O: the 200 classes whose val images form the in-distribution side
// of the out-of-distribution test.
var imagenetO = []int{
	1, 51, 70, 79, 89, 90, 107, 109, 117, 149, 327, 328, 341, 363, 392, 397, 398, 401, 411, 416,
	418, 419, 420, 424, 434, 439, 447, 451, 455, 459, 462, 464, 465, 470, 475, 489, 491, 494, 496, 498,
	507, 512, 517, 522, 525, 530, 533, 537, 539, 540, 545, 549, 550, 551, 552, 554, 556, 558, 559, 562,
	563, 567, 574, 580, 583, 588, 589, 593, 599, 604, 606, 607, 611, 613, 621, 624, 626, 629, 633, 635,
	640, 641, 642, 643, 644, 645, 646, 648, 666, 669, 674, 677, 678, 679, 680, 684, 686, 687, 688, 691,
	694, 699, 703, 710, 712, 714, 716, 720, 722, 723, 729, 731, 736, 738, 740, 741, 743, 747, 749, 753,
	758, 761, 767, 769, 771, 772, 773, 778, 783, 784, 789, 791, 793, 794, 795, 797, 800, 802, 804, 807,
	811, 813, 815, 827, 828, 830, 833, 842, 843, 844, 845, 852, 853, 854, 855, 857, 858, 859, 870, 877,
	879, 886, 891, 897, 898, 900, 902, 906, 910, 911, 918, 920, 929, 931, 932, 934, 935, 937, 938, 939,
	941, 943, 945, 948, 949, 950, 951, 953, 954, 955, 957, 960, 962, 963, 965, 971, 980, 987, 988, 996,
}

// ImageNet-R: the 200 classes of renditions.
var imagenetR = []int{
	1, 2, 4, 6, 8, 9, 11, 13, 22, 23, 26, 29, 31, 39, 47, 63, 71, 76, 79, 84,
	90, 94, 96, 97, 99, 100, 105, 107, 113, 122, 125, 130, 132, 144, 145, 147, 148, 150, 151, 155,
	160, 161, 162, 163, 171, 172, 178, 187, 195, 199, 203, 207, 208, 219, 231, 232, 234, 235, 242, 245,
	247, 250, 251, 254, 259, 260, 263, 265, 267, 269, 276, 277, 281, 288, 289, 291, 292, 293, 296, 299,
	301, 308, 309, 310, 311, 314, 315, 319, 323, 327, 330, 334, 335, 337, 338, 340, 341, 344, 347, 353,
	355, 361, 362, 365, 366, 367, 368, 372, 388, 390, 393, 397, 401, 407, 413, 414, 425, 428, 430, 435,
	437, 441, 447, 448, 457, 462, 463, 469, 470, 471, 472, 476, 483, 487, 515, 546, 555, 558, 570, 579,
	583, 587, 593, 594, 596, 609, 613, 617, 621, 629, 637, 657, 658, 701, 717, 724, 763, 768, 774, 776,
	779, 780, 787, 805, 812, 815, 820, 824, 833, 847, 852, 866, 875, 883, 889, 895, 907, 928, 931, 932,
	933, 934, 936, 937, 943, 945, 947, 948, 949, 951, 953, 954, 957, 963, 965, 967, 980, 981, 983, 988,
}
