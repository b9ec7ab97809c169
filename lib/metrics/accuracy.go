// Package metrics turns prediction streams into the numbers the paper
// reports. Rows are grouped by any columns (model, corruption, severity,
// eps, ...); every result carries the number of rows it came from, and
// groups come out sorted, so sharded runs read together give the same
// table as one run.
package metrics

import (
	"cmp"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
	"github.com/lk-robustness/lk/lib/vec"
)

// Row is one value of a long-form table (lib/table owns the type).
type Row = table.Row

// Metric names. Accuracies are in percent, cross-entropy in nats. With a
// class subset, each is reported twice: over the subset's classes (the
// datasets' own protocol, suffix _masked) and over all classes (_1000way).
const (
	Top1 = "top1"
	Top5 = "top5"
	Xent = "xent"
	// SuccessRate is an attack's success: percent of images misclassified.
	SuccessRate = "success_rate"
)

// counts are sums over rows, each row counted with a weight (1, or its
// unit's count in a bootstrap resample).
type counts struct {
	n, top1, top5, xent float64
}

// outcome is what one row adds to counts: weight, top-1 and top-5 right
// (0 or 1) and cross-entropy.
func outcome(logits []float32, label int) [3]float64 {
	rank := Rank(logits, label)
	var o [3]float64
	if rank == 0 {
		o[0] = 1
	}
	if rank < 5 {
		o[1] = 1
	}
	o[2] = CrossEntropy(logits, label)
	return o
}

func (c *counts) add(o [3]float64, w float64) {
	c.n += w
	c.top1 += w * o[0]
	c.top5 += w * o[1]
	c.xent += w * o[2]
}

type group struct {
	key         []string
	idx         int // creation order, for resampled rows
	all, masked counts
	// class-mapped streams: top-1 right when in the label's class group,
	// the argmax over the grouped classes and over all 1000
	grpMasked, grp1k, grpN float64
	in9, in9n              float64 // ImageNet-9: correct and scored rows
	unlabelled             int64
}

// Accuracy accumulates top-1, top-5 and cross-entropy per group.
type Accuracy struct {
	By     []string
	Subset *imagenet.Subset // nil: plain accuracy over all logits
	// Attacked is set once a record has an attack column (lk-attack's):
	// the rows then also carry the attack success rate, the percentage of
	// images misclassified (100 - top-1), as the TAIG protocol reports it.
	Attacked bool
	// IN9 scores ImageNet-9: the top-1 of the 1000 logits mapped to the 9
	// superclasses (unmapped classes count as wrong) against 9-way labels.
	IN9    bool
	groups map[string]*group
	sub    []float32
	// class groups of class-mapped streams (lk-data --class-map), from
	// the streams' metadata
	cg             *imagenet.ClassGroups
	judge          *Judge // the top-1 rule of class-mapped streams
	cgMeta         string
	sawPlainStream bool
	// rec keeps each scored row's outcome for resampling (Resample);
	// nil unless asked for, since it grows with the rows.
	rec *records
	// pairs keeps each row's top-1 by pairing key for a comparison
	// (nil: none).
	pairs *pairs
	keyer *stream.Keyer // the current record's key, for pairs
}

// NewAccuracy groups by the named columns; subset may be nil.
func NewAccuracy(by []string, subset *imagenet.Subset) *Accuracy {
	return &Accuracy{By: by, Subset: subset, groups: map[string]*group{}}
}

