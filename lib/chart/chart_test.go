package chart

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"gonum.org/v1/plot/cmpimg"
	"gonum.org/v1/plot/vg"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
	"github.com/lk-robustness/lk/lib/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/plot")

// frame writes a table stream and reads it back as a Table.
func frame(t *testing.T, f *table.Frame) *table.Cells {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf, "arrow", arrow.Metadata{}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.NewReader(&buf, "test")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := table.ReadCells(r)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// A long-form lk-metrics table becomes one row per group with a column per
// metric; a row lacking a metric has an empty cell, read as NaN.
func TestPivot(t *testing.T) {
	rows := []metrics.Row{
		{Group: []string{"a", "0.1"}, Metric: "top1", Value: 90, N: 10},
		{Group: []string{"a", "0.1"}, Metric: "top5", Value: 99, N: 10},
		{Group: []string{"b", "0.1"}, Metric: "top1", Value: 80, N: 10},
		{Group: []string{"b", "gap"}, Metric: "bg_gap", Value: 3, N: 10},
	}
	var buf bytes.Buffer
	if err := table.Write(&buf, "arrow", []string{"model", "x"}, rows, arrow.Metadata{}); err != nil {
		t.Fatal(err)
	}
	r, _ := stream.NewReader(&buf, "long")
	tb, err := table.ReadCells(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tb.Names, ",") != "model,x,top1,top5,bg_gap" || tb.Rows() != 3 {
		t.Fatalf("columns %v, %d rows", tb.Names, tb.Rows())
	}
	top5, err := tb.Floats("top5", "y")
	if err != nil || top5[0] != 99 || !math.IsNaN(top5[1]) {
		t.Errorf("top5 %v %v", top5, err)
	}
	if _, err := tb.Floats("model", "y"); err == nil || !strings.Contains(err.Error(), `row 0, column "model" (the y column): "a" is not a number`) {
		t.Errorf("text as number: %v", err)
	}
	if _, err := tb.Floats("acc", "y"); err == nil || !strings.Contains(err.Error(), `no column "acc" for the y column (columns: model, x, top1, top5, bg_gap)`) {
		t.Errorf("missing column: %v", err)
	}
	w, err := tb.Where([]string{"model=b"})
	if err != nil || w.Rows() != 2 {
		t.Errorf("where: %v %v", w, err)
	}
}

func sample(t *testing.T) *table.Cells {
	f := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "drop_n", Type: table.Int},
		table.Column{Name: "sample", Type: table.Int}, table.Column{Name: "top1", Type: table.Float})
	for _, m := range []string{"lk31", "resnet"} {
		for n := 0; n <= 4; n++ {
			for s := 0; s < 3; s++ {
				base := 90.0 - 12*float64(n)
				if m == "lk31" {
					base = 90 - 5*float64(n)
				}
				f.Add(m, n, s, base+float64(s-1)*float64(n))
			}
		}
	}
	return frame(t, f)
}

