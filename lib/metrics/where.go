package metrics

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/stream"
)

// Where keeps the rows whose column Col holds one of Values: one
// condition of a sweep (a severity, an ImageNet-9 variant). Numbers
// compare as numbers, so 0.50 matches 0.5.
type Where struct {
	Col    string
	Values []string
}

// ParseWhere reads COL=VALUE[,VALUE...].
func ParseWhere(s string) (Where, error) {
	col, vals, ok := strings.Cut(s, "=")
	if !ok || col == "" || vals == "" {
		return Where{}, fmt.Errorf("%q: want COL=VALUE[,VALUE...], e.g. variant=mixed_rand or severity=5", s)
	}
	return Where{Col: col, Values: strings.Split(vals, ",")}, nil
}

func (w Where) String() string { return w.Col + "=" + strings.Join(w.Values, ",") }

// holds reports whether v is one of w's values.
func (w Where) holds(v string) bool {
	for _, x := range w.Values {
		if x == v {
			return true
		}
		a, errA := strconv.ParseFloat(x, 64)
		b, errB := strconv.ParseFloat(v, 64)
		if errA == nil && errB == nil && a == b {
			return true
		}
	}
	return false
}

// selector applies conditions to records and remembers what it saw, so
// that a condition no row met is an error naming the values there were.
type selector struct {
	where   []Where
	matched []bool
	seen    []map[string]bool
}

func newSelector(where []Where) *selector {
	s := &selector{where: where, matched: make([]bool, len(where)), seen: make([]map[string]bool, len(where))}
	for i := range s.seen {
		s.seen[i] = map[string]bool{}
	}
	return s
}

// keep returns the runs of rec's rows that meet every condition (rec
// itself when all do); the caller releases runs that are not rec.
func (s *selector) keep(rec arrow.Record, name string) ([]arrow.Record, error) {
	cols := make([]arrow.Array, len(s.where))
	for j, w := range s.where {
		idx := rec.Schema().FieldIndices(w.Col)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%s: --where %s: no such column (columns: %s)", name, w, fieldNames(rec.Schema()))
		}
		cols[j] = rec.Column(idx[0])
	}
	n := int(rec.NumRows())
	keep := make([]bool, n)
	all := true
	for i := range keep {
		keep[i] = true
		for j, w := range s.where {
			v := ""
			if !cols[j].IsNull(i) {
				v = cols[j].ValueStr(i)
			}
			if len(s.seen[j]) < 50 {
				s.seen[j][v] = true
			}
			if w.holds(v) {
				s.matched[j] = true
			} else {
				keep[i] = false
			}
		}
		all = all && keep[i]
	}
	if all {
		return []arrow.Record{rec}, nil
	}
	return stream.Runs(rec, func(i int) bool { return keep[i] }), nil
}

// check refuses a condition that no row met.
func (s *selector) check() error {
	for j, w := range s.where {
		if !s.matched[j] {
			return fmt.Errorf("--where %s: no row of the inputs has it (%s holds: %s)", w, w.Col, strings.Join(slices.Sorted(maps.Keys(s.seen[j])), ", "))
		}
	}
	return nil
}
