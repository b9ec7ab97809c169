package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/lk-robustness/lk/lib/stream"
)

// CI asks for confidence intervals beside every value: the test set's own
// sampling noise. Bootstrap intervals resample the units that were
// sampled (images, by id) with replacement, the same draw for every
// group, so that an image scored under several conditions (ImageNet-C's
// corruptions and severities, attack budgets, models) is in or out of a
// resample everywhere at once; the percentile interval of the replicates
// is reported as M_lo and M_hi beside each metric M.
type CI struct {
	Level     float64 // percent, e.g. 95; 0: no intervals
	Resamples int     // bootstrap replicates
	Seed      uint64  // replicate r draws from (Seed, r): the bytes do not depend on threads
	Method    string  // "bootstrap" or "wilson" (top-1 and top-5 only: a closed form)
}

// Methods of CI.
const (
	MethodBootstrap = "bootstrap"
	MethodWilson    = "wilson"
)

// Units are the units of resampling: image ids, numbered in order of
// first sight, each in the stratum of the set it was first seen in. Sets
// of different images (ImageNet's val and ImageNet-A) are resampled apart,
// each keeping its size; a set of the same images under other conditions
// shares their units.
type Units struct {
	index   map[string]int32
	stratum []int // per unit
	current int   // the stratum new ids join
}

// NewUnits is an empty unit set; new ids join stratum 0.
func NewUnits() *Units { return &Units{index: map[string]int32{}} }

// Stratum makes ids first seen from now on join stratum s.
func (u *Units) Stratum(s int) { u.current = s }

// Len is the number of units.
func (u *Units) Len() int { return len(u.stratum) }

func (u *Units) of(id string) int32 {
	i, ok := u.index[id]
	if !ok {
		i = int32(len(u.stratum))
		u.index[id] = i
		u.stratum = append(u.stratum, u.current)
	}
	return i
}

// unitIDs is rec's id column, the units of resampling, when want.
func unitIDs(rec arrow.Record, name string, want bool) (*array.String, error) {
	if !want {
		return nil, nil
	}
	ii := rec.Schema().FieldIndices(stream.ColID)
	if len(ii) != 1 || rec.Schema().Field(ii[0]).Type.ID() != arrow.STRING {
		return nil, fmt.Errorf("%s: no utf8 column id: confidence intervals resample images by their id", name)
	}
	return rec.Column(ii[0]).(*array.String), nil
}

// repeat calls fn(i) w[units[i]] times for each row i, in order: the rows
// of a resample, for measures that keep their rows.
func repeat(units []int32, w []float64, fn func(i int)) {
	for i, u := range units {
		for r := 0; r < int(w[u]); r++ {
			fn(i)
		}
	}
}

// records are the scored rows kept for resampling: each row's unit, group
// and outcome.
type records struct {
	units *Units
	unit  []int32
	group []int32
	out   []outcomeRow
}

func (r *records) add(group int, unit int32, o outcomeRow) {
	r.unit = append(r.unit, unit)
	r.group = append(r.group, int32(group))
	r.out = append(r.out, o)
}

// KeepRows makes the accumulator keep every scored row for Resample, its
// units in u (shared by accumulators whose rows resample together).
func (a *Accuracy) KeepRows(u *Units) { a.rec = &records{units: u} }

// Resample returns the rows Rows would return had each unit u been scored
// w[u] times.
func (a *Accuracy) Resample(w []float64) ([]Row, error) { return a.resampled(w).Rows() }

// resampled is the accumulator had each unit u been scored w[u] times.
func (a *Accuracy) resampled(w []float64) *Accuracy {
	b := *a
	b.groups = make(map[string]*group, len(a.groups))
	byIdx := make([]*group, len(a.groups))
	for k, g := range a.groups {
		ng := &group{key: g.key, idx: g.idx, unlabelled: g.unlabelled}
		b.groups[k] = ng
		byIdx[g.idx] = ng
	}
	for i, u := range a.rec.unit {
		if w[u] != 0 {
			b.apply(byIdx[a.rec.group[i]], a.rec.out[i], w[u])
		}
	}
	return &b
}

