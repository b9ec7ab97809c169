package chart

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/table"
)

// Spec says what to draw from which columns.
type Spec struct {
	Kind     string // line, bar, scatter, heatmap
	X, Y, Z  string // columns (Z: heat map values)
	Series   string // one line, bar group or colour per value (a list of columns: per combination)
	Label    string // scatter: text beside each point
	Band     bool   // line: min-max band over rows sharing (series, x), the line at their mean; bar: min-max whiskers
	Diagonal bool   // line, scatter: the dashed line y = x (a reliability diagram's perfect calibration)
	// Fit draws, on a scatter, the least-squares line of y on x over all
	// points: "linear", or "logit" or "probit" for accuracies in percent
	// (the line is straight on those axes: effective robustness's
	// baseline, as lk-metrics --measure effective fits it).
	Fit string
	// SeriesOrder fixes the colour of each named series (its position
	// here), so that a model has one colour in every figure however few
	// of the models a figure shows; other series follow, sorted.
	SeriesOrder    []string
	Title          string
	XLabel, YLabel string // default: the column names
}

// Kinds lists the table plot kinds.
var Kinds = []string{"line", "bar", "scatter", "heatmap"}

// Formats lists the accepted output extensions.
var Formats = []string{".png", ".svg", ".pdf", ".eps"}

// CheckFormat refuses an output path whose extension gonum/plot cannot
// write, before any work is done.
func CheckFormat(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range Formats {
		if ext == f {
			return nil
		}
	}
	return fmt.Errorf("output %q: the extension picks the format; want one of %s", path, strings.Join(Formats, " "))
}

// Plot builds the figure of t under spec.
func Plot(t *table.Cells, s Spec) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = s.Title
	p.X.Label.Text, p.Y.Label.Text = or(s.XLabel, s.X), or(s.YLabel, s.Y)
	var err error
	switch s.Kind {
	case "line":
		err = lines(p, t, s)
	case "bar":
		err = bars(p, t, s)
	case "scatter":
		err = scatter(p, t, s)
	case "heatmap":
		err = heat(p, t, s)
	default:
		err = fmt.Errorf("plot kind %q: want one of %s (or montage for image streams)", s.Kind, strings.Join(Kinds, ", "))
	}
	if err != nil {
		return nil, err
	}
	if s.Kind != "heatmap" {
		p.Y.Tick.Marker = ticks{}
		if s.Kind != "bar" {
			p.X.Tick.Marker = ticks{}
		}
	}
	switch s.Kind { // margins that keep points, labels and bars off the frame
	case "scatter":
		pad(&p.X, 0.06, 0.06+map[bool]float64{true: 0.12}[s.Label != ""])
		pad(&p.Y, 0.08, 0.08)
	case "line":
		pad(&p.X, 0.03, 0.03)
		pad(&p.Y, 0.05, 0.05)
	case "bar":
		p.X.Min -= 0.6
		p.X.Max += 0.6
		p.Y.Min = math.Min(p.Y.Min, 0)
		pad(&p.Y, 0, 0.05)
	}
	if s.Fit != "" {
		if s.Kind != "scatter" {
			return nil, fmt.Errorf("--fit is for scatter plots, not %s", s.Kind)
		}
		if err := fitLine(p, t, s); err != nil {
			return nil, err
		}
	}
	if s.Diagonal {
		if s.Kind != "line" && s.Kind != "scatter" {
			return nil, fmt.Errorf("the diagonal is for line and scatter plots, not %s", s.Kind)
		}
		lo, hi := math.Min(p.X.Min, p.Y.Min), math.Max(p.X.Max, p.Y.Max)
		d, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
		if err != nil {
			return nil, err
		}
		d.Color, d.Dashes = color.Gray{Y: 128}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(d)
	}
	return p, nil
}

// pad widens an axis by the fractions lo and hi of its range.
func pad(a *plot.Axis, lo, hi float64) {
	r := a.Max - a.Min
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return
	}
	a.Min -= lo * r
	a.Max += hi * r
}

// ticks are gonum's default tick positions with labels written to the
// precision their spacing needs (gonum's %g writes 99.8 as "1e+02").
type ticks struct{}

