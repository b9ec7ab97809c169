package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/lk-robustness/lk/lib/stream"
)

// Compare asks for a paired comparison of two values of one column (two
// models, a model and its lesioned copy, two attacks) on the rows they
// share: every other key column (the image id and its conditions) pairs a
// row of A with one of B.
type Compare struct {
	Col  string
	A, B string
}

// pairs records, per comparison group (the grouping without Col), each
// pairing key's top-1 outcome on side A and on side B.
type pairs struct {
	col      int  // Col's position in the grouping
	keysOnly bool // rows are recorded by addRecord (no outcomes)
	a, b     string
	outcome  map[string]map[string]*[2]int8 // group' -> pairing key -> A, B (-1: no row)
	example  map[string]map[string]string   // group' -> pairing key -> how a message names it
}

func newPairs(col int, a, b string) *pairs {
	return &pairs{col: col, a: a, b: b, outcome: map[string]map[string]*[2]int8{}, example: map[string]map[string]string{}}
}

// add records one scored row of group key gk: side (0 for A, 1 for B,
// -1 for neither), its pairing key and how to name it, and its top-1.
func (p *pairs) add(gk []string, pair, name string, right bool) {
	var side int
	switch gk[p.col] {
	case p.a:
		side = 0
	case p.b:
		side = 1
	default:
		return
	}
	g := strings.Join(slices.Delete(slices.Clone(gk), p.col, p.col+1), "\x00")
	m := p.outcome[g]
	if m == nil {
		m, p.example[g] = map[string]*[2]int8{}, map[string]string{}
		p.outcome[g] = m
	}
	o := m[pair]
	if o == nil {
		o = &[2]int8{-1, -1}
		m[pair] = o
		p.example[g][pair] = name
	}
	o[side] = 0
	if right {
		o[side] = 1
	}
}

// addRecord records every row of rec by its group (by) and pairing key:
// for measures whose rows are not one outcome each, only that the side
// has the row matters.
func (p *pairs) addRecord(rec arrow.Record, name string, by []string) error {
	cols, err := byColumns(rec, by, name)
	if err != nil {
		return err
	}
	keyer, err := stream.NewKeyer(rec.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	key := make([]string, len(by))
	for i := 0; i < int(rec.NumRows()); i++ {
		groupKey(key, cols, i)
		var pair []string
		for j, v := range keyer.Values(rec, i) {
			if keyer.Names[j] != by[p.col] {
				pair = append(pair, v)
			}
		}
		p.add(key, strings.Join(pair, "\x00"), keyer.Describe(rec, i), false)
	}
	return nil
}

// check refuses a pairing key scored on one side only: the comparison
// would not be paired.
func (p *pairs) check() error {
	gs := make([]string, 0, len(p.outcome))
	for g := range p.outcome {
		gs = append(gs, g)
	}
	sort.Strings(gs)
	for _, g := range gs {
		keys := make([]string, 0, len(p.outcome[g]))
		for k := range p.outcome[g] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			o := p.outcome[g][k]
			if o[0] < 0 || o[1] < 0 {
				has, lacks := p.a, p.b
				if o[0] < 0 {
					has, lacks = p.b, p.a
				}
				return fmt.Errorf("compare: %s has a scored row for %s but none for %s; a paired comparison needs both (score the same images, or leave the extra rows out)", p.example[g][k], has, lacks)
			}
		}
	}
	return nil
}

// discordant counts, per comparison group, the pairs A gets right and B
// wrong (b) and the other way (c).
func (p *pairs) discordant(g string) (b, c int) {
	for _, o := range p.outcome[g] {
		switch {
		case o[0] == 1 && o[1] == 0:
			b++
		case o[0] == 0 && o[1] == 1:
			c++
		}
	}
	return b, c
}

// McNemar is the exact McNemar test's two-sided p-value for b and c
// discordant pairs: twice the binomial(b+c, 1/2) tail of the smaller,
// at most 1.
func McNemar(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	p := 2 * distuv.Binomial{N: float64(n), P: 0.5}.CDF(float64(min(b, c)))
	return math.Min(1, p)
}

// Holm adjusts p-values for a family of tests by Holm's step-down rule:
// the i-th smallest (from 0) times m-i, made non-decreasing, at most 1.
func Holm(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return p[order[i]] < p[order[j]] })
	out := make([]float64, m)
	run := 0.0
	for rank, i := range order {
		run = math.Max(run, math.Min(1, float64(m-rank)*p[i]))
		out[i] = run
	}
	return out
}

// compared turns rows grouped with Col into the comparison's rows,
// grouped without it: per group and metric M of both sides, M.A and M.B
// (A's and B's values) and M.diff (A minus B).
func compared(rows []Row, col int, c Compare) []Row {
	type cell struct {
		group []string
		vals  [2]float64
		have  [2]bool
		n     int64
	}
	var order []string
	cells := map[string]*cell{}
	for _, r := range rows {
		side := -1
		switch r.Group[col] {
		case c.A:
			side = 0
		case c.B:
			side = 1
		}
		if side < 0 {
			continue
		}
		g := slices.Delete(slices.Clone(r.Group), col, col+1)
		k := strings.Join(g, "\x00") + "\x01" + r.Metric
		ce, ok := cells[k]
		if !ok {
			ce = &cell{group: g}
			cells[k] = ce
			order = append(order, k)
		}
		ce.vals[side], ce.have[side] = r.Value, true
		ce.n = max(ce.n, r.N)
	}
	var out []Row
	for _, k := range order {
		ce := cells[k]
		if !ce.have[0] || !ce.have[1] {
			continue
		}
		m := k[strings.Index(k, "\x01")+1:]
		out = append(out, Row{Group: ce.group, Metric: m + "." + c.A, Value: ce.vals[0], N: ce.n},
			Row{Group: ce.group, Metric: m + "." + c.B, Value: ce.vals[1], N: ce.n},
			Row{Group: ce.group, Metric: m + ".diff", Value: ce.vals[0] - ce.vals[1], N: ce.n})
	}
	return out
}

// mcnemar adds, after each comparison group's top-1 difference (and its
// interval), the exact McNemar p-value of the paired top-1 outcomes
// (M.p) and Holm's adjustment over every group of the table (M.p_holm),
// the family of tests one comparison makes.
func (a *Accuracy) mcnemar(rows []Row, c Compare) []Row {
	m := a.top1Name()
	last := map[string]int{} // group -> index of its last top-1 row
	for i, r := range rows {
		if strings.HasPrefix(r.Metric, m+".diff") {
			last[strings.Join(r.Group, "\x00")] = i
		}
	}
	type test struct {
		at   int
		g    []string
		p    float64
		b, c int
	}
	var tests []test
	for g, i := range last {
		b, cc := a.pairs.discordant(g)
		tests = append(tests, test{at: i, g: rows[i].Group, p: McNemar(b, cc), b: b, c: cc})
	}
	sort.Slice(tests, func(i, j int) bool { return tests[i].at < tests[j].at })
	ps := make([]float64, len(tests))
	for i, t := range tests {
		ps[i] = t.p
	}
	holm := Holm(ps)
	var out []Row
	next := 0
	for i, r := range rows {
		out = append(out, r)
		if next < len(tests) && tests[next].at == i {
			t := tests[next]
			n := int64(t.b + t.c)
			out = append(out, Row{Group: t.g, Metric: m + ".p", Value: t.p, N: n}, Row{Group: t.g, Metric: m + ".p_holm", Value: holm[next], N: n})
			next++
		}
	}
	return out
}