func cmp2(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// drawFrom fills w with the counts of a resample, replicate r of seed:
// each stratum's units drawn as many times as it has units, uniformly among
// them.
func (u *Units) drawFrom(strata [][]int32, w []float64, seed uint64, r int) {
	clear(w)
	rng := rand.New(rand.NewPCG(seed, uint64(r)+0x9e3779b97f4a7c15))
	for _, members := range strata {
		n := len(members)
		for i := 0; i < n; i++ {
			w[members[rng.IntN(n)]]++
		}
	}
}

// strata lists each stratum's units, strata in order.
func (u *Units) strata() [][]int32 {
	var out [][]int32
	for i, s := range u.stratum {
		for len(out) <= s {
			out = append(out, nil)
		}
		out[s] = append(out[s], int32(i))
	}
	return out
}

// Intervals adds M_lo and M_hi after every row of rows, the bootstrap
// percentile interval of ci.Level over ci.Resamples replicates, where
// replicate(w) recomputes the rows with unit weights w (len units).
// Replicates run in parallel; each draws from its own seed, so the result
// does not depend on how many run at once. A row some replicates cannot
// compute (a group left with no units) gets its interval from the others,
// and a note says so.
func Intervals(rows []Row, ci CI, units *Units, replicate func(w []float64) ([]Row, error)) ([]Row, []string, error) {
	if units.Len() == 0 {
		return nil, nil, fmt.Errorf("no units to resample")
	}
	strata := units.strata()
	key := func(r Row) string { return strings.Join(r.Group, "\x00") + "\x01" + r.Metric }
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		at[key(r)] = i
	}
	reps := make([][]float64, len(rows)) // per row, per replicate (NaN: not computed)
	for i := range reps {
		reps[i] = make([]float64, ci.Resamples)
	}
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < runtime.GOMAXPROCS(0); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := make([]float64, units.Len())
			for r := range next {
				units.drawFrom(strata, w, ci.Seed, r)
				got, err := replicate(w)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("bootstrap replicate %d: %v", r, err)
				}
				mu.Unlock()
				seen := make([]bool, len(rows))
				for _, g := range got {
					if i, ok := at[key(g)]; ok {
						reps[i][r], seen[i] = g.Value, true
					}
				}
				for i, s := range seen {
					if !s {
						reps[i][r] = math.NaN()
					}
				}
			}
		}()
	}
	for r := 0; r < ci.Resamples; r++ {
		next <- r
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	var out []Row
	var notes []string
	alpha := (1 - ci.Level/100) / 2
	for i, r := range rows {
		vals := reps[i][:0:0]
		for _, v := range reps[i] {
			if !math.IsNaN(v) {
				vals = append(vals, v)
			}
		}
		out = append(out, r)
		if len(vals) < ci.Resamples {
			notes = append(notes, fmt.Sprintf("%s %s: %d of %d resamples had no rows for it; its interval comes from the others", groupName(nil, r.Group), r.Metric, ci.Resamples-len(vals), ci.Resamples))
		}
		if len(vals) == 0 {
			continue
		}
		sort.Float64s(vals)
		out = append(out, Row{Group: r.Group, Metric: r.Metric + "_lo", Value: quantile(vals, alpha), N: r.N},
			Row{Group: r.Group, Metric: r.Metric + "_hi", Value: quantile(vals, 1-alpha), N: r.N})
	}
	return out, notes, nil
}

// quantile of sorted vals at q, interpolating linearly between order
// statistics (numpy's default, "linear").
func quantile(vals []float64, q float64) float64 {
	pos := q * float64(len(vals)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(vals) {
		return vals[len(vals)-1]
	}
	return vals[lo] + (pos-float64(lo))*(vals[lo+1]-vals[lo])
}

// Wilson is the Wilson score interval, in percent, of a proportion given
// in percent over n trials, at level percent.
func Wilson(pct float64, n int64, level float64) (lo, hi float64) {
	z := distuv.UnitNormal.Quantile(1 - (1-level/100)/2)
	p, nf := pct/100, float64(n)
	d := 1 + z*z/nf
	c := (p + z*z/(2*nf)) / d
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / d
	return 100 * (c - h), 100 * (c + h)
}

// WilsonIntervals adds M_lo and M_hi after the rows of proportions of
// images (top-1, top-5, their _masked, _1000way and _in9 forms and the
// attack success rate); other metrics have no closed form here, get no
// interval, and a note says which.
func WilsonIntervals(rows []Row, level float64) ([]Row, []string) {
	var out []Row
	skipped := map[string]bool{}
	var notes []string
	for _, r := range rows {
		out = append(out, r)
		base := strings.TrimSuffix(strings.TrimSuffix(r.Metric, "_masked"), "_1000way")
		if base != Top1 && base != Top5 && base != "top1_in9" && base != SuccessRate {
			if !skipped[r.Metric] {
				skipped[r.Metric] = true
				notes = append(notes, fmt.Sprintf("--ci-method wilson: %s is not a proportion of images and gets no interval (the bootstrap gives one)", r.Metric))
			}
			continue
		}
		lo, hi := Wilson(r.Value, r.N, level)
		out = append(out, Row{Group: r.Group, Metric: r.Metric + "_lo", Value: lo, N: r.N},
			Row{Group: r.Group, Metric: r.Metric + "_hi", Value: hi, N: r.N})
	}
	return out, notes
}