// Add accumulates one record batch of a prediction stream. name identifies
// the stream in errors.
func (a *Accuracy) Add(rec arrow.Record, name string) error {
	schema := rec.Schema()
	vals, k, labels, err := labelled(rec, name, "accuracy needs labels")
	if err != nil {
		return err
	}
	if len(schema.FieldIndices(stream.ColAttack)) > 0 {
		a.Attacked = true
	}
	rowName := rowNamer(rec)
	bycols, err := byColumns(rec, a.By, name)
	if err != nil {
		return err
	}
	if a.Subset != nil && k <= a.Subset.Indices[len(a.Subset.Indices)-1] {
		return fmt.Errorf("%s: the %s subset needs ImageNet-1k logits, but the stream has %d classes", name, a.Subset.Name, k)
	}
	if err := a.classGroups(schema, name, k); err != nil {
		return err
	}
	ids, err := unitIDs(rec, name, a.rec != nil)
	if err != nil {
		return err
	}
	if a.pairs != nil {
		if a.keyer, err = stream.NewKeyer(schema); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	key := make([]string, len(a.By))
	for i := 0; i < int(rec.NumRows()); i++ {
		groupKey(key, bycols, i)
		g := a.group(key)
		label := int(labels.Value(i))
		if labels.IsNull(i) || label == -1 {
			g.unlabelled++
			continue
		}
		if label < 0 || label >= k {
			return fmt.Errorf("%s: %s: label %d is outside the model's %d classes", name, rowName(i), label, k)
		}
		row := vals[i*k : (i+1)*k]
		if a.IN9 {
			if k != 1000 {
				return fmt.Errorf("%s: ImageNet-9's score maps ImageNet-1k predictions, but the stream has %d classes", name, k)
			}
			if label > 8 {
				return fmt.Errorf("%s: %s: label %d; ImageNet-9 labels are 0-8 (its folders in order)", name, rowName(i), label)
			}
			best := 0
			for c, v := range row {
				if v > row[best] {
					best = c
				}
			}
			var o outcomeRow
			if robust.IN9(best) == label {
				o[0] = 1
			}
			a.score(g, rec, ids, i, o)
			continue
		}
		if a.cg != nil {
			ok, err := a.judge.Correct(row, label)
			if err != nil {
				return fmt.Errorf("%s: %s: %v", name, rowName(i), err)
			}
			lg, _ := a.cg.Group(label)
			var o outcomeRow
			if ok {
				o[0] = 1
			}
			if pg, ok := a.cg.Group(top1(row, nil)); ok && pg == lg {
				o[1] = 1
			}
			a.score(g, rec, ids, i, o)
			continue
		}
		var o outcomeRow
		all := outcome(row, label)
		copy(o[:3], all[:])
		if a.Subset != nil {
			pos, ok := a.Subset.Position(label)
			if !ok {
				return fmt.Errorf("%s: %s: label %d (%s) is not one of the %s classes", name, rowName(i), label, imagenet.WNIDs[label], a.Subset.Name)
			}
			if a.sub == nil {
				a.sub = make([]float32, len(a.Subset.Indices))
			}
			for p, ci := range a.Subset.Indices {
				a.sub[p] = row[ci]
			}
			masked := outcome(a.sub, pos)
			copy(o[3:], masked[:])
		}
		a.score(g, rec, ids, i, o)
	}
	return nil
}

// outcomeRow is one scored row's outcome in the accumulator's mode:
// plain, top-1, top-5 and cross-entropy over all classes, then over the
// subset's; ImageNet-9, [0] right; class-mapped, [0] right by the
// grouped classes and [1] by all 1000.
type outcomeRow [6]float64

// score adds row i's outcome to its group with weight 1, and keeps it
// for resampling when asked to.
func (a *Accuracy) score(g *group, rec arrow.Record, ids *array.String, i int, o outcomeRow) {
	a.apply(g, o, 1)
	if a.rec != nil {
		a.rec.add(g.idx, a.rec.units.of(ids.Value(i)), o)
	}
	if a.pairs != nil {
		var pair []string
		for j, v := range a.keyer.Values(rec, i) {
			if a.keyer.Names[j] != a.By[a.pairs.col] {
				pair = append(pair, v)
			}
		}
		right := o[0] == 1
		if a.Subset != nil {
			right = o[3] == 1 // the set's own protocol
		}
		a.pairs.add(g.key, strings.Join(pair, "\x00"), a.keyer.Describe(rec, i), right)
	}
}

// top1Name is the metric the comparison's McNemar test is on: top-1 as
// the accumulator's mode scores it.
func (a *Accuracy) top1Name() string {
	switch {
	case a.IN9:
		return "top1_in9"
	case a.cg != nil || a.Subset != nil:
		return Top1 + "_masked"
	}
	return Top1
}

// apply adds an outcome to g with weight w, by the accumulator's mode.
func (a *Accuracy) apply(g *group, o outcomeRow, w float64) {
	switch {
	case a.IN9:
		g.in9n += w
		g.in9 += w * o[0]
	case a.cg != nil:
		g.grpN += w
		g.grpMasked += w * o[0]
		g.grp1k += w * o[1]
	default:
		g.all.add([3]float64{o[0], o[1], o[2]}, w)
		if a.Subset != nil {
			g.masked.add([3]float64{o[3], o[4], o[5]}, w)
		}
	}
}

// classGroups reads a stream's class groups (lk-data --class-map): every
// stream scored together must have the same ones, or none.
func (a *Accuracy) classGroups(schema *arrow.Schema, name string, k int) error {
	v, ok := schema.Metadata().GetValue(stream.MetaClassGroups)
	switch {
	case !ok && a.cg != nil:
		return fmt.Errorf("%s: has no class groups, but the streams before it were class-mapped (lk-data --class-map): score them apart", name)
	case !ok:
		a.sawPlainStream = true
		return nil
	case a.sawPlainStream:
		return fmt.Errorf("%s: is class-mapped (lk-data --class-map), the streams before it were not: score them apart", name)
	case a.cg != nil && v != a.cgMeta:
		return fmt.Errorf("%s: its class groups differ from the streams' before it: score them apart", name)
	case a.Subset != nil:
		return fmt.Errorf("%s: is class-mapped (lk-data --class-map): its groups already say which classes count; leave out --subset", name)
	case a.IN9:
		return fmt.Errorf("%s: is class-mapped (lk-data --class-map); ImageNet-9's score maps classes itself", name)
	case k != len(imagenet.WNIDs):
		return fmt.Errorf("%s: is class-mapped to ImageNet-1k classes, but the stream has %d logits", name, k)
	}
	if a.cg == nil {
		j, err := NewJudge(schema, k)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		a.judge, a.cg, a.cgMeta = j, j.cg, v
	}
	return nil
}

// labelled reads what every measure of labelled predictions reads: the
// logits (k per row, flattened) and the int32 labels; what says in the
// error what needs the labels.
func labelled(rec arrow.Record, name, what string) (vals []float32, k int, labels *array.Int32, err error) {
	schema := rec.Schema()
	lcol, k, err := stream.Logits(schema)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %v", name, err)
	}
	li := schema.FieldIndices(stream.ColLabel)
	if len(li) != 1 || schema.Field(li[0]).Type.ID() != arrow.INT32 {
		return nil, 0, nil, fmt.Errorf("%s: stream has no int32 column %q; %s", name, stream.ColLabel, what)
	}
	if vals, _, err = stream.Float32Rows(rec.Column(lcol)); err != nil {
		return nil, 0, nil, fmt.Errorf("%s: column logits: %v", name, err)
	}
	return vals, k, rec.Column(li[0]).(*array.Int32), nil
}