// Golden images (regenerate with go test ./lib/chart -update): the same
// tables drawn the same way, within cmpimg's colour tolerance.
func TestGolden(t *testing.T) {
	heatT := table.NewFrame(table.Column{Name: "fu", Type: table.Int}, table.Column{Name: "fv", Type: table.Int}, table.Column{Name: "top1", Type: table.Float})
	for u := -4; u < 4; u++ {
		for v := -4; v < 4; v++ {
			heatT.Add(u, v, 90-2*math.Hypot(float64(u), float64(v)))
		}
	}
	cases := []struct {
		name string
		tb   *table.Cells
		spec Spec
	}{
		{"line_band", sample(t), Spec{Kind: "line", X: "drop_n", Y: "top1", Series: "model", Band: true, Title: "lesion"}},
		{"bar", sample(t), Spec{Kind: "bar", X: "drop_n", Y: "top1", Series: "model"}},
		{"bar_band", sample(t), Spec{Kind: "bar", X: "drop_n", Y: "top1", Series: "model", Band: true}},
		{"scatter", sample(t), Spec{Kind: "scatter", X: "drop_n", Y: "top1", Series: "model", Label: "sample"}},
		{"heatmap", frame(t, heatT), Spec{Kind: "heatmap", X: "fv", Y: "fu", Z: "top1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Plot(c.tb, c.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := filepath.Join(t.TempDir(), c.name+".png")
			if err := Save(p, 12*vg.Centimeter, 8*vg.Centimeter, got); err != nil {
				t.Fatal(err)
			}
			golden := testutil.Path(t, "testdata", "plot", c.name+".png")
			a, _ := os.ReadFile(got)
			if *update {
				os.WriteFile(golden, a, 0o644)
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := cmpimg.EqualApprox("png", a, b, 0.05); err != nil || !ok {
				t.Errorf("%s differs from %s (%v); look at both, then regenerate with -update if the change is wanted", got, golden, err)
			}
		})
	}
	if _, err := Plot(sample(t), Spec{Kind: "pie", X: "drop_n", Y: "top1"}); err == nil {
		t.Error("pie accepted")
	}
	if err := CheckFormat("fig.jpeg"); err == nil {
		t.Error("jpeg accepted")
	}
}

// A montage shows each image at its place: a white, a black and a grey
// image side by side keep their colours at their cells' centres.
func TestMontage(t *testing.T) {
	sh := stream.Shape{C: 1, H: 8, W: 8}
	px := make([]float32, 3*64)
	for i := 0; i < 64; i++ {
		px[i], px[64+i], px[128+i] = 1, 0, 0.5
	}
	var buf bytes.Buffer
	schema := stream.ImageSchema(sh, arrow.Metadata{})
	w, _ := stream.NewWriter(&buf, schema)
	ib := array.NewStringBuilder(memory.DefaultAllocator)
	ib.AppendValues([]string{"white", "black", "grey"}, nil)
	lb := array.NewInt32Builder(memory.DefaultAllocator)
	lb.AppendValues([]int32{-1, -1, -1}, nil)
	rec := array.NewRecord(schema, []arrow.Array{ib.NewArray(), lb.NewArray(), stream.Float32List(px, 64)}, 3)
	w.Write(rec)
	w.Close()
	r, _ := stream.NewReader(&buf, "imgs")
	out := filepath.Join(t.TempDir(), "m.png")
	cell := 2 * vg.Centimeter
	if err := Montage(r, MontageSpec{Limit: 10, Cols: 3, Cell: cell}, out); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// layout: 4 pt padding, cells of 2 cm, at the resolution that makes
	// the PNG MinPNGWidth pixels wide
	widthPt := 3*(float64(cell)+4) + 4
	dpi := float64(img.Bounds().Dx()) / widthPt
	if img.Bounds().Dx() < MinPNGWidth {
		t.Errorf("montage %d pixels wide, want at least %d", img.Bounds().Dx(), MinPNGWidth)
	}
	centre := func(k int) image.Point {
		x := (4 + float64(k)*(float64(cell)+4) + float64(cell)/2) * dpi
		y := (4 + float64(cell)/2) * dpi
		return image.Pt(int(x), int(y))
	}
	for k, want := range []uint32{0xffff, 0, 0x8080} {
		p := centre(k)
		g, _, _, _ := img.At(p.X, p.Y).RGBA()
		if d := int(g) - int(want); d > 0x300 || d < -0x300 {
			t.Errorf("cell %d at %v: grey %#x, want %#x", k, p, g, want)
		}
	}
}

// --per-image shows every row of the first ids whatever the order: rows
// of two images interleaved (a, b, a, b) give a's two in the first row.
func TestMontagePerImage(t *testing.T) {
	sh := stream.Shape{C: 1, H: 4, W: 4}
	px := make([]float32, 4*16)
	for i := 0; i < 16; i++ {
		px[i], px[16+i], px[32+i], px[48+i] = 1, 0, 1, 0 // a white, b black
	}
	var buf bytes.Buffer
	schema := stream.ImageSchema(sh, arrow.Metadata{})
	w, _ := stream.NewWriter(&buf, schema)
	ib := array.NewStringBuilder(memory.DefaultAllocator)
	ib.AppendValues([]string{"a", "b", "a", "b"}, nil)
	lb := array.NewInt32Builder(memory.DefaultAllocator)
	lb.AppendValues([]int32{0, 0, 0, 0}, nil)
	w.Write(array.NewRecord(schema, []arrow.Array{ib.NewArray(), lb.NewArray(), stream.Float32List(px, 16)}, 4))
	w.Close()
	r, _ := stream.NewReader(&buf, "imgs")
	out := filepath.Join(t.TempDir(), "m.png")
	cell := 2 * vg.Centimeter
	if err := Montage(r, MontageSpec{Limit: 10, PerImage: 1, Cols: 8, Cell: cell}, out); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	img, _ := png.Decode(f)
	f.Close()
	widthPt := 2*(float64(cell)+4) + 4 // two cells: a's two images, nothing of b
	scale := float64(img.Bounds().Dx()) / widthPt
	for k := 0; k < 2; k++ {
		x := (4 + float64(k)*(float64(cell)+4) + float64(cell)/2) * scale
		y := (4 + float64(cell)/2) * scale
		if g, _, _, _ := img.At(int(x), int(y)).RGBA(); g < 0xf000 {
			t.Errorf("cell %d: grey %#x, want a's white", k, g)
		}
	}
	if h := float64(img.Bounds().Dy()) / scale; h > float64(cell)+30 {
		t.Errorf("montage %v pt high: more than one row", h)
	}
}

func TestJoin(t *testing.T) {
	a := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "parameters", Type: table.Int})
	a.Add("lk31", 205192)
	a.Add("vit", 142000)
	b := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "top1", Type: table.Float})
	b.Add("vit", 84.46)
	b.Add("lk31", 91.69)
	ta := frame(t, a)
	if err := ta.Join(frame(t, b), "model"); err != nil {
		t.Fatal(err)
	}
	top1, _ := ta.Floats("top1", "--y")
	if top1[0] != 91.69 || top1[1] != 84.46 {
		t.Errorf("joined top1 %v, want [91.69 84.46]", top1)
	}
	if err := ta.Join(frame(t, b), "model"); err == nil || !strings.Contains(err.Error(), `both have a column "top1"`) {
		t.Errorf("second join: %v", err)
	}
}

