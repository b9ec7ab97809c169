package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Over summarises a table over the values of one of its grouping columns
// (a model's training seeds, a lesion's samples): for every other group
// and metric M, the mean of M over col's values as M, with M_sd (the
// sample standard deviation, n-1), M_min and M_max, and n_COL, how many
// values of col the group had. A row's n stays the count behind one value
// (the largest). A group with fewer values of col than the table has is
// kept, with a note naming what it lacks; with one value it has no sd.
func Over(by []string, rows []Row, col string) ([]string, []Row, []string, error) {
	at := slices.Index(by, col)
	if at < 0 {
		return nil, nil, nil, fmt.Errorf("over %s: not a grouping column of the table (%s)", col, strings.Join(by, ", "))
	}
	outBy := slices.Delete(slices.Clone(by), at, at+1)
	type cell struct {
		group  []string
		metric string
		vals   []float64
		n      int64
		seen   map[string]bool
	}
	var order []*cell
	cells := map[string]*cell{}
	all := map[string]bool{}
	groupValues := map[string]map[string]bool{}
	for _, r := range rows {
		g := slices.Delete(slices.Clone(r.Group), at, at+1)
		gk := strings.Join(g, "\x00")
		k := gk + "\x01" + r.Metric
		c, ok := cells[k]
		if !ok {
			c = &cell{group: g, metric: r.Metric, seen: map[string]bool{}}
			cells[k] = c
			order = append(order, c)
		}
		v := r.Group[at]
		if c.seen[v] {
			return nil, nil, nil, fmt.Errorf("over %s: %s %s=%s has metric %s twice", col, groupName(outBy, g), col, v, r.Metric)
		}
		c.seen[v] = true
		c.vals = append(c.vals, r.Value)
		c.n = max(c.n, r.N)
		all[v] = true
		if groupValues[gk] == nil {
			groupValues[gk] = map[string]bool{}
		}
		groupValues[gk][v] = true
	}
	var out []Row
	var notes []string
	started := map[string]bool{} // groups whose count row (and note) are out
	for _, c := range order {
		gk := strings.Join(c.group, "\x00")
		if !started[gk] {
			started[gk] = true
			have := groupValues[gk]
			out = append(out, Row{Group: c.group, Metric: "n_" + col, Value: float64(len(have)), N: c.n})
			if len(have) < len(all) {
				var miss []string
				for v := range all {
					if !have[v] {
						miss = append(miss, v)
					}
				}
				slices.Sort(miss)
				notes = append(notes, fmt.Sprintf("%s: no rows for %s %s (has %d of the %d values)", groupName(outBy, c.group), col, strings.Join(miss, ","), len(have), len(all)))
			}
		}
		mean, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
		for _, v := range c.vals {
			mean += v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		mean /= float64(len(c.vals))
		out = append(out, Row{Group: c.group, Metric: c.metric, Value: mean, N: c.n})
		if len(c.vals) > 1 {
			var ss float64
			for _, v := range c.vals {
				ss += (v - mean) * (v - mean)
			}
			out = append(out, Row{Group: c.group, Metric: c.metric + "_sd", Value: math.Sqrt(ss / float64(len(c.vals)-1)), N: c.n})
		}
		out = append(out,
			Row{Group: c.group, Metric: c.metric + "_min", Value: lo, N: c.n},
			Row{Group: c.group, Metric: c.metric + "_max", Value: hi, N: c.n})
	}
	return outBy, out, notes, nil
}

// overMeans are the rows of Over's table that are means of the input's
// metrics (named in metrics), not their spread or counts.
func overMeans(rows []Row, metrics map[string]bool) []Row {
	var out []Row
	for _, r := range rows {
		if metrics[r.Metric] {
			out = append(out, r)
		}
	}
	return out
}

// mergeIntervals puts the interval rows Intervals wrote after each row of
// means (iv: means with M_lo and M_hi after their M) right after that
// row in rows.
func mergeIntervals(rows, means, iv []Row) []Row {
	key := func(r Row) string { return strings.Join(r.Group, "\x00") + "\x01" + r.Metric }
	after := map[string][]Row{}
	j := 0
	for i, m := range means {
		j++ // iv[j-1] is m itself
		for j < len(iv) && (i+1 == len(means) || key(iv[j]) != key(means[i+1])) {
			after[key(m)] = append(after[key(m)], iv[j])
			j++
		}
	}
	out := make([]Row, 0, len(rows)+len(iv))
	for _, r := range rows {
		out = append(out, r)
		out = append(out, after[key(r)]...)
	}
	return out
}
