package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/vec"
)

// OOD scores out-of-distribution detection (ImageNet-O's protocol): each
// row's anomaly score is minus its maximum softmax probability (over the
// subset's classes when there is one); rows of the positive streams are
// the out-of-distribution ones. Per group: AUPR, AUROC and the false
// positive rate at 95% recall, in percent.
type OOD struct {
	By     []string
	Subset *imagenet.Subset
	groups map[string]*oodGroup
	units  *Units // non-nil: keep each row's unit for Resample
}

type oodGroup struct {
	key    []string
	scores []float64
	pos    []bool
	unit   []int32 // per row, when kept for resampling
}

// NewOOD groups by the named columns; subset may be nil.
func NewOOD(by []string, subset *imagenet.Subset) *OOD {
	return &OOD{By: by, Subset: subset, groups: map[string]*oodGroup{}}
}

// GroupColumnError is a grouping column a stream lacks.
type GroupColumnError struct{ Stream, Column, Have string }

func (e *GroupColumnError) Error() string {
	return fmt.Sprintf("%s: grouping column %s: no such column (columns: %s)", e.Stream, e.Column, e.Have)
}

// byColumns returns the record's columns named by, or an error naming
// the missing one.
func byColumns(rec arrow.Record, by []string, name string) ([]arrow.Array, error) {
	cols := make([]arrow.Array, len(by))
	for j, b := range by {
		idx := rec.Schema().FieldIndices(b)
		if len(idx) != 1 {
			return nil, &GroupColumnError{Stream: name, Column: b, Have: fieldNames(rec.Schema())}
		}
		cols[j] = rec.Column(idx[0])
	}
	return cols, nil
}

// Add accumulates a record of a prediction stream; positive marks the
// out-of-distribution stream's rows.
func (o *OOD) Add(rec arrow.Record, name string, positive bool) error {
	lcol, k, err := stream.Logits(rec.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if o.Subset != nil && k <= o.Subset.Indices[len(o.Subset.Indices)-1] {
		return fmt.Errorf("%s: the %s subset needs ImageNet-1k logits, but the stream has %d classes", name, o.Subset.Name, k)
	}
	cols, err := byColumns(rec, o.By, name)
	if err != nil {
		return err
	}
	ids, err := unitIDs(rec, name, o.units != nil)
	if err != nil {
		return err
	}
	vals, _, err := stream.Float32Rows(rec.Column(lcol))
	if err != nil {
		return fmt.Errorf("%s: column logits: %v", name, err)
	}
	key := make([]string, len(o.By))
	for i := 0; i < int(rec.NumRows()); i++ {
		for j, c := range cols {
			key[j] = c.ValueStr(i)
		}
		ks := strings.Join(key, "\x00")
		g, ok := o.groups[ks]
		if !ok {
			g = &oodGroup{key: append([]string{}, key...)}
			o.groups[ks] = g
		}
		row := vals[i*k : (i+1)*k]
		idx := []int(nil)
		if o.Subset != nil {
			idx = o.Subset.Indices
		}
		g.scores = append(g.scores, -msp(row, idx))
		g.pos = append(g.pos, positive)
		if o.units != nil {
			g.unit = append(g.unit, o.units.of(ids.Value(i)))
		}
	}
	return nil
}

// KeepRows keeps each row's unit (in u) for Resample.
func (o *OOD) KeepRows(u *Units) { o.units = u }

// resampled is the accumulator had each unit u been scored w[u] times.
func (o *OOD) resampled(w []float64) *OOD {
	b := *o
	b.groups = map[string]*oodGroup{}
	for k, g := range o.groups {
		ng := &oodGroup{key: g.key}
		repeat(g.unit, w, func(i int) {
			ng.scores, ng.pos = append(ng.scores, g.scores[i]), append(ng.pos, g.pos[i])
		})
		b.groups[k] = ng
	}
	return &b
}

// msp is the maximum softmax probability over the classes idx (all when nil).
func msp(row []float32, idx []int) float64 {
	at := func(p int) float64 {
		if idx != nil {
			return float64(row[idx[p]])
		}
		return float64(row[p])
	}
	n := len(row)
	if idx != nil {
		n = len(idx)
	}
	mx := math.Inf(-1)
	for p := 0; p < n; p++ {
		mx = math.Max(mx, at(p))
	}
	var s float64
	for p := 0; p < n; p++ {
		s += vec.Exp(at(p) - mx)
	}
	return 1 / s
}

// Rows returns AUPR, AUROC and FPR95 per group, groups sorted.
func (o *OOD) Rows() ([]Row, error) {
	var gs []*oodGroup
	for _, g := range o.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(gs[i].key, gs[j].key) })
	var rows []Row
	for _, g := range gs {
		np := 0
		for _, p := range g.pos {
			if p {
				np++
			}
		}
		if np == 0 || np == len(g.pos) {
			return nil, fmt.Errorf("group %s has %d out-of-distribution rows of %d; detection needs both out-of-distribution and in-distribution rows",
				strings.Join(g.key, ","), np, len(g.pos))
		}
		n := int64(len(g.pos))
		rows = append(rows,
			Row{Group: g.key, Metric: "aupr", Value: 100 * robust.AUPR(g.scores, g.pos), N: n},
			Row{Group: g.key, Metric: "auroc", Value: 100 * robust.AUROC(g.scores, g.pos), N: n},
			Row{Group: g.key, Metric: "fpr95", Value: 100 * robust.FPRAtRecall(g.scores, g.pos, 0.95), N: n})
	}
	return rows, nil
}
