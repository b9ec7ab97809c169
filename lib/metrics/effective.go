package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/lk-robustness/lk/lib/vec"
)

// Scales on which accuracies are laid out before the baseline line is
// fitted: Taori et al. (2020) found out-of-distribution accuracy linear in
// in-distribution accuracy across hundreds of models on logit (or probit)
// axes.
const (
	ScaleLogit  = "logit"
	ScaleProbit = "probit"
)

// Scaled maps an accuracy in percent onto scale's axis.
func Scaled(scale string, pct float64) float64 {
	p := pct / 100
	if scale == ScaleProbit {
		return distuv.UnitNormal.Quantile(p)
	}
	return math.Log(p / (1 - p))
}

// Unscaled maps a point of scale's axis back to an accuracy in percent.
func Unscaled(scale string, z float64) float64 {
	if scale == ScaleProbit {
		return 100 * distuv.UnitNormal.CDF(z)
	}
	return 100 / (1 + vec.Exp(-z))
}

// Line is y = Intercept + Slope x, fitted by least squares.
type Line struct{ Intercept, Slope, R2 float64 }

// FitLine fits y on x by ordinary least squares.
func FitLine(x, y []float64) (Line, error) {
	n := float64(len(x))
	if len(x) < 3 {
		return Line{}, fmt.Errorf("a baseline line needs at least 3 models; got %d", len(x))
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		sxy += (x[i] - mx) * (y[i] - my)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 {
		return Line{}, fmt.Errorf("every model has the same in-distribution accuracy: no line can be fitted")
	}
	l := Line{Slope: sxy / sxx}
	l.Intercept = my - l.Slope*mx
	if syy > 0 {
		l.R2 = sxy * sxy / (sxx * syy)
	}
	return l, nil
}

// Metrics of --measure effective, per group (model).
const (
	EffClean     = "clean"     // in-distribution top-1
	EffShifted   = "shifted"   // out-of-distribution top-1
	EffBaseline  = "baseline"  // the line's shifted top-1 at the group's clean top-1
	EffEffective = "effective" // shifted minus baseline: effective robustness, in points
)

// effective pairs each group's clean and shifted top-1 (metric m of the
// two tables), fits the line on scale over all groups, and returns per
// group clean, shifted, baseline and effective. A group on one side only
// is an error naming it; an accuracy of 0 or 100 has no logit and is an
// error too.
func effective(clean, shifted []Row, m, scale string, by []string) ([]Row, Line, error) {
	type pair struct {
		group      []string
		c, s       float64
		nc, ns     int64
		haveC, hvS bool
	}
	ps := map[string]*pair{}
	var order []string
	for side, rows := range [][]Row{clean, shifted} {
		for _, r := range rows {
			if r.Metric != m {
				continue
			}
			k := strings.Join(r.Group, "\x00")
			p, ok := ps[k]
			if !ok {
				p = &pair{group: r.Group}
				ps[k] = p
				order = append(order, k)
			}
			if side == 0 {
				p.c, p.nc, p.haveC = r.Value, r.N, true
			} else {
				p.s, p.ns, p.hvS = r.Value, r.N, true
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return lessKey(ps[order[i]].group, ps[order[j]].group) })
	var x, y []float64
	for _, k := range order {
		p := ps[k]
		if !p.haveC || !p.hvS {
			side, other := "clean (--clean)", "shifted"
			if p.haveC {
				side, other = "shifted", "clean (--clean)"
			}
			return nil, Line{}, fmt.Errorf("effective robustness: %s has no %s predictions, only %s ones; every model needs both", groupName(by, p.group), side, other)
		}
		for _, v := range []float64{p.c, p.s} {
			if v <= 0 || v >= 100 {
				return nil, Line{}, fmt.Errorf("effective robustness: %s has a top-1 of %v%%, which has no %s", groupName(by, p.group), v, scale)
			}
		}
		x = append(x, Scaled(scale, p.c))
		y = append(y, Scaled(scale, p.s))
	}
	line, err := FitLine(x, y)
	if err != nil {
		return nil, Line{}, err
	}
	var out []Row
	for i, k := range order {
		p := ps[k]
		base := Unscaled(scale, line.Intercept+line.Slope*x[i])
		out = append(out, Row{Group: p.group, Metric: EffClean, Value: p.c, N: p.nc},
			Row{Group: p.group, Metric: EffShifted, Value: p.s, N: p.ns},
			Row{Group: p.group, Metric: EffBaseline, Value: base, N: p.ns},
			Row{Group: p.group, Metric: EffEffective, Value: p.s - base, N: p.ns})
	}
	return out, line, nil
}
