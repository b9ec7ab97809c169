package metrics

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
)

// Options say what Score computes.
type Options struct {
	Measure string // accuracy, ce, in9, ood, fp, robust, calibration, reliability or shape-bias
	By      []string
	Subset  *imagenet.Subset
	Stride  int // fp: the frame stride
	// CEBase are the baseline's errors per corruption for ce (nil:
	// AlexNet's); FPBase and T5Base a baseline's flip probabilities and
	// top-5 distances per perturbation for fp (nil: none).
	CEBase, FPBase, T5Base map[string]float64
	// AllowDuplicates scores rows whose key occurs more than once.
	AllowDuplicates bool
	// CI asks for confidence intervals (CI.Level 0: none).
	CI CI
	// Compare asks for a paired comparison (Compare.Col "": none).
	Compare Compare
	// Scale is effective robustness's axis: ScaleLogit or ScaleProbit.
	Scale string
	// Where keeps the inputs' rows that meet every condition (not those
	// of the positive streams: --positive, --clean).
	Where []Where
	// Over summarises the table over one of By's columns (training
	// seeds; see Over); intervals are then those of the means.
	Over string
}

// Streams hands each input stream to fn, the out-of-distribution ones of
// ood (positive true) first.
type Streams func(fn func(r *stream.Reader, positive bool) error) error

