package metrics

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
)

// FP scores perturbation sequences (ImageNet-P): per group and
// perturbation, the flip probability and the top-5 distance, each
// averaged within a sequence, then over sequences. Frames pair with the
// first (noise perturbations: names containing "noise") or with the frame
// Stride before. Only each frame's top five classes are kept, so memory
// grows with the number of frames, not of classes.
type FP struct {
	By     []string
	Stride int
	seqs   map[string]map[string]map[int64][]int // group+perturbation -> seq -> frame -> top-5
	keys   map[string][]string
	units  *Units // non-nil: sequences are resampled (by seq, the image they come from)
	stat   map[string][]seqStat
}

// seqStat is one sequence's flip probability and top-5 distance.
type seqStat struct {
	seq    string
	fp, t5 float64
}

// KeepRows resamples by sequence (units in u).
func (f *FP) KeepRows(u *Units) { f.units = u }

// NewFP groups by the named columns.
func NewFP(by []string, stride int) *FP {
	return &FP{By: by, Stride: stride, seqs: map[string]map[string]map[int64][]int{}, keys: map[string][]string{}}
}

// Add accumulates a record of predictions on a sequence stream (columns
// perturbation, seq, frame).
func (f *FP) Add(rec arrow.Record, name string) error {
	s := rec.Schema()
	lcol, k, err := stream.Logits(s)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	get := func(col string) (arrow.Array, error) {
		idx := s.FieldIndices(col)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%s: no column %s; flip probability needs sequences (perturbed frames, as lk-corrupt's perturbations or ImageNet-P give)", name, col)
		}
		return rec.Column(idx[0]), nil
	}
	pc, err := get(stream.ColPerturbation)
	if err != nil {
		return err
	}
	sc, err := get(stream.ColSeq)
	if err != nil {
		return err
	}
	fc, err := get(stream.ColFrame)
	if err != nil {
		return err
	}
	frames, ok := fc.(*array.Int64)
	if !ok {
		return fmt.Errorf("%s: column frame is %s, want int64", name, fc.DataType())
	}
	cols, err := byColumns(rec, f.By, name)
	if err != nil {
		return err
	}
	vals, _, err := stream.Float32Rows(rec.Column(lcol))
	if err != nil {
		return fmt.Errorf("%s: column logits: %v", name, err)
	}
	key := make([]string, len(f.By)+1)
	for i := 0; i < int(rec.NumRows()); i++ {
		for j, c := range cols {
			key[j] = c.ValueStr(i)
		}
		key[len(f.By)] = pc.ValueStr(i)
		g := strings.Join(key, "\x00")
		if _, ok := f.seqs[g]; !ok {
			f.seqs[g] = map[string]map[int64][]int{}
			f.keys[g] = append([]string{}, key...)
		}
		seq := sc.ValueStr(i)
		if f.seqs[g][seq] == nil {
			f.seqs[g][seq] = map[int64][]int{}
		}
		fr := frames.Value(i)
		if _, dup := f.seqs[g][seq][fr]; dup {
			return fmt.Errorf("%s: sequence %s frame %d appears twice", name, seq, fr)
		}
		f.seqs[g][seq][fr] = robust.Top5(vals[i*k : (i+1)*k])
	}
	return nil
}

// Rows returns fp (percent) and t5d per group and perturbation, groups
// sorted; rows carry the number of sequences.
func (f *FP) Rows() ([]Row, error) { return f.rows(nil) }

// resampledRows are the rows had each sequence s been scored w[unit(s)]
// times.
func (f *FP) resampledRows(w []float64) ([]Row, error) { return f.rows(w) }

// rows averages the sequences' statistics, each weighted by w[its unit]
// (nil: 1).
func (f *FP) rows(w []float64) ([]Row, error) {
	if err := f.stats(); err != nil {
		return nil, err
	}
	var gs []string
	for g := range f.stat {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(f.keys[gs[i]], f.keys[gs[j]]) })
	var rows []Row
	for _, g := range gs {
		var fpSum, t5Sum, n float64
		for _, st := range f.stat[g] {
			wt := 1.0
			if w != nil {
				wt = w[f.units.of(st.seq)]
			}
			fpSum += wt * st.fp
			t5Sum += wt * st.t5
			n += wt
		}
		if n == 0 {
			continue // a resample without this group's sequences
		}
		key := f.keys[g]
		rows = append(rows, Row{Group: key, Metric: "fp", Value: 100 * fpSum / n, N: int64(n)}, Row{Group: key, Metric: "t5d", Value: t5Sum / n, N: int64(n)})
	}
	return rows, nil
}