func (ticks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	var labelled []float64
	for _, t := range ts {
		if t.Label != "" {
			labelled = append(labelled, t.Value)
		}
	}
	step := math.Inf(1)
	for i := 1; i < len(labelled); i++ {
		step = math.Min(step, labelled[i]-labelled[i-1])
	}
	prec := 0
	if !math.IsInf(step, 0) && step > 0 {
		prec = max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	}
	// Ticks need not sit on multiples of their spacing (11.5, 12.5, 13.5
	// at a spacing of 1): add digits until every label reads back as its
	// value, so that no two labels are the same and none is rounded.
	for ; prec < 15; prec++ {
		exact := true
		for _, v := range labelled {
			got, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', prec, 64), 64)
			exact = exact && math.Abs(got-v) <= 1e-9*math.Max(math.Abs(v), step)
		}
		if exact {
			break
		}
	}
	for i := range ts {
		if ts[i].Label != "" {
			v := ts[i].Value
			if math.Abs(v) < 1e-12*math.Max(1, step) {
				v = 0
			}
			ts[i].Label = strconv.FormatFloat(v, 'f', prec, 64)
		}
	}
	return ts
}

// OkabeIto is the colour-blind-safe palette of Okabe and Ito (2008),
// yellow last (faint on white).
var OkabeIto = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
	color.RGBA{0xF0, 0xE4, 0x42, 0xff}, // yellow
}

// index is a series' colour and marker number: its place in SeriesOrder,
// else after every listed one in the order of the unlisted names.
func (s Spec) index(name string, names []string) int {
	if i := slices.Index(s.SeriesOrder, name); i >= 0 {
		return i
	}
	k := len(s.SeriesOrder)
	for _, n := range names {
		if n == name {
			return k
		}
		if !slices.Contains(s.SeriesOrder, n) {
			k++
		}
	}
	return k
}

