// Command lk-plot draws figures from lk's streams with gonum/plot: from
// table streams (lk-metrics, lk-attn-dist, lk-featvar, lk-summary) lines
// with series and a min/max band, grouped bars, labelled scatters and heat
// maps; from image streams a labelled montage. The output file's
// extension picks the format (png, svg, pdf, eps); axis labels are the
// column names unless given.
//
//	lk-metrics --by model,drop_n preds-*.arrow | lk-plot --kind line --x drop_n --y top1 --series model --band -o fig7.png
//	lk-metrics --by model,benchmark ... | lk-plot --kind bar --x benchmark --y top1 --series model -o fig2.svg
//	lk-attn-dist --model lk31.onnx | lk-plot --kind line --x position --y score --series layer -o fig9.pdf
//	lk-corrupt --corruptions all < x.arrow | lk-plot --kind montage --label corruption,severity -o corruptions.png
package main

import (
	"errors"
	"io"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/lk-robustness/lk/lib/chart"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
)

// maxCm bounds a figure's sides: a poster is about 100 cm, and the
// rasteriser's buffers grow with the area.
const maxCm = 500.0

func main() { cli.Main("lk-plot", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	defer func() { err = flagNames(err) }()
	fs := cli.NewFlags("lk-plot", "usage: lk-plot --kind KIND -o FILE [flags] [stream.arrow ...]\n\n", stderr)
	var s chart.Spec
	fs.StringVar(&s.Kind, "kind", "line", "line, bar, scatter, heatmap (table streams) or montage (image streams)")
	out := fs.String("o", "", "output `file`; its extension picks the format: png, svg, pdf, eps (required)")
	fs.StringVar(&s.X, "x", "", "x column (bar: the categories)")
	fs.StringVar(&s.Y, "y", "", "y column")
	fs.StringVar(&s.Z, "z", "", "heatmap: the value column")
	fs.StringVar(&s.Series, "series", "", "column whose values make separate lines, bars or colours (a list: one per combination, e.g. stage,block)")
	fs.BoolVar(&s.Band, "band", false, "line: shade the min-max range of the rows sharing a series and x (e.g. lesion samples, a model's seeds); the line is their mean. bar: whiskers from their min to their max (bars always stand at the mean)")
	fs.StringVar(&s.Fit, "fit", "", "scatter: draw the least-squares line of y on x over all points: linear, or logit or probit for accuracies in percent (effective robustness's baseline)")
	fs.BoolVar(&s.Diagonal, "diagonal", false, "line, scatter: draw the line y = x (perfect calibration in a reliability diagram)")
	fs.StringVar(&s.Title, "title", "", "title")
	fs.StringVar(&s.XLabel, "xlabel", "", "x axis label (default: the column name)")
	fs.StringVar(&s.YLabel, "ylabel", "", "y axis label (default: the column name)")
	join := fs.String("join", "", "join the input tables on this column instead of stacking them (e.g. model: lk-summary's parameters beside lk-metrics' top1)")
	minus := fs.String("minus", "", "table `file` whose --y value, per --series value, is subtracted (e.g. clean accuracy per model: plots the drop)")
	minusBy := fs.String("minus-by", "", "`columns` (comma-separated) that match --minus's rows to the plotted ones (default: the --series columns; e.g. model,seed when the tables hold several seeds)")
	var where, labels cli.Strings
	fs.Var(&where, "where", "keep rows with column=value, a list (all must hold)")
	fs.Var(&labels, "label", "scatter: the column labelling each point; montage: the columns labelling each image (default id)")
	var width, cell, height float64
	cli.FloatVar(fs, &width, "width", 12, "figure width in cm")
	cli.FloatVar(fs, &cell, "cell", 2.5, "montage: the side of one image in cm")
	cli.FloatVar(fs, &height, "height", 8, "figure height in cm")
	limit := fs.Int("limit", 24, "montage: images shown, the first of the stream (with --per-image: per image)")
	perImage := fs.Int("per-image", 0, "montage: show every row of the first `N` images (ids), one block of rows per image, whatever the stream's order (19 corruptions of one image: --per-image 1 --limit 19)")
	var order cli.Strings
	fs.Var(&order, "series-order", "series values in the order of the legend that gives each its colour and marker, a list (e.g. the models): one colour per model in every figure")
	ncols := fs.Int("cols", 8, "montage: images per row")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return cli.Usage("-o FILE is required (png, svg, pdf or eps)")
	}
	if err := stream.CheckNotInput(*out, fs.Args(), stdin); err != nil {
		return err
	}
	if err := chart.CheckFormat(*out); err != nil {
		return cli.Usage("%v", err)
	}
	if width <= 0 || height <= 0 || cell <= 0 || width > maxCm || height > maxCm || cell > maxCm {
		return cli.Usage("--width, --height and --cell must be > 0 and at most %g cm", maxCm)
	}
	if s.Kind == "montage" {
		if *limit <= 0 {
			return cli.Usage("--limit must be > 0")
		}
		if fs.NArg() > 1 {
			return cli.Usage("montage: one image stream")
		}
		if *perImage < 0 {
			return cli.Usage("--per-image %d: want a positive number of images", *perImage)
		}
		ms := chart.MontageSpec{Labels: labels, Limit: *limit, PerImage: *perImage, Cols: *ncols, Cell: vg.Length(cell) * vg.Centimeter, Title: s.Title}
		return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return chart.Montage(r, ms, *out) })
	}
	if *perImage != 0 {
		return cli.Usage("--per-image is for --kind montage")
	}
	s.SeriesOrder = order
	if len(labels) > 1 {
		return cli.Usage("--label: one column for a scatter")
	}
	if len(labels) == 1 {
		s.Label = labels[0]
	}
	if s.X == "" || s.Y == "" || s.Kind == "heatmap" && s.Z == "" {
		return cli.Usage("--kind %s needs --x and --y%s", s.Kind, map[bool]string{true: " and --z"}[s.Kind == "heatmap"])
	}
	for _, c := range where {
		if !strings.Contains(c, "=") {
			return cli.Usage("--where %q: want column=value", c)
		}
	}
	var t *table.Cells
	err = cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
		u, err := table.ReadCells(r)
		if err != nil {
			return err
		}
		if t == nil {
			t = u
			return nil
		}
		if *join != "" {
			return t.Join(u, *join)
		}
		return t.Append(u)
	})
	if err != nil {
		return err
	}
	if len(where) > 0 {
		if t, err = t.Where(where); err != nil {
			return err
		}
	}
	if *minus != "" {
		key := *minusBy
		if key == "" {
			key = s.Series
		}
		if key == "" {
			return cli.Usage("--minus needs --series or --minus-by: the columns matching its rows")
		}
		err := cli.Inputs([]string{*minus}, stdin, func(r *stream.Reader) error {
			base, err := table.ReadCells(r)
			if err != nil {
				return err
			}
			return t.Minus(base, s.Y, strings.Split(key, ","))
		})
		if err != nil {
			return err
		}
	}
	p, err := chart.Plot(t, s)
	if err != nil {
		return err
	}
	return chart.Save(p, vg.Length(width)*vg.Centimeter, vg.Length(height)*vg.Centimeter, *out)
}

// flagNames says which flag named a column the table lacks (or whose cell
// is not a number): lib/chart speaks of the spec's roles.
func flagNames(err error) error {
	var ce *table.ColumnError
	if !errors.As(err, &ce) {
		return err
	}
	flag := map[string]string{"x categories": "--x (categories)", "minus key": "--minus (its --minus-by or --series columns)"}[ce.Role]
	if flag == "" {
		flag = "--" + ce.Role
	}
	return errors.New(ce.Describe(flag))
}
