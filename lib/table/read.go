package table

import (
	"fmt"
	"os"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// ReadMetric reads a long-form table file (group columns, metric, value)
// and returns, per value of column col, the value of the rows whose
// metric is metric: one model's table, so each col value appears once.
func ReadMetric(path, col, metric string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := stream.NewReader(f, path)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	s := r.Schema()
	ci, mi, vi := s.FieldIndices(col), s.FieldIndices(stream.ColMetric), s.FieldIndices(stream.ColValue)
	if len(ci) != 1 || len(mi) != 1 || len(vi) != 1 {
		return nil, fmt.Errorf("%s: not a long table with columns %s, metric, value", path, col)
	}
	out := map[string]float64{}
	for r.Next() {
		rec := r.Record()
		cs, ok1 := rec.Column(ci[0]).(*array.String)
		ms, ok2 := rec.Column(mi[0]).(*array.String)
		vs, ok3 := rec.Column(vi[0]).(*array.Float64)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("%s: columns %s and metric must be utf8 and value float64", path, col)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if ms.Value(i) != metric {
				continue
			}
			c := cs.Value(i)
			if _, dup := out[c]; dup {
				return nil, fmt.Errorf("%s: several values for %s (one model per table)", path, c)
			}
			out[c] = vs.Value(i)
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no %s rows", path, metric)
	}
	return out, nil
}