// ordered puts names (series, or bar categories) in the legend's order:
// those SeriesOrder lists first, in its order, then the others as they
// were. A series keeps its index (colour) either way.
func (s Spec) ordered(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range s.SeriesOrder {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	for _, n := range names {
		if !slices.Contains(s.SeriesOrder, n) {
			out = append(out, n)
		}
	}
	return out
}

func (s Spec) colour(name string, names []string) color.Color {
	return OkabeIto[s.index(name, names)%len(OkabeIto)]
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// seriesOf returns each row's series name ("" without --series) and the
// names, sorted. Several columns ("stage,block") name a series by all
// their values ("stage 1, block 3").
func seriesOf(t *table.Cells, col string) ([]string, []string, error) {
	if col == "" {
		return make([]string, t.Rows()), []string{""}, nil
	}
	cols := strings.Split(col, ",")
	s := make([]string, t.Rows())
	for _, c := range cols {
		v, err := t.Strings(c, "series")
		if err != nil {
			return nil, nil, err
		}
		for i := range s {
			if len(cols) == 1 {
				s[i] = v[i]
				continue
			}
			if s[i] != "" {
				s[i] += ", "
			}
			s[i] += c + " " + v[i]
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			names = append(names, v)
		}
	}
	if len(names) > MaxSeries {
		return nil, nil, fmt.Errorf("%s: %d values of the series %s; a figure shows at most %d (its legend and colours would be unreadable, and drawing them costs the square): choose rows with --where or another --series", t.Name, len(names), col, MaxSeries)
	}
	sort.Strings(names)
	return s, names, nil
}

// MaxSeries bounds the lines, bar groups or colours of one figure.
const MaxSeries = 100

// somethingToDraw refuses a column whose every cell is empty: the figure
// would be empty, and look like a plot of nothing measured.
func somethingToDraw(t *table.Cells, col string, vals []float64) error {
	for _, v := range vals {
		if !math.IsNaN(v) {
			return nil
		}
	}
	return fmt.Errorf("%s: column %q has no value in any of its %d rows: nothing to draw", t.Name, col, len(vals))
}

// xySeries reads the numeric x and y columns and each row's series.
func xySeries(t *table.Cells, s Spec) (xs, ys []float64, ser, names []string, err error) {
	if xs, err = t.Floats(s.X, "x"); err != nil {
		return
	}
	if ys, err = t.Floats(s.Y, "y"); err != nil {
		return
	}
	if err = somethingToDraw(t, s.Y, ys); err != nil {
		return
	}
	ser, names, err = seriesOf(t, s.Series)
	return xs, ys, ser, s.ordered(names), err
}

// lines draws one line per series through the mean of the rows at each x,
// sorted by x; with Band, the min-max range of those rows shaded.
func lines(p *plot.Plot, t *table.Cells, s Spec) error {
	xs, ys, ser, names, err := xySeries(t, s)
	if err != nil {
		return err
	}
	p.Add(plotter.NewGrid())
	drawn := 0
	for _, name := range names {
		type agg struct{ sum, lo, hi, n float64 }
		at := map[float64]*agg{}
		for i := range xs {
			if ser[i] != name || math.IsNaN(ys[i]) || math.IsNaN(xs[i]) {
				continue
			}
			a := at[xs[i]]
			if a == nil {
				a = &agg{lo: math.Inf(1), hi: math.Inf(-1)}
				at[xs[i]] = a
			}
			a.sum += ys[i]
			a.n++
			a.lo, a.hi = math.Min(a.lo, ys[i]), math.Max(a.hi, ys[i])
		}
		if len(at) == 0 {
			continue
		}
		keys := make([]float64, 0, len(at))
		for x := range at {
			keys = append(keys, x)
		}
		sort.Float64s(keys)
		mean := make(plotter.XYs, len(keys))
		var upper, lower plotter.XYs
		for i, x := range keys {
			a := at[x]
			mean[i] = plotter.XY{X: x, Y: a.sum / a.n}
			upper = append(upper, plotter.XY{X: x, Y: a.hi})
			lower = append(lower, plotter.XY{X: x, Y: a.lo})
		}
		c := s.colour(name, names)
		if s.Band {
			for i := len(lower) - 1; i >= 0; i-- {
				upper = append(upper, lower[i])
			}
			band, err := plotter.NewPolygon(upper)
			if err != nil {
				return err
			}
			r, g, b, _ := c.RGBA()
			band.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 60}
			band.LineStyle.Width = 0
			p.Add(band)
		}
		l, pts, err := plotter.NewLinePoints(mean)
		if err != nil {
			return err
		}
		l.Color, pts.Color = c, c
		pts.Shape = plotutil.Shape(s.index(name, names))
		p.Add(l, pts)
		if name != "" {
			p.Legend.Add(name, l, pts)
		}
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("%s: no row has numbers in both %q and %q", t.Name, s.X, s.Y)
	}
	p.Legend.Top = true
	return nil
}

// barStats are the bars of a table: for each series (names) and category
// of X (groups: those SeriesOrder lists in its order, then the others in
// order of appearance), the mean of Y over the rows that share them, with
// their min and max and count (0: no bar). Rows sharing a series and a
// category (a model's seeds, a lesion's samples) are averaged, never one
// of them picked.
type barStats struct {
	groups, names []string
	mean, lo, hi  [][]float64 // [series][group]
	n             [][]int
}

func barValues(t *table.Cells, s Spec) (*barStats, error) {
	cats, err := t.Strings(s.X, "x categories")
	if err != nil {
		return nil, err
	}
	ys, err := t.Floats(s.Y, "y")
	if err != nil {
		return nil, err
	}
	if err := somethingToDraw(t, s.Y, ys); err != nil {
		return nil, err
	}
	ser, names, err := seriesOf(t, s.Series)
	if err != nil {
		return nil, err
	}
	names = s.ordered(names)
	b := &barStats{names: names}
	gi := map[string]int{}
	for _, c := range cats {
		if _, ok := gi[c]; !ok {
			gi[c] = len(b.groups)
			b.groups = append(b.groups, c)
		}
	}
	// categories that SeriesOrder lists (--x model) come in its order too
	b.groups = s.ordered(b.groups)
	for g, c := range b.groups {
		gi[c] = g
	}
	si := map[string]int{}
	for k, name := range names {
		si[name] = k
		b.mean = append(b.mean, make([]float64, len(b.groups)))
		b.lo = append(b.lo, make([]float64, len(b.groups)))
		b.hi = append(b.hi, make([]float64, len(b.groups)))
		b.n = append(b.n, make([]int, len(b.groups)))
	}
	for i, c := range cats {
		if math.IsNaN(ys[i]) {
			continue
		}
		k, g := si[ser[i]], gi[c]
		if b.n[k][g] == 0 {
			b.lo[k][g], b.hi[k][g] = ys[i], ys[i]
		}
		b.mean[k][g] += ys[i]
		b.lo[k][g], b.hi[k][g] = math.Min(b.lo[k][g], ys[i]), math.Max(b.hi[k][g], ys[i])
		b.n[k][g]++
	}
	for k := range names {
		for g := range b.groups {
			if b.n[k][g] > 0 {
				b.mean[k][g] /= float64(b.n[k][g])
			}
		}
	}
	return b, nil
}

// bars draws grouped bars: one group per value of X (a category), one bar
// per series within it, at the mean of the rows sharing them; with Band,
// whiskers from their min to their max.
func bars(p *plot.Plot, t *table.Cells, s Spec) error {
	b, err := barValues(t, s)
	if err != nil {
		return err
	}
	// series named by the categories themselves (--x model --series
	// model, for a colour per model): one bar per category, centred
	own := s.Series == s.X
	width := vg.Points(math.Max(4, 200/float64(len(b.groups)*len(b.names))))
	if own {
		width = vg.Points(math.Max(4, 200/float64(len(b.groups))))
	}
	for k, name := range b.names {
		// gonum draws no NaN bars; a missing value is an empty bar
		vals := plotter.Values(b.mean[k])
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bc.Color = s.colour(name, b.names)
		bc.LineStyle.Width = 0
		if !own {
			bc.Offset = vg.Length(float64(k)-float64(len(b.names)-1)/2) * width
		}
		p.Add(bc)
		if s.Band {
			p.Add(&whiskers{lo: b.lo[k], hi: b.hi[k], n: b.n[k], offset: bc.Offset, cap: width / 3})
		}
		if name != "" {
			p.Legend.Add(name, bc)
		}
	}
	p.NominalX(b.groups...)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return nil
}

// whiskers draw a vertical line from lo to hi over bar g (x = g, shifted by
// the bar's offset), with caps, where the bar has more than one row.
type whiskers struct {
	lo, hi      []float64
	n           []int
	offset, cap vg.Length
}

func (w *whiskers) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	for g := range w.lo {
		if w.n[g] < 2 {
			continue
		}
		x := trX(float64(g)) + w.offset
		lo, hi := trY(w.lo[g]), trY(w.hi[g])
		c.StrokeLine2(ls, x, lo, x, hi)
		c.StrokeLine2(ls, x-w.cap, lo, x+w.cap, lo)
		c.StrokeLine2(ls, x-w.cap, hi, x+w.cap, hi)
	}
}

