package imagenet

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ClassGroups are disjoint sets of ImageNet-1k classes, each the classes
// of one class of another dataset (ObjectNet's 113 overlapping classes
// map to one or more ImageNet classes each). A row's label is the
// smallest class of its group; a prediction is right when it falls in
// the label's group.
type ClassGroups struct {
	Groups [][]int     // sorted, each sorted
	of     map[int]int // class -> group
}

// NewClassGroups checks that the groups are disjoint ImageNet-1k classes.
func NewClassGroups(groups [][]int) (*ClassGroups, error) {
	g := &ClassGroups{of: map[int]int{}}
	for _, grp := range groups {
		grp = slices.Clone(grp)
		slices.Sort(grp)
		g.Groups = append(g.Groups, grp)
	}
	slices.SortFunc(g.Groups, func(a, b []int) int { return a[0] - b[0] })
	for k, grp := range g.Groups {
		if len(grp) == 0 {
			return nil, fmt.Errorf("an empty class group")
		}
		for _, c := range grp {
			if c < 0 || c >= len(WNIDs) {
				return nil, fmt.Errorf("class %d is not an ImageNet-1k index (0-999)", c)
			}
			if o, dup := g.of[c]; dup && o == k {
				return nil, fmt.Errorf("ImageNet class %d (%s) is listed twice in the group %v", c, WNIDs[c], grp)
			} else if dup {
				return nil, fmt.Errorf("ImageNet class %d (%s) is in two groups (%v and %v): a prediction must tell one class", c, WNIDs[c], g.Groups[o], grp)
			}
			g.of[c] = k
		}
	}
	return g, nil
}

// Group is the group of class c; ok is false for a class in none.
func (g *ClassGroups) Group(c int) (int, bool) {
	k, ok := g.of[c]
	return k, ok
}

// Classes lists every grouped class, sorted.
func (g *ClassGroups) Classes() []int {
	var out []int
	for _, grp := range g.Groups {
		out = append(out, grp...)
	}
	slices.Sort(out)
	return out
}

// String writes the groups as ParseClassGroups reads them: classes
// comma-separated, groups semicolon-separated.
func (g *ClassGroups) String() string {
	parts := make([]string, len(g.Groups))
	for k, grp := range g.Groups {
		s := make([]string, len(grp))
		for i, c := range grp {
			s[i] = strconv.Itoa(c)
		}
		parts[k] = strings.Join(s, ",")
	}
	return strings.Join(parts, ";")
}

// ParseClassGroups reads String's form.
func ParseClassGroups(s string) (*ClassGroups, error) {
	var groups [][]int
	for _, part := range strings.Split(s, ";") {
		var grp []int
		for _, f := range strings.Split(part, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return nil, fmt.Errorf("class group %q: %q is not a class index", part, f)
			}
			grp = append(grp, c)
		}
		groups = append(groups, grp)
	}
	return NewClassGroups(groups)
}
