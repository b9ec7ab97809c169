// Package selection keeps the rows of a prediction stream that a rule on
// the predictions selects: ImageNet-A was made by keeping the images a
// ResNet-50 gets wrong, and a twin of it is made the same way. The rows
// are written without the prediction columns, so that other models can be
// run on the selected images.
package selection

import (
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/vec"
)

// Rule selects rows by their top-1 prediction.
type Rule struct {
	Misclassified bool    // keep only rows whose top-1 is not the label
	Correct       bool    // keep only rows whose top-1 is the label
	MinConfidence float64 // keep only rows whose max softmax is at least this
	MaxConfidence float64 // ... and at most this (0: no bound)
}

// Confidence is the largest softmax probability of logits.
func Confidence(logits []float32) (conf float64, top int) {
	m := math.Inf(-1)
	for i, v := range logits {
		if float64(v) > m {
			m, top = float64(v), i
		}
	}
	var z float64
	for _, v := range logits {
		z += vec.Exp(float64(v) - m)
	}
	return 1 / z, top
}

// Keep reports whether a row with these logits and label passes the rule,
// judging right and wrong as lk-metrics scores them (j). A row of unknown
// label (-1) is neither; a label out of the model's classes is an error.
func (r Rule) Keep(logits []float32, label int32, j *metrics.Judge) (bool, error) {
	conf, _ := Confidence(logits)
	if conf < r.MinConfidence || r.MaxConfidence > 0 && conf > r.MaxConfidence {
		return false, nil
	}
	if !r.Misclassified && !r.Correct {
		return true, nil
	}
	if label == -1 {
		return false, nil
	}
	ok, err := j.Correct(logits, int(label))
	if err != nil {
		return false, err
	}
	return ok == r.Correct, nil
}

// Run copies the rows of r that rule keeps to w, without the columns in
// drop (the prediction columns: model, logits and a model's sidecar
// columns). It returns the rows read and kept.
func Run(r *stream.Reader, w io.Writer, rule Rule, drop []string, step stream.Step) (read, kept int64, err error) {
	in := r.Schema()
	lcol, k, err := stream.Logits(in)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v (a prediction stream is needed: lk-infer's output)", r.Name(), err)
	}
	idc := in.FieldIndices(stream.ColID)
	if len(idc) != 1 || in.Field(idc[0]).Type.ID() != arrow.STRING {
		return 0, 0, fmt.Errorf("%s: no utf8 column id", r.Name())
	}
	lab := in.FieldIndices(stream.ColLabel)
	if len(lab) != 1 || in.Field(lab[0]).Type.ID() != arrow.INT32 {
		return 0, 0, fmt.Errorf("%s: no int32 column label", r.Name())
	}
	judge, err := metrics.NewJudge(in, k)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v", r.Name(), err)
	}
	gone := map[string]bool{}
	for _, d := range drop {
		if !in.HasField(d) {
			return 0, 0, fmt.Errorf("%s: no column %q to drop (columns: %s)", r.Name(), d, names(in))
		}
		gone[d] = true
	}
	var dropped []string
	for _, f := range in.Fields() {
		if gone[f.Name] {
			dropped = append(dropped, f.Name)
		}
	}
	md := stream.WithoutMeta(in.Metadata(), stream.MetaRows)
	if md, err = stream.AddStep(md, step); err != nil {
		return 0, 0, err
	}
	out, keepCols := stream.Without(in, md, dropped...)
	wr, err := stream.NewWriter(w, out)
	if err != nil {
		return 0, 0, err
	}
	for r.Next() {
		rec := r.Record()
		logits, _, err := stream.Float32Rows(rec.Column(lcol))
		if err != nil {
			return read, kept, fmt.Errorf("%s: column logits: %v", r.Name(), err)
		}
		labels := rec.Column(lab[0]).(*array.Int32)
		if err := model.CheckFinite(logits, k, "logits"); err != nil {
			ids := rec.Column(idc[0]).(*array.String)
			return read, kept, fmt.Errorf("%s: %v", r.Name(), model.AtRow(err, modelName(rec), func(i int) string { return ids.Value(i) }))
		}
		read += rec.NumRows()
		keep := make([]bool, rec.NumRows())
		for i := range keep {
			if keep[i], err = rule.Keep(logits[i*k:(i+1)*k], labels.Value(i), judge); err != nil {
				ids := rec.Column(idc[0]).(*array.String)
				return read, kept, fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err)
			}
		}
		for _, run := range stream.Runs(rec, func(i int) bool { return keep[i] }) {
			cols := make([]arrow.Array, len(keepCols))
			for j, c := range keepCols {
				cols[j] = run.Column(c)
			}
			sub := array.NewRecord(out, cols, run.NumRows())
			err := wr.Write(sub)
			kept += run.NumRows()
			sub.Release()
			run.Release()
			if err != nil {
				return read, kept, err
			}
		}
	}
	if err := r.Err(); err != nil {
		return read, kept, err
	}
	return read, kept, wr.Close()
}

func names(s *arrow.Schema) string {
	var out string
	for i, f := range s.Fields() {
		if i > 0 {
			out += ", "
		}
		out += f.Name
	}
	return out
}

// modelName is the model column's first value, for messages.
func modelName(rec arrow.Record) string {
	if idx := rec.Schema().FieldIndices(stream.ColModel); len(idx) == 1 && rec.NumRows() > 0 {
		if c, ok := rec.Column(idx[0]).(*array.String); ok {
			return c.Value(0)
		}
	}
	return "(unnamed)"
}