// Score reads every stream once and returns the table: its grouping
// columns, its rows, the metadata of the first input that is not a
// positive, and notes for the user (what could not be computed and why).
// A row key seen twice across the streams is an error (a
// *stream.DuplicateError) naming it and both streams, unless
// AllowDuplicates.
func Score(o Options, streams Streams) (by []string, rows []Row, md arrow.Metadata, notes []string, err error) {
	var add func(rec arrow.Record, name string, positive bool) error
	// result computes the table and rep, which recomputes it on a
	// resample with unit weights w (for the bootstrap); tested, if set,
	// adds tests (McNemar's) after the intervals.
	var result func() (rows []Row, rep func(w []float64) ([]Row, error), err error)
	var tested func(rows []Row) []Row
	by = append([]string{}, o.By...)
	switch {
	case o.CI.Level > 0 && o.Measure == "reliability":
		return nil, nil, md, nil, fmt.Errorf("--ci: a reliability diagram's bins get no interval; --measure calibration's ECE and RMS error do")
	case o.CI.Level > 0 && o.CI.Method == MethodWilson && o.Measure != "accuracy" && o.Measure != "in9" && o.Measure != "ce":
		return nil, nil, md, nil, fmt.Errorf("--ci-method wilson: the closed form is for accuracies; --measure %s takes the bootstrap", o.Measure)
	case o.CI.Level > 0 && o.CI.Method == MethodWilson && o.Over != "":
		return nil, nil, md, nil, fmt.Errorf("--ci-method wilson with --over: a mean over %s values is not one proportion; the bootstrap gives its interval", o.Over)
	case o.CI.Level > 0 && o.CI.Method == MethodWilson && o.Compare.Col != "":
		return nil, nil, md, nil, fmt.Errorf("--compare: the difference's interval is a paired bootstrap; --ci-method wilson has none")
	}
	if o.Over != "" && !slices.Contains(o.By, o.Over) {
		return nil, nil, md, nil, fmt.Errorf("--over %s: not among the grouping columns (%s)", o.Over, strings.Join(o.By, ", "))
	}
	units := NewUnits()
	boot := o.CI.Level > 0 && o.CI.Method == MethodBootstrap
	cmp := o.Compare
	// pairing records the rows each side of a comparison has by key:
	// accuracies keep their outcomes (for McNemar); other measures only
	// the keys, read below
	var pairing *pairs
	switch {
	case cmp.Col != "" && (o.Measure == "reliability" || o.Measure == "effective"):
		return nil, nil, md, nil, fmt.Errorf("--compare: --measure %s has no paired comparison (a diagram's bins; a line fitted over all models)", o.Measure)
	case cmp.Col != "" && o.Measure == "robust":
		return nil, nil, md, nil, fmt.Errorf("--compare: --measure robust's stages are attacks on each model's own inputs, not shared rows; compare the models' --measure accuracy on the adversarial streams")
	case cmp.Col != "" && o.Measure != "accuracy" && o.Measure != "ce" && o.Measure != "in9":
		pairing = newPairs(len(o.By), cmp.A, cmp.B)
		pairing.keysOnly = true
	}
	if cmp.Col != "" {
		if slices.Contains(by, cmp.Col) {
			return nil, nil, md, nil, fmt.Errorf("--compare %s: also in --by; the compared column is grouped by already", cmp.Col)
		}
		by = append(by, cmp.Col) // the sides are groups; the output drops the column
	}
	switch o.Measure {
	case "accuracy", "ce", "in9":
		groupBy := by
		if o.Measure == "ce" {
			groupBy = append(append([]string{}, by...), stream.ColCorruption, stream.ColSeverity)
		}
		acc := NewAccuracy(groupBy, o.Subset)
		acc.IN9 = o.Measure == "in9"
		if boot {
			acc.KeepRows(units)
		}
		if cmp.Col != "" {
			acc.pairs = newPairs(len(by)-1, cmp.A, cmp.B)
			pairing = acc.pairs
		}
		spaces := map[string]bool{} // the models' label spaces, for ce's baseline
		add = func(rec arrow.Record, name string, _ bool) error {
			if s, ok := rec.Schema().Metadata().GetValue(stream.MetaModelLabelSpace); ok {
				spaces[s] = true
			}
			return acc.Add(rec, name)
		}
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			rows, err := acc.Rows()
			if err != nil {
				return nil, nil, err
			}
			if len(rows) == 0 && acc.Unlabelled() > 0 {
				return nil, nil, fmt.Errorf("no labelled rows to score: all %d have label -1 (unknown)", acc.Unlabelled())
			}
			if len(rows) == 0 {
				return nil, nil, errors.New("no rows to score: the input streams were empty")
			}
			if n := acc.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			ceBy := by
			var base map[string]float64 // ce's baseline errors
			if o.Measure == "ce" {
				base = o.CEBase
			}
			if o.Measure == "ce" && base == nil {
				base = robust.AlexNet
				delete(spaces, "imagenet-1k")
				if len(spaces) > 0 {
					notes = append(notes, fmt.Sprintf("CE and mCE divide by AlexNet's ImageNet-C errors (the bundled baseline), but the predictions come from a model of label space %s: give --baseline a table of your own baseline's --measure ce on the same images", strings.Join(slices.Sorted(maps.Keys(spaces)), ", ")))
				}
			}
			// finish turns accuracy rows into the measure's rows
			finish := func(rows []Row) ([]Row, []string, error) {
				if o.Measure != "ce" {
					return rows, nil, nil
				}
				return CE(rows, len(ceBy), base)
			}
			rows, ceNotes, err := finish(rows)
			if err != nil {
				return nil, nil, err
			}
			for _, n := range ceNotes {
				notes = append(notes, strings.TrimSpace(n))
			}
			if o.Measure == "ce" {
				by = append(by, stream.ColCorruption)
			}
			if cmp.Col != "" && o.Measure != "ce" && o.Over == "" {
				tested = func(rows []Row) []Row { return acc.mcnemar(rows, cmp) }
			}
			return rows, func(w []float64) ([]Row, error) {
				rows, err := acc.Resample(w)
				if err != nil {
					return nil, err
				}
				rows, _, err = finish(rows)
				return rows, err
			}, nil
		}
	case "effective":
		clean, shifted := NewAccuracy(by, o.Subset), NewAccuracy(by, o.Subset)
		if o.CI.Level > 0 {
			if o.CI.Method != MethodBootstrap {
				return nil, nil, md, nil, fmt.Errorf("--ci-method %s: effective robustness's interval is a bootstrap", o.CI.Method)
			}
			clean.KeepRows(units)
			shifted.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, positive bool) error {
			if positive {
				units.Stratum(0) // clean images, then the shifted ones not among them
				return clean.Add(rec, name)
			}
			units.Stratum(1)
			return shifted.Add(rec, name)
		}
		scale := cmp2(o.Scale, ScaleLogit)
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			m := Top1
			if o.Subset != nil {
				m = Top1 + "_masked"
			}
			table := func(c, s *Accuracy) ([]Row, Line, error) {
				cr, err := c.Rows()
				if err != nil {
					return nil, Line{}, err
				}
				sr, err := s.Rows()
				if err != nil {
					return nil, Line{}, err
				}
				return effective(cr, sr, m, scale, by)
			}
			rows, line, err := table(clean, shifted)
			if err != nil {
				return nil, nil, err
			}
			sign := "+"
			if line.Slope < 0 {
				sign = "-"
			}
			notes = append(notes, fmt.Sprintf("baseline: %s(shifted) = %.4f %s %.4f %s(clean), fitted over the %d groups (r² %.3f)", scale, line.Intercept, sign, math.Abs(line.Slope), scale, len(rows)/4, line.R2))
			if n := clean.Unlabelled() + shifted.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			return rows, func(w []float64) ([]Row, error) {
				rows, _, err := table(clean.resampled(w), shifted.resampled(w))
				return rows, err
			}, nil
		}
	case "calibration", "reliability":
		cal := NewCalibration(by, o.Subset)
		if boot {
			cal.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return cal.Add(rec, name) }
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			if n := cal.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			if o.Measure == "reliability" {
				by = append(by, ColBin)
				rows, err := cal.ReliabilityRows()
				return rows, nil, err
			}
			rows, calNotes, err := cal.Rows()
			notes = append(notes, calNotes...)
			return rows, func(w []float64) ([]Row, error) {
				rows, _, err := cal.resampled(w).Rows()
				return rows, err
			}, err
		}
	case "shape-bias":
		sb := NewShapeBias(by)
		if boot {
			sb.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return sb.Add(rec, name) }
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			if n := sb.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			rows, sbNotes, err := sb.Rows()
			notes = append(notes, sbNotes...)
			return rows, func(w []float64) ([]Row, error) {
				rows, _, err := sb.resampled(w).Rows()
				return rows, err
			}, err
		}
	case "robust":
		rb := NewRobust(by)
		if boot {
			rb.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return rb.Add(rec, name) }
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			rows, err := rb.Rows()
			return rows, func(w []float64) ([]Row, error) { return rb.resampled(w).Rows() }, err
		}
	case "ood":
		ood := NewOOD(by, o.Subset)
		if boot {
			ood.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, positive bool) error {
			units.Stratum(map[bool]int{true: 0, false: 1}[positive]) // out- and in-distribution images apart
			return ood.Add(rec, name, positive)
		}
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			rows, err := ood.Rows()
			return rows, func(w []float64) ([]Row, error) { return ood.resampled(w).Rows() }, err
		}
	case "fp":
		fp := NewFP(by, o.Stride)
		if boot {
			fp.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return fp.Add(rec, name) }
		nby := len(by)
		result = func() ([]Row, func([]float64) ([]Row, error), error) {
			rows, err := fp.Rows()
			if err != nil {
				return nil, nil, err
			}
			if o.FPBase != nil {
				var fpNotes []string
				rows, fpNotes = Normalise(rows, nby, o.FPBase, o.T5Base)
				notes = append(notes, fpNotes...)
			}
			by = append(by, stream.ColPerturbation)
			return rows, func(w []float64) ([]Row, error) {
				rows, err := fp.resampledRows(w)
				if err == nil && o.FPBase != nil {
					rows, _ = Normalise(rows, nby, o.FPBase, o.T5Base)
				}
				return rows, err
			}, nil
		}
	default:
		return nil, nil, md, nil, fmt.Errorf("measure %q: want accuracy, ce, ood, in9, fp, robust, calibration, reliability, shape-bias or effective", o.Measure)
	}
	// what the measure groups by or reads itself is not pooled
	consumed := map[string][]string{"ce": {stream.ColCorruption, stream.ColSeverity},
		"fp": {stream.ColPerturbation, stream.ColFrame, stream.ColSeq}, "robust": {stream.ColAttack}}[o.Measure]
	pool := newPooling(append(append(slices.Clone(o.By), consumed...), cmp.Col)...)
	u, uPos := stream.NewUnique(), stream.NewUnique()
	if o.Measure != "effective" {
		uPos = u // an image both in- and out-of-distribution is an error; effective's clean and shifted sets may share images
	}
	unique := func(positive bool) *stream.Unique {
		if positive {
			return uPos
		}
		return u
	}
	var sel *selector
	if len(o.Where) > 0 {
		sel = newSelector(o.Where)
	}
	scoreRecord := func(rec arrow.Record, name string, positive bool) error {
		if !o.AllowDuplicates {
			if err := unique(positive).Add(rec); err != nil {
				return err
			}
		}
		if err := add(rec, name, positive); err != nil {
			return err
		}
		if pairing != nil && pairing.keysOnly {
			if err := pairing.addRecord(rec, name, by); err != nil {
				return err
			}
		}
		if !positive {
			pool.add(rec)
		}
		return nil
	}
	first := true
	err = streams(func(r *stream.Reader, positive bool) error {
		if first && !positive {
			md, first = r.Schema().Metadata(), false
		}
		if err := unique(positive).Start(r.Name(), r.Schema()); err != nil {
			return err
		}
		if _, mapped := r.Schema().Metadata().GetValue(stream.MetaClassGroups); mapped && o.Measure != "accuracy" {
			return fmt.Errorf("%s: is class-mapped (lk-data --class-map): its labels stand for groups of classes, which only --measure accuracy scores", r.Name())
		}
		for r.Next() {
			recs := []arrow.Record{r.Record()}
			if sel != nil && !positive {
				var err error
				if recs, err = sel.keep(r.Record(), r.Name()); err != nil {
					return err
				}
			}
			for _, rec := range recs {
				if err := scoreRecord(rec, r.Name(), positive); err != nil {
					return err
				}
				if rec != r.Record() {
					rec.Release()
				}
			}
		}
		return r.Err()
	})
	if err != nil {
		return nil, nil, md, nil, err
	}
	if sel != nil {
		if err := sel.check(); err != nil {
			return nil, nil, md, nil, err
		}
	}
	poolNotes, err := pool.check()
	if err != nil {
		return nil, nil, md, nil, err
	}
	rows, rep, err := result()
	if err == nil && len(rows) == 0 { // every measure: an empty table is no answer
		err = errors.New("no rows to score: the input streams were empty")
	}
	if err != nil {
		return nil, nil, md, nil, err
	}
	notes = append(notes, poolNotes...)
	if cmp.Col != "" { // the comparison: the sides' rows become A, B and A - B
		col := len(o.By)
		for _, side := range []string{cmp.A, cmp.B} {
			if !slices.ContainsFunc(rows, func(r Row) bool { return r.Group[col] == side }) {
				return nil, nil, md, nil, fmt.Errorf("--compare: no scored rows have %s %s", cmp.Col, side)
			}
		}
		if err := pairing.check(); err != nil {
			return nil, nil, md, nil, err
		}
		rows = compared(rows, col, cmp)
		by = slices.Delete(by, col, col+1)
		rep = then(rep, func(rows []Row) ([]Row, error) { return compared(rows, col, cmp), nil })
		if o.Over != "" && (o.Measure == "accuracy" || o.Measure == "in9") {
			notes = append(notes, fmt.Sprintf("--compare with --over %s: the difference is a mean over %s values and has no McNemar test; its interval (--ci) is the paired bootstrap", o.Over, o.Over))
		}
	}
	// the summary over a column (training seeds), then the intervals of
	// what is shown: with --over, of the means, each replicate's rows
	// summarised as the table's were
	var means []Row // the rows that get an interval
	if o.Over != "" {
		metricNames := map[string]bool{}
		for _, r := range rows {
			metricNames[r.Metric] = true
		}
		at := by
		var overNotes []string
		if by, rows, overNotes, err = Over(at, rows, o.Over); err != nil {
			return nil, nil, md, nil, err
		}
		notes = append(notes, overNotes...)
		rep = then(rep, func(rows []Row) ([]Row, error) {
			_, rows, _, err := Over(at, rows, o.Over)
			return rows, err
		})
		means = overMeans(rows, metricNames)
	}
	var ciNotes []string
	switch {
	case o.CI.Level > 0 && o.CI.Method == MethodWilson:
		rows, ciNotes = WilsonIntervals(rows, o.CI.Level)
	case boot && means != nil:
		var iv []Row
		if iv, ciNotes, err = Intervals(means, o.CI, units, rep); err == nil {
			rows = mergeIntervals(rows, means, iv)
		}
	case boot:
		rows, ciNotes, err = Intervals(rows, o.CI, units, rep)
	}
	if err != nil {
		return nil, nil, md, nil, err
	}
	notes = append(notes, ciNotes...)
	if tested != nil {
		rows = tested(rows)
	}
	return by, rows, md, notes, nil
}

// then is replicate rep followed by step on its rows: a replicate
// recomputes the table the way the table itself was made (nil stays nil).
func then(rep func(w []float64) ([]Row, error), step func([]Row) ([]Row, error)) func(w []float64) ([]Row, error) {
	if rep == nil {
		return nil
	}
	return func(w []float64) ([]Row, error) {
		rows, err := rep(w)
		if err != nil {
			return nil, err
		}
		return step(rows)
	}
}
