package metrics

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

// CE turns top-1 rows grouped by (by..., corruption, severity) into
// ImageNet-C's measures per group of by: for each corruption the error
// (percent, the mean over its severities) and CE (percent of the
// baseline's error), then mCE over the 15 standard corruptions and, when
// all 19 are there, the mean CE over the 19 (labelled so) and over the 4
// extra. base maps corruption to the baseline's mean error (fractions).
// Summary rows carry the corruption value "mCE", "mean_ce_19" or
// "mean_ce_extra".
func CE(rows []Row, nby int, base map[string]float64) (out []Row, notes []string, err error) {
	type key struct{ group, corruption string }
	sum := map[key]float64{}
	cnt := map[key]int{}
	ns := map[key]int64{}
	groups := map[string][]string{}
	var order []string
	for _, r := range rows {
		if r.Metric != Top1 {
			continue
		}
		g := strings.Join(r.Group[:nby], "\x00")
		if _, ok := groups[g]; !ok {
			groups[g] = r.Group[:nby]
			order = append(order, g)
		}
		k := key{g, r.Group[nby]}
		sum[k] += 1 - r.Value/100
		cnt[k]++
		ns[k] += r.N
	}
	for _, g := range order {
		errs := map[string]float64{}
		var names []string
		for k := range sum {
			if k.group == g {
				names = append(names, k.corruption)
			}
		}
		sort.Strings(names)
		for _, c := range names {
			k := key{g, c}
			if cnt[k] != 5 {
				return nil, nil, fmt.Errorf("corruption %s has %d severities; CE averages all 5", c, cnt[k])
			}
			e := sum[k] / 5
			errs[c] = e
			grp := append(append([]string{}, groups[g]...), c)
			out = append(out, Row{Group: grp, Metric: "error", Value: 100 * e, N: ns[k]})
			if b, ok := base[c]; ok {
				out = append(out, Row{Group: grp, Metric: "ce", Value: 100 * robust.CE(e, b), N: ns[k]})
			}
		}
		summary := func(label string, list []string) {
			v, err := robust.MeanCE(errs, base, list)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s %s: no %s: %v", strings.Join(groups[g], " "), "", label, err))
				return
			}
			var n int64 // the rows behind the listed corruptions
			for _, c := range list {
				n += ns[key{g, c}]
			}
			out = append(out, Row{Group: append(append([]string{}, groups[g]...), label), Metric: "ce", Value: 100 * v, N: n})
		}
		summary("mCE", robust.Standard)
		summary("mean_ce_19", append(append([]string{}, robust.Standard...), robust.Extra...))
		summary("mean_ce_extra", robust.Extra)
	}
	return out, notes, nil
}

// ReadBaseline reads the per-corruption errors of a baseline model from a
// table stream written by lk-metrics --measure ce (rows with metric
// "error", percent), as fractions for CE.
func ReadBaseline(path string) (map[string]float64, error) {
	return ReadBaselineTable(path, stream.ColCorruption, "error", "ce")
}

// ReadBaselineTable reads one metric per value of column col from a
// baseline model's lk-metrics table of measure made, divided by 100
// (percentages become fractions; use the result as ratios only).
func ReadBaselineTable(path, col, metric, made string) (map[string]float64, error) {
	vals, err := table.ReadMetric(path, col, metric)
	if err != nil {
		return nil, fmt.Errorf("%v (a baseline is a table of lk-metrics' %s measure)", err, made)
	}
	for k, v := range vals {
		vals[k] = v / 100
	}
	return vals, nil
}