// stats computes every sequence's statistics once, in id order (a float
// sum in map order would change its last bits, and the table's bytes,
// from run to run).
func (f *FP) stats() error {
	if f.stat != nil {
		return nil
	}
	f.stat = map[string][]seqStat{}
	var gs []string // in order: units are numbered as seen, and draws go by number
	for g := range f.seqs {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(f.keys[gs[i]], f.keys[gs[j]]) })
	for _, g := range gs {
		key := f.keys[g]
		noise := strings.Contains(key[len(key)-1], "noise")
		n := 0
		// sequences in id order: a float sum in map order would change its
		// last bits, and the table's bytes, from run to run
		seqs := make([]string, 0, len(f.seqs[g]))
		for seq := range f.seqs[g] {
			seqs = append(seqs, seq)
		}
		sort.Strings(seqs)
		for _, seq := range seqs {
			if f.units != nil {
				f.units.of(seq)
			}
			frames := f.seqs[g][seq]
			idx := make([]int64, 0, len(frames))
			for fr := range frames {
				idx = append(idx, fr)
			}
			sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
			for j, fr := range idx {
				if fr != int64(j) {
					f.stat = nil
					return fmt.Errorf("sequence %s (%s): frame %d missing", seq, key[len(key)-1], j)
				}
			}
			top := make([][]int, len(idx))
			pred := make([]int, len(idx))
			for j := range idx {
				top[j] = frames[int64(j)]
				pred[j] = top[j][0]
			}
			flips, pairs := robust.Flips(pred, noise, f.Stride)
			if pairs == 0 {
				continue
			}
			var dist float64
			robust.Pairs(len(top), noise, f.Stride, func(ref, j int) {
				dist += float64(robust.Top5DistanceLists(top[ref], top[j]))
			})
			f.stat[g] = append(f.stat[g], seqStat{seq: seq, fp: float64(flips) / float64(pairs), t5: dist / float64(pairs)})
			n++
		}
		if n == 0 {
			f.stat = nil
			return fmt.Errorf("group %s: no sequence with two frames", strings.Join(key, ","))
		}
	}
	return nil
}

// Normalise adds, to fp/t5d rows grouped by (by..., perturbation), the
// ratios to a baseline model's (fr and t5d_ratio, percent) and, per group
// of by, mFR and mT5D over the 10 standard perturbations when all are
// there (notes say why not otherwise).
func Normalise(rows []Row, nby int, fpBase, t5Base map[string]float64) (out []Row, notes []string) {
	type acc struct {
		key    []string
		fr, t5 map[string]float64
	}
	groups := map[string]*acc{}
	var order []string
	for _, r := range rows {
		out = append(out, r)
		p := r.Group[nby]
		g := strings.Join(r.Group[:nby], "\x00")
		if groups[g] == nil {
			groups[g] = &acc{key: r.Group[:nby], fr: map[string]float64{}, t5: map[string]float64{}}
			order = append(order, g)
		}
		switch r.Metric {
		case "fp":
			if b, ok := fpBase[p]; ok && b > 0 {
				v := r.Value / 100 / b * 100
				out = append(out, Row{Group: r.Group, Metric: "fr", Value: v, N: r.N})
				groups[g].fr[p] = v
			}
		case "t5d":
			if b, ok := t5Base[p]; ok && b > 0 {
				v := r.Value / 100 / b * 100 // the baseline table's t5d was divided by 100 too
				out = append(out, Row{Group: r.Group, Metric: "t5d_ratio", Value: v, N: r.N})
				groups[g].t5[p] = v
			}
		}
	}
	for _, g := range order {
		a := groups[g]
		for _, m := range []struct {
			name, metric string
			vals         map[string]float64
		}{{"mFR", "fr", a.fr}, {"mT5D", "t5d_ratio", a.t5}} {
			var s float64
			missing := ""
			for _, p := range robust.Perturbations {
				v, ok := m.vals[p]
				if !ok {
					missing = p
					break
				}
				s += v
			}
			if missing != "" {
				notes = append(notes, fmt.Sprintf("%s: no %s: no normalised %s for %s (it needs all 10: %s)", strings.Join(a.key, " "), m.name, m.metric, missing, strings.Join(robust.Perturbations, ", ")))
				continue
			}
			out = append(out, Row{Group: append(append([]string{}, a.key...), m.name), Metric: m.metric, Value: s / float64(len(robust.Perturbations)), N: 0})
		}
	}
	return out, notes
}
