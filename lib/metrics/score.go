package metrics

import (
	"errors"
	"fmt"
	"maps"
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
	var result func() ([]Row, error)
	by = append([]string{}, o.By...)
	switch {
	case o.CI.Level > 0 && o.Measure == "reliability":
		return nil, nil, md, nil, fmt.Errorf("--ci: a reliability diagram's bins get no interval; --measure calibration's ECE and RMS error do")
	case o.CI.Level > 0 && o.CI.Method == MethodWilson && o.Measure != "accuracy" && o.Measure != "in9" && o.Measure != "ce":
		return nil, nil, md, nil, fmt.Errorf("--ci-method wilson: the closed form is for accuracies; --measure %s takes the bootstrap", o.Measure)
	}
	units := NewUnits()
	boot := o.CI.Level > 0 && o.CI.Method == MethodBootstrap
	// withCI adds the bootstrap interval of every row, replicate(w)
	// recomputing the rows on a resample
	withCI := func(rows []Row, replicate func(w []float64) ([]Row, error)) ([]Row, error) {
		if !boot {
			return rows, nil
		}
		rows, ciNotes, err := Intervals(rows, o.CI, units, replicate)
		notes = append(notes, ciNotes...)
		return rows, err
	}
	cmp := o.Compare
	if cmp.Col != "" && o.Measure != "accuracy" && o.Measure != "ce" && o.Measure != "in9" {
		return nil, nil, md, nil, fmt.Errorf("--compare: comparisons are computed for --measure accuracy, ce and in9; not yet for %s", o.Measure)
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
		}
		spaces := map[string]bool{} // the models' label spaces, for ce's baseline
		add = func(rec arrow.Record, name string, _ bool) error {
			if s, ok := rec.Schema().Metadata().GetValue(stream.MetaModelLabelSpace); ok {
				spaces[s] = true
			}
			return acc.Add(rec, name)
		}
		result = func() ([]Row, error) {
			rows, err := acc.Rows()
			if err != nil {
				return nil, err
			}
			if len(rows) == 0 && acc.Unlabelled() > 0 {
				return nil, fmt.Errorf("no labelled rows to score: all %d have label -1 (unknown)", acc.Unlabelled())
			}
			if len(rows) == 0 {
				return nil, errors.New("no rows to score: the input streams were empty")
			}
			if n := acc.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			ceBy := by
			finish := func(rows []Row, base map[string]float64) ([]Row, []string, error) {
				if o.Measure != "ce" {
					return rows, nil, nil
				}
				return CE(rows, len(ceBy), base)
			}
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
			rows, ceNotes, err := finish(rows, base)
			if err != nil {
				return nil, err
			}
			for _, n := range ceNotes {
				notes = append(notes, strings.TrimSpace(n))
			}
			if o.Measure == "ce" {
				by = append(by, stream.ColCorruption)
			}
			if cmp.Col != "" {
				col := len(o.By)
				for _, side := range []string{cmp.A, cmp.B} {
					if !slices.ContainsFunc(rows, func(r Row) bool { return r.Group[col] == side }) {
						return nil, fmt.Errorf("--compare: no scored rows have %s %s", cmp.Col, side)
					}
				}
				if err := acc.pairs.check(); err != nil {
					return nil, err
				}
				all := rows
				rows = compared(all, col, cmp)
				by = slices.Delete(by, col, col+1)
				resampled := func(w []float64) ([]Row, error) {
					rows, err := acc.Resample(w)
					if err != nil {
						return nil, err
					}
					if rows, _, err = finish(rows, base); err != nil {
						return nil, err
					}
					return compared(rows, col, cmp), nil
				}
				if o.CI.Level > 0 && o.CI.Method == MethodBootstrap {
					var ciNotes []string
					if rows, ciNotes, err = Intervals(rows, o.CI, units, resampled); err != nil {
						return nil, err
					}
					notes = append(notes, ciNotes...)
				} else if o.CI.Level > 0 {
					return nil, fmt.Errorf("--compare: the difference's interval is a paired bootstrap; --ci-method wilson has none")
				}
				if o.Measure != "ce" {
					rows = acc.mcnemar(rows, cmp)
				}
				return rows, nil
			}
			switch {
			case o.CI.Level > 0 && o.CI.Method == MethodWilson:
				var ciNotes []string
				rows, ciNotes = WilsonIntervals(rows, o.CI.Level)
				notes = append(notes, ciNotes...)
			case o.CI.Level > 0:
				var ciNotes []string
				rows, ciNotes, err = Intervals(rows, o.CI, units, func(w []float64) ([]Row, error) {
					rows, err := acc.Resample(w)
					if err != nil {
						return nil, err
					}
					rows, _, err = finish(rows, base)
					return rows, err
				})
				notes = append(notes, ciNotes...)
			}
			return rows, err
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
		result = func() ([]Row, error) {
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
				return nil, err
			}
			notes = append(notes, fmt.Sprintf("baseline: %s(shifted) = %.4f + %.4f %s(clean), fitted over the %d groups (r² %.3f)", scale, line.Intercept, line.Slope, scale, len(rows)/4, line.R2))
			if n := clean.Unlabelled() + shifted.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			if o.CI.Level > 0 {
				var ciNotes []string
				rows, ciNotes, err = Intervals(rows, o.CI, units, func(w []float64) ([]Row, error) {
					rows, _, err := table(clean.resampled(w), shifted.resampled(w))
					return rows, err
				})
				notes = append(notes, ciNotes...)
			}
			return rows, err
		}
	case "calibration", "reliability":
		cal := NewCalibration(by, o.Subset)
		if boot {
			cal.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return cal.Add(rec, name) }
		result = func() ([]Row, error) {
			if n := cal.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			if o.Measure == "reliability" {
				by = append(by, ColBin)
				return cal.ReliabilityRows()
			}
			rows, calNotes, err := cal.Rows()
			notes = append(notes, calNotes...)
			if err != nil {
				return nil, err
			}
			return withCI(rows, func(w []float64) ([]Row, error) {
				rows, _, err := cal.resampled(w).Rows()
				return rows, err
			})
		}
	case "shape-bias":
		sb := NewShapeBias(by)
		if boot {
			sb.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return sb.Add(rec, name) }
		result = func() ([]Row, error) {
			if n := sb.Unlabelled(); n > 0 {
				notes = append(notes, fmt.Sprintf("%d rows have label -1 (unknown) and are not scored", n))
			}
			rows, sbNotes, err := sb.Rows()
			notes = append(notes, sbNotes...)
			if err != nil {
				return nil, err
			}
			return withCI(rows, func(w []float64) ([]Row, error) {
				rows, _, err := sb.resampled(w).Rows()
				return rows, err
			})
		}
	case "robust":
		rb := NewRobust(by)
		if boot {
			rb.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return rb.Add(rec, name) }
		result = func() ([]Row, error) {
			rows, err := rb.Rows()
			if err != nil {
				return nil, err
			}
			return withCI(rows, func(w []float64) ([]Row, error) { return rb.resampled(w).Rows() })
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
		result = func() ([]Row, error) {
			rows, err := ood.Rows()
			if err != nil {
				return nil, err
			}
			return withCI(rows, func(w []float64) ([]Row, error) { return ood.resampled(w).Rows() })
		}
	case "fp":
		fp := NewFP(by, o.Stride)
		if boot {
			fp.KeepRows(units)
		}
		add = func(rec arrow.Record, name string, _ bool) error { return fp.Add(rec, name) }
		nby := len(by)
		result = func() ([]Row, error) {
			rows, err := fp.Rows()
			if err != nil {
				return nil, err
			}
			if o.FPBase != nil {
				var fpNotes []string
				rows, fpNotes = Normalise(rows, nby, o.FPBase, o.T5Base)
				notes = append(notes, fpNotes...)
			}
			by = append(by, stream.ColPerturbation)
			return withCI(rows, func(w []float64) ([]Row, error) {
				rows, err := fp.resampledRows(w)
				if err == nil && o.FPBase != nil {
					rows, _ = Normalise(rows, nby, o.FPBase, o.T5Base)
				}
				return rows, err
			})
		}
	default:
		return nil, nil, md, nil, fmt.Errorf("measure %q: want accuracy, ce, ood, in9, fp, robust, calibration, reliability, shape-bias or effective", o.Measure)
	}
	// what the measure groups by or reads itself is not pooled
	consumed := map[string][]string{"ce": {stream.ColCorruption, stream.ColSeverity},
		"fp": {stream.ColPerturbation, stream.ColFrame, stream.ColSeq}, "robust": {stream.ColAttack}}[o.Measure]
	pool := newPooling(append(append(slices.Clone(o.By), consumed...), cmp.Col)...)
	u := stream.NewUnique()
	first := true
	err = streams(func(r *stream.Reader, positive bool) error {
		if first && !positive {
			md, first = r.Schema().Metadata(), false
		}
		if err := u.Start(r.Name(), r.Schema()); err != nil {
			return err
		}
		if _, mapped := r.Schema().Metadata().GetValue(stream.MetaClassGroups); mapped && o.Measure != "accuracy" {
			return fmt.Errorf("%s: is class-mapped (lk-data --class-map): its labels stand for groups of classes, which only --measure accuracy scores", r.Name())
		}
		for r.Next() {
			if !o.AllowDuplicates {
				if err := u.Add(r.Record()); err != nil {
					return err
				}
			}
			if err := add(r.Record(), r.Name(), positive); err != nil {
				return err
			}
			if !positive {
				pool.add(r.Record())
			}
		}
		return r.Err()
	})
	if err != nil {
		return nil, nil, md, nil, err
	}
	poolNotes, err := pool.check()
	if err != nil {
		return nil, nil, md, nil, err
	}
	rows, err = result()
	if err == nil && len(rows) == 0 { // every measure: an empty table is no answer
		err = errors.New("no rows to score: the input streams were empty")
	}
	return by, rows, md, append(notes, poolNotes...), err
}