// finite refuses a row with a NaN or infinite logit, which no confidence
// or decision can come from.
func finite(row []float32, name, rowName string) error {
	for _, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: %s: logit %v; a confidence or decision needs finite logits", name, rowName, v)
		}
	}
	return nil
}

// rowNamer names a row of rec in errors: by its id where the stream has
// one, else by its position in the record.
func rowNamer(rec arrow.Record) func(int) string {
	var ids *array.String
	if ii := rec.Schema().FieldIndices(stream.ColID); len(ii) == 1 {
		ids, _ = rec.Column(ii[0]).(*array.String)
	}
	return func(i int) string {
		if ids != nil {
			return fmt.Sprintf("row id %q", ids.Value(i))
		}
		return fmt.Sprintf("row %d", i)
	}
}

// groupKey fills key with row i's values of the grouping columns (null as
// the empty string).
func groupKey(key []string, cols []arrow.Array, i int) {
	for j, c := range cols {
		key[j] = ""
		if !c.IsNull(i) {
			key[j] = c.ValueStr(i)
		}
	}
}

func (a *Accuracy) group(key []string) *group {
	k := strings.Join(key, "\x00")
	g, ok := a.groups[k]
	if !ok {
		g = &group{key: append([]string{}, key...), idx: len(a.groups)}
		a.groups[k] = g
	}
	return g
}