func TestMinus(t *testing.T) {
	tb := sample(t)
	base := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "top1", Type: table.Float})
	base.Add("lk31", 90.0)
	base.Add("resnet", 91.0)
	if err := tb.Minus(frame(t, base), "top1", []string{"model"}); err != nil {
		t.Fatal(err)
	}
	y, _ := tb.Floats("top1", "--y")
	m, _ := tb.Strings("model", "")
	// sample(): lk31 at drop_n 0 is 90 + (s-1)*0 = 90, resnet 90 as well
	if m[0] != "lk31" || y[0] != 0 || m[15] != "resnet" || y[15] != -1 {
		t.Errorf("after minus: %s %v, %s %v", m[0], y[0], m[15], y[15])
	}
	short := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "top1", Type: table.Float})
	short.Add("lk31", 90.0)
	if err := sample(t).Minus(frame(t, short), "top1", []string{"model"}); err == nil || !strings.Contains(err.Error(), `no row with model "resnet"`) {
		t.Errorf("missing key: %v", err)
	}
	// one clean accuracy per (model, sample): each sample's own is
	// subtracted, and keying on the model alone is refused, not resolved
	// to whichever row came last
	per := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "sample", Type: table.Int}, table.Column{Name: "top1", Type: table.Float})
	for _, m := range []string{"lk31", "resnet"} {
		for s := 0; s < 3; s++ {
			per.Add(m, s, 100.0+float64(s))
		}
	}
	if err := sample(t).Minus(frame(t, per), "top1", []string{"model"}); err == nil || !strings.Contains(err.Error(), `model "lk31" is on more than one row`) {
		t.Errorf("ambiguous key: %v", err)
	}
	tb = sample(t)
	if err := tb.Minus(frame(t, per), "top1", []string{"model", "sample"}); err != nil {
		t.Fatal(err)
	}
	y, _ = tb.Floats("top1", "--y")
	// row 2: lk31, drop_n 0, sample 2: 90 - 102; row 29: resnet, drop_n 4, sample 2: 90-48+4 - 102
	if y[2] != -12 || y[29] != -56 {
		t.Errorf("after minus by model,sample: %v %v, want -12 -56", y[2], y[29])
	}
	// values with commas in them: ("a,b", "c") and ("a", "b,c") are two keys
	two := func() *table.Frame {
		f := table.NewFrame(table.Column{Name: "k1", Type: table.String}, table.Column{Name: "k2", Type: table.String}, table.Column{Name: "top1", Type: table.Float})
		f.Add("a,b", "c", 10.0)
		f.Add("a", "b,c", 20.0)
		return f
	}
	tc := frame(t, two())
	if err := tc.Minus(frame(t, two()), "top1", []string{"k1", "k2"}); err != nil {
		t.Fatalf("keys with commas: %v", err)
	}
	if y, _ := tc.Floats("top1", "--y"); y[0] != 0 || y[1] != 0 {
		t.Errorf("keys with commas: %v, want [0 0]", y)
	}
}

