package metrics

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// maxPooledValues bounds the distinct values kept per column for the
// message: enough to name them.
const maxPooledValues = 8

// pooling watches the key columns a table neither groups by nor consumes:
// the model and its sidecar columns (a seed, a lesioned copy's drop_n),
// which tell apart the predictions of different models, and conditions
// (a corruption, an eps). One score over two models is never what a user
// asked for, so it is an error; one over several conditions is said.
type pooling struct {
	grouped  map[string]bool
	vals     map[string][]string // column -> distinct values, at most maxPooledValues
	identity map[string]bool     // model columns among them
}

func newPooling(grouped ...string) *pooling {
	p := &pooling{grouped: map[string]bool{stream.ColID: true}, vals: map[string][]string{}, identity: map[string]bool{}}
	for _, g := range grouped {
		p.grouped[g] = true
	}
	return p
}

// add records the values of rec's key columns that are not grouped.
func (p *pooling) add(rec arrow.Record) {
	schema := rec.Schema()
	derived := stream.Derived(schema)
	for _, c := range stream.Key(schema) {
		if p.grouped[c] {
			continue
		}
		ix := schema.FieldIndices(c)
		if len(ix) != 1 {
			continue
		}
		if slices.Contains(derived, c) {
			p.identity[c] = true
		}
		col := rec.Column(ix[0])
		seen := p.vals[c]
		for i := 0; i < col.Len() && len(seen) < maxPooledValues; i++ {
			var v string
			if s, ok := col.(*array.String); ok {
				v = s.Value(i)
			} else {
				v = col.ValueStr(i)
			}
			if !slices.Contains(seen, v) {
				seen = append(seen, v)
			}
		}
		p.vals[c] = seen
	}
}

// check returns the error for pooled models and notes for pooled
// conditions.
func (p *pooling) check() (notes []string, err error) {
	cols := make([]string, 0, len(p.vals))
	for c := range p.vals {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		v := p.vals[c]
		if len(v) < 2 {
			continue
		}
		list := strings.Join(v, ", ")
		if len(v) == maxPooledValues {
			list += ", ..."
		}
		if p.identity[c] {
			return nil, fmt.Errorf("the rows hold %s %s: one score would pool their predictions; add --by %s (or score one at a time)", c, list, c)
		}
		notes = append(notes, fmt.Sprintf("the scores pool the rows of every %s (%s); --by %s scores each apart", c, list, c))
	}
	return notes, nil
}