// DataRange makes the axes hold the whiskers' ends.
func (w *whiskers) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = math.Inf(1), math.Inf(-1)
	for g := range w.lo {
		if w.n[g] > 0 {
			ymin, ymax = math.Min(ymin, w.lo[g]), math.Max(ymax, w.hi[g])
		}
	}
	if math.IsInf(ymin, 1) { // no bar: nothing to hold
		return 0, 0, 0, 0
	}
	return 0, float64(len(w.lo) - 1), ymin, ymax
}

// scatter draws a point per row, coloured by series, with an optional text
// label beside it (Fig. 1: parameters against accuracy, one label per model).
func scatter(p *plot.Plot, t *table.Cells, s Spec) error {
	xs, ys, ser, names, err := xySeries(t, s)
	if err != nil {
		return err
	}
	var labels []string
	if s.Label != "" {
		if labels, err = t.Strings(s.Label, "label"); err != nil {
			return err
		}
	}
	p.Add(plotter.NewGrid())
	var all plotter.XYs
	var texts []string
	for _, name := range names {
		var pts plotter.XYs
		for i := range xs {
			if ser[i] == name && !math.IsNaN(xs[i]) && !math.IsNaN(ys[i]) {
				pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
				if labels != nil {
					all = append(all, plotter.XY{X: xs[i], Y: ys[i]})
					texts = append(texts, labels[i])
				}
			}
		}
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.Color = s.colour(name, names)
		sc.Shape = plotutil.Shape(s.index(name, names))
		sc.Radius = vg.Points(3)
		p.Add(sc)
		if name != "" {
			p.Legend.Add(name, sc)
		}
	}
	if len(texts) > 0 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: all, Labels: texts})
		if err != nil {
			return err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = 0.1, -0.5
		}
		p.Add(l)
	}
	p.Legend.Top = true
	return nil
}

// fitLine draws the least-squares line of y on x over every point of the
// scatter, on s.Fit's axes, as a dashed curve across the points' x range.
func fitLine(p *plot.Plot, t *table.Cells, s Spec) error {
	xs, ys, _, _, err := xySeries(t, s)
	if err != nil {
		return err
	}
	pts, err := fitPoints(xs, ys, s.Fit)
	if err != nil {
		return err
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color, line.Dashes = color.Gray{Y: 96}, []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("fit (%s)", s.Fit), line)
	return nil
}