// Rows returns the results, groups sorted by their values (numbers
// numerically), metrics in a fixed order.
func (a *Accuracy) Rows() ([]Row, error) {
	gs := make([]*group, 0, len(a.groups))
	for _, g := range a.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(gs[i].key, gs[j].key) })
	var rows []Row
	for _, g := range gs {
		if a.IN9 {
			if g.in9n == 0 {
				continue // only label -1: counted by Unlabelled, as without --by
			}
			rows = append(rows, Row{Group: g.key, Metric: "top1_in9", Value: 100 * g.in9 / g.in9n, N: int64(g.in9n)})
			continue
		}
		if a.cg != nil {
			if g.grpN == 0 {
				continue
			}
			n := g.grpN
			rows = append(rows,
				Row{Group: g.key, Metric: Top1 + "_masked", Value: 100 * g.grpMasked / n, N: int64(n)},
				Row{Group: g.key, Metric: Top1 + "_1000way", Value: 100 * g.grp1k / n, N: int64(n)})
			continue
		}
		if g.all.n == 0 {
			continue
		}
		emit := func(c counts, suffix string) {
			n := c.n
			rows = append(rows,
				Row{Group: g.key, Metric: Top1 + suffix, Value: 100 * c.top1 / n, N: int64(n)},
				Row{Group: g.key, Metric: Top5 + suffix, Value: 100 * c.top5 / n, N: int64(n)},
				Row{Group: g.key, Metric: Xent + suffix, Value: c.xent / n, N: int64(n)})
			if a.Attacked {
				rows = append(rows, Row{Group: g.key, Metric: SuccessRate + suffix, Value: 100 - 100*c.top1/n, N: int64(n)})
			}
		}
		if a.Subset != nil {
			emit(g.masked, "_masked")
			emit(g.all, "_1000way")
		} else {
			emit(g.all, "")
		}
	}
	return append(rows, a.bgGaps(rows)...), nil
}

// BGGap names ImageNet-9's background gap, Mixed-Same minus Mixed-Rand
// top-1 in points; its rows have the variant "mixed_same-mixed_rand".
const BGGap = "bg_gap"

// bgGaps adds, when variant is a --by column, one BG-Gap row per group
// that has both mixed variants.
func (a *Accuracy) bgGaps(rows []Row) []Row {
	vi := -1
	for i, b := range a.By {
		if b == stream.ColVariant {
			vi = i
		}
	}
	if vi < 0 {
		return nil
	}
	top1 := Top1
	if a.IN9 {
		top1 = "top1_in9"
	} else if a.Subset != nil {
		top1 = Top1 + "_masked"
	}
	type pair struct {
		same, rand *Row
	}
	var order []string
	pairs := map[string]*pair{}
	for i := range rows {
		r := &rows[i]
		if r.Metric != top1 {
			continue
		}
		k := append(append([]string{}, r.Group[:vi]...), r.Group[vi+1:]...)
		ks := strings.Join(k, "\x00")
		if pairs[ks] == nil {
			pairs[ks] = &pair{}
			order = append(order, ks)
		}
		switch r.Group[vi] {
		case "mixed_same":
			pairs[ks].same = r
		case "mixed_rand":
			pairs[ks].rand = r
		}
	}
	var out []Row
	for _, ks := range order {
		p := pairs[ks]
		if p.same == nil || p.rand == nil {
			continue
		}
		g := append([]string{}, p.same.Group...)
		g[vi] = "mixed_same-mixed_rand"
		out = append(out, Row{Group: g, Metric: BGGap, Value: robust.BGGap(p.same.Value, p.rand.Value), N: min(p.same.N, p.rand.N)})
	}
	return out
}

// Unlabelled is the number of rows skipped for having label -1.
func (a *Accuracy) Unlabelled() int64 {
	var n int64
	for _, g := range a.groups {
		n += g.unlabelled
	}
	return n
}

// Rank is the 0-based rank of class label in logits: the number of classes
// with a larger logit, ties broken by index (as argmax returns the first
// maximum).
func Rank(logits []float32, label int) int {
	v := logits[label]
	r := 0
	for i, x := range logits {
		if x > v || (x == v && i < label) {
			r++
		}
	}
	return r
}

// CrossEntropy is -log softmax(logits)[label], computed in float64.
func CrossEntropy(logits []float32, label int) float64 {
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x))
	}
	s := 0.0
	for _, x := range logits {
		s += vec.Exp(float64(x) - m)
	}
	return m + math.Log(s) - float64(logits[label])
}

// lessKey is the one order of groups in every table: values that are
// numbers numerically, other text in natural order (runs of digits as
// numbers: lk3 before lk13), so that sharded runs give the same table as
// one run and a person reads models in the order they were named.
func lessKey(a, b []string) bool {
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		x, errx := strconv.ParseFloat(a[i], 64)
		y, erry := strconv.ParseFloat(b[i], 64)
		if errx == nil && erry == nil && x != y {
			return x < y
		}
		if c := naturalCompare(a[i], b[i]); c != 0 {
			return c < 0
		}
		return a[i] < b[i]
	}
	return false
}

// naturalCompare compares a and b with their runs of ASCII digits read as
// whole numbers (leading zeros ignored): -1, 0 or +1.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return cmp.Compare(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func fieldNames(s *arrow.Schema) string {
	var n []string
	for _, f := range s.Fields() {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}