// A series listed in SeriesOrder keeps its colour and marker whatever the
// figure shows; the others follow the listed ones in their order.
func TestSeriesOrder(t *testing.T) {
	s := Spec{SeriesOrder: []string{"resnet", "lk3", "lk31"}}
	names := []string{"lk31", "vit", "zeta"} // a figure without resnet and lk3
	for name, want := range map[string]int{"lk31": 2, "vit": 3, "zeta": 4} {
		if got := s.index(name, names); got != want {
			t.Errorf("%s: index %d, want %d", name, got, want)
		}
	}
	if s.colour("lk31", names) != OkabeIto[2] || s.colour("lk31", []string{"lk31"}) != OkabeIto[2] {
		t.Error("lk31's colour depends on the other series")
	}
	// the legend lists them in that order too, the unlisted ones after
	all := []string{"alpha", "lk3", "lk31", "resnet", "vit"}
	got := s.ordered(all)
	if !slices.Equal(got, []string{"resnet", "lk3", "lk31", "alpha", "vit"}) {
		t.Errorf("legend order %v", got)
	}
	for _, n := range all {
		if s.index(n, got) != s.index(n, all) {
			t.Errorf("%s changes colour with the legend order", n)
		}
	}
}

// Bars of rows that share a series and a category (three lesion samples
// here: base-n, base, base+n) stand at their mean, with their min and max
// for the whiskers; never at one of them.
func TestBarsAverageSharedRows(t *testing.T) {
	b, err := barValues(sample(t), Spec{Kind: "bar", X: "drop_n", Y: "top1", Series: "model"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.groups, []string{"0", "1", "2", "3", "4"}) || len(b.names) != 2 {
		t.Fatalf("groups %v, series %v", b.groups, b.names)
	}
	// --x model with --series-order: the categories in that order
	m, err := barValues(sample(t), Spec{Kind: "bar", X: "model", Y: "top1", Series: "model", SeriesOrder: []string{"resnet", "lk31"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.groups, []string{"resnet", "lk31"}) || !slices.Equal(m.names, m.groups) || m.mean[0][0] != 90-12*2 || m.mean[1][1] != 90-5*2 {
		t.Errorf("groups %v, series %v, means %v", m.groups, m.names, m.mean)
	}
	for k, name := range b.names {
		for g := range b.groups {
			n := float64(g)
			base := 90 - 12*n
			if name == "lk31" {
				base = 90 - 5*n
			}
			if b.mean[k][g] != base || b.lo[k][g] != base-n || b.hi[k][g] != base+n || b.n[k][g] != 3 {
				t.Errorf("%s drop_n %d: mean %v min %v max %v n %d, want %v %v %v 3", name, g, b.mean[k][g], b.lo[k][g], b.hi[k][g], b.n[k][g], base, base-n, base+n)
			}
		}
	}
}

// A figure never hides a bad value: a NaN or an infinity in a plotted
// column is an error naming its row (a line would join across it, a bar
// average the rest, a heat map break its colour axis), and a column with
// no value at all is not drawn as an empty figure.
func TestNonFiniteValuesRefused(t *testing.T) {
	table3 := func(vals ...float64) *table.Cells {
		f := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "x", Type: table.Int},
			table.Column{Name: "y", Type: table.Int}, table.Column{Name: "v", Type: table.Float})
		for i, v := range vals {
			f.Add("m", i, i%2, v)
		}
		return frame(t, f)
	}
	for _, c := range []struct {
		name string
		tb   *table.Cells
		spec Spec
		want string
	}{
		{"NaN on a line", table3(1, math.NaN(), 3), Spec{Kind: "line", X: "x", Y: "v", Series: "model"}, "row 1, column \"v\" (the y column): NaN is not a finite number"},
		{"NaN in a bar", table3(1, 2, math.NaN()), Spec{Kind: "bar", X: "model", Y: "v"}, "row 2, column \"v\""},
		{"-Inf in a heat map", table3(1, math.Inf(-1), 3), Spec{Kind: "heatmap", X: "x", Y: "y", Z: "v"}, "-Inf is not a finite number"},
		{"+Inf on a scatter", table3(math.Inf(1), 2), Spec{Kind: "scatter", X: "x", Y: "v"}, "+Inf is not a finite number"},
	} {
		if _, err := Plot(c.tb, c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// Ten thousand series (22 GB and killed, before) are refused up front.
func TestTooManySeries(t *testing.T) {
	f := table.NewFrame(table.Column{Name: "model", Type: table.String}, table.Column{Name: "x", Type: table.Int},
		table.Column{Name: "v", Type: table.Float})
	for i := 0; i < 10000; i++ {
		f.Add(fmt.Sprint("m", i), 1, 1.0)
	}
	for _, kind := range []string{"bar", "line", "scatter"} {
		spec := Spec{Kind: kind, X: "x", Y: "v", Series: "model"}
		if kind == "bar" {
			spec.X = "model"
			spec.Series = "model"
		}
		if _, err := Plot(frame(t, f), spec); err == nil || !strings.Contains(err.Error(), "10000 values of the series model; a figure shows at most 100") {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// --fit logit draws the curve through points that lie on one logit line
// (y = 1/(1+exp(-(0.5 + 0.8 logit x)))), and refuses a point at 100%.
func TestScatterFitLogit(t *testing.T) {
	f := table.NewFrame(table.Column{Name: "clean", Type: table.Float}, table.Column{Name: "shifted", Type: table.Float})
	on := func(x float64) float64 { return 100 / (1 + math.Exp(-(0.5 + 0.8*math.Log(x/(100-x))))) }
	for _, x := range []float64{60, 75, 85, 92} {
		f.Add(x, on(x))
	}
	if _, err := Plot(frame(t, f), Spec{Kind: "scatter", X: "clean", Y: "shifted", Fit: "logit"}); err != nil {
		t.Fatal(err)
	}
	xs := []float64{60, 75, 85, 92}
	var ys []float64
	for _, x := range xs {
		ys = append(ys, on(x))
	}
	pts, err := fitPoints(xs, ys, "logit")
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range pts {
		if math.Abs(pt.Y-on(pt.X)) > 1e-9 {
			t.Fatalf("the fitted curve at %v is %v, the line's %v", pt.X, pt.Y, on(pt.X))
		}
	}
	if pts[0].X != 60 || pts[len(pts)-1].X != 92 {
		t.Errorf("the curve spans %v-%v, the points 60-92", pts[0].X, pts[len(pts)-1].X)
	}
	f.Add(100.0, 50.0)
	if _, err := Plot(frame(t, f), Spec{Kind: "scatter", X: "clean", Y: "shifted", Fit: "logit"}); err == nil || !strings.Contains(err.Error(), "strictly between 0 and 100") {
		t.Errorf("a point at 100%%: %v", err)
	}
}