// fitPoints are 101 points of the line fitted by least squares to (xs,
// ys) on fit's axes, across the range of xs.
func fitPoints(xs, ys []float64, fit string) (plotter.XYs, error) {
	to := func(v float64) float64 { return v }
	from := to
	switch fit {
	case "linear":
	case metrics.ScaleLogit, metrics.ScaleProbit:
		to = func(v float64) float64 { return metrics.Scaled(fit, v) }
		from = func(v float64) float64 { return metrics.Unscaled(fit, v) }
		for i := range xs {
			if xs[i] <= 0 || xs[i] >= 100 || ys[i] <= 0 || ys[i] >= 100 {
				return nil, fmt.Errorf("--fit %s: point (%v, %v) is not an accuracy strictly between 0 and 100 percent", fit, xs[i], ys[i])
			}
		}
	default:
		return nil, fmt.Errorf("--fit %q: want linear, logit or probit", fit)
	}
	var fx, fy []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range xs {
		if math.IsNaN(xs[i]) || math.IsNaN(ys[i]) {
			continue
		}
		fx, fy = append(fx, to(xs[i])), append(fy, to(ys[i]))
		lo, hi = math.Min(lo, xs[i]), math.Max(hi, xs[i])
	}
	l, err := metrics.FitLine(fx, fy)
	if err != nil {
		return nil, fmt.Errorf("--fit: %v", err)
	}
	var pts plotter.XYs
	for k := 0; k <= 100; k++ {
		x := lo + (hi-lo)*float64(k)/100
		pts = append(pts, plotter.XY{X: x, Y: from(l.Intercept + l.Slope*to(x))})
	}
	return pts, nil
}

// grid is a heat map's values on the sorted distinct X and Y values.
type grid struct {
	xs, ys []float64
	z      [][]float64 // [row y][col x]
}

func (g grid) Dims() (c, r int)   { return len(g.xs), len(g.ys) }
func (g grid) Z(c, r int) float64 { return g.z[r][c] }
func (g grid) X(c int) float64    { return g.xs[c] }
func (g grid) Y(r int) float64    { return g.ys[r] }

// heat draws Z over the grid of X and Y values (the Fourier heat map: one
// cell per (u, v) frequency).
func heat(p *plot.Plot, t *table.Cells, s Spec) error {
	xs, ys, _, _, err := xySeries(t, Spec{X: s.X, Y: s.Y})
	if err != nil {
		return err
	}
	zs, err := t.Floats(s.Z, "z")
	if err != nil {
		return err
	}
	if err := somethingToDraw(t, s.Z, zs); err != nil {
		return err
	}
	distinct := func(v []float64) ([]float64, map[float64]int) {
		idx := map[float64]int{}
		var out []float64
		for _, x := range v {
			if _, ok := idx[x]; !ok && !math.IsNaN(x) {
				idx[x] = 0
				out = append(out, x)
			}
		}
		sort.Float64s(out)
		for i, x := range out {
			idx[x] = i
		}
		return out, idx
	}
	ux, ix := distinct(xs)
	uy, iy := distinct(ys)
	if len(ux) < 2 || len(uy) < 2 {
		return fmt.Errorf("%s: a heat map needs at least 2 distinct values of %q and of %q", t.Name, s.X, s.Y)
	}
	g := grid{xs: ux, ys: uy, z: make([][]float64, len(uy))}
	for r := range g.z {
		g.z[r] = make([]float64, len(ux))
		for c := range g.z[r] {
			g.z[r][c] = math.NaN()
		}
	}
	for i := range xs {
		if !math.IsNaN(xs[i]) && !math.IsNaN(ys[i]) {
			g.z[iy[ys[i]]][ix[xs[i]]] = zs[i]
		}
	}
	pal := moreland.SmoothBlueRed().Palette(255)
	h := plotter.NewHeatMap(g, pal)
	h.NaN = color.Gray{Y: 230}
	p.Add(h)
	// the colour scale as a legend: its two ends
	lo, hi := h.Min, h.Max
	thumbs := plotter.PaletteThumbnailers(pal)
	p.Legend.Add(strconv.FormatFloat(hi, 'g', 4, 64), thumbs[len(thumbs)-1])
	p.Legend.Add(strconv.FormatFloat(lo, 'g', 4, 64), thumbs[0])
	p.Legend.Top = true
	p.Legend.Left = false
	return nil
}
