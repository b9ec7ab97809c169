package metrics

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/stream"
)

// synth is a prediction stream of rows with per-row logits and any
// extra utf8/int64 columns.
type synth struct {
	cols   []arrow.Field
	k      int
	ids    []string
	labels []int32
	extra  [][]any
	logits []float32
	key    []string // lk.key, if not the default
}

func (s *synth) add(id string, label int32, logits []float32, extra ...any) {
	s.ids, s.labels = append(s.ids, id), append(s.labels, label)
	s.logits = append(s.logits, logits...)
	s.extra = append(s.extra, extra)
}

// bytes writes the rows, row i repeated times(i) times.
func (s *synth) bytes(t *testing.T, times func(i int) int) []byte {
	fields := append([]arrow.Field{{Name: stream.ColID, Type: arrow.BinaryTypes.String}, {Name: stream.ColLabel, Type: arrow.PrimitiveTypes.Int32}}, s.cols...)
	fields = append(fields, stream.LogitsField(s.k))
	var md *arrow.Metadata
	if s.key != nil {
		m := arrow.NewMetadata([]string{stream.MetaKey}, []string{strings.Join(s.key, ",")})
		md = &m
	}
	schema := arrow.NewSchema(fields, md)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var logits []float32
	n := 0
	for i := range s.ids {
		for r := 0; r < times(i); r++ {
			n++
			b.Field(0).(*array.StringBuilder).Append(s.ids[i])
			b.Field(1).(*array.Int32Builder).Append(s.labels[i])
			for j, v := range s.extra[i] {
				switch x := v.(type) {
				case string:
					b.Field(2 + j).(*array.StringBuilder).Append(x)
				case int64:
					b.Field(2 + j).(*array.Int64Builder).Append(x)
				}
			}
			logits = append(logits, s.logits[i*s.k:(i+1)*s.k]...)
		}
	}
	cols := make([]arrow.Array, len(fields))
	for i := 0; i < len(fields)-1; i++ {
		cols[i] = b.Field(i).NewArray()
	}
	cols[len(fields)-1] = stream.Float32List(logits, s.k)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(array.NewRecord(schema, cols, int64(n))); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// logits3 are 3-class logits whose top class is top, with a margin that
// varies with i (so confidences spread over the calibration bins).
func logits3(top, i int) []float32 {
	l := []float32{0, 0, 0}
	l[top] = 0.2 + float32((i*37)%100)/25
	return l
}

func scoreBytes(t *testing.T, o Options, data ...[]byte) []Row {
	_, rows, _, _, err := Score(o, func(fn func(*stream.Reader, bool) error) error {
		for i, d := range data {
			r, err := stream.NewReader(bytes.NewReader(d), "s")
			if err != nil {
				return err
			}
			if err := fn(r, len(data) == 2 && i == 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A bootstrap replicate of every measure equals the measure computed
// normally on a stream in which each image's rows are repeated as many
// times as the replicate drew it: the resampling replays what a
// resampled data set would give, whatever each measure keeps.
func TestReplicateEqualsRepeatedRows(t *testing.T) {
	acc := &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}}}
	robustS := &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}, {Name: stream.ColAttack, Type: arrow.BinaryTypes.String}, {Name: stream.ColBrokenBy, Type: arrow.BinaryTypes.String}}}
	sb := &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}, {Name: stream.ColTexture, Type: arrow.PrimitiveTypes.Int64}}}
	in, out := &synth{k: 3, cols: acc.cols}, &synth{k: 3, cols: acc.cols}
	stages := []string{stream.Clean, "apgd-ce", "apgd-t", "square", stream.NotBroken}
	for _, m := range []string{"a", "b"} {
		for i := 0; i < 120; i++ {
			id := fmt.Sprintf("img%03d", i)
			label := int32(i % 3)
			top := int(label)
			if (i*7+len(m))%10 < 3 {
				top = (top + 1) % 3
			}
			acc.add(id, label, logits3(top, i), m)
			in.add(id, label, logits3(top, i), m)
			by := stages[(i*11+len(m))%5]
			rt := int(label)
			if by != stream.NotBroken {
				rt = (rt + 1) % 3
			}
			robustS.add(id, label, logits3(rt, i), m, "autoattack", by)
			sb.add(id, label, logits3(top, i), m, int64((i/3)%3))
		}
		for j := 0; j < 80; j++ {
			out.add(fmt.Sprintf("ood%03d", j), -1, logits3(j%3, j*3), m)
		}
	}
	for _, c := range []struct {
		measure string
		s       []*synth
	}{
		{"accuracy", []*synth{acc}}, {"calibration", []*synth{acc}}, {"robust", []*synth{robustS}},
		{"shape-bias", []*synth{sb}}, {"ood", []*synth{out, in}},
	} {
		t.Run(c.measure, func(t *testing.T) {
			o := Options{Measure: c.measure, By: []string{stream.ColModel}, CI: CI{Level: 95, Resamples: 100, Seed: 9, Method: MethodBootstrap}}
			// the replicates' weights, as Intervals draws them
			u := NewUnits()
			for si, s := range c.s {
				u.Stratum(map[bool]int{true: 0, false: 1}[len(c.s) == 2 && si == 0])
				for _, id := range s.ids {
					u.of(id)
				}
			}
			for _, seed := range []uint64{9, 10, 37} {
				w := make([]float64, u.Len())
				u.drawFrom(u.strata(), w, seed, 0)
				var data []([]byte)
				for _, s := range c.s {
					data = append(data, s.bytes(t, func(i int) int { return int(w[u.index[s.ids[i]]]) }))
				}
				want := scoreBytes(t, Options{Measure: c.measure, By: o.By, AllowDuplicates: true}, data...)
				var orig []([]byte)
				for _, s := range c.s {
					orig = append(orig, s.bytes(t, func(int) int { return 1 }))
				}
				o.CI.Seed, o.CI.Resamples = seed, 1 // one replicate: its interval is its value
				got := map[string]float64{}
				for _, row := range scoreBytes(t, o, orig...) {
					if m, ok := strings.CutSuffix(row.Metric, "_lo"); ok {
						got[strings.Join(row.Group, ",")+"/"+m] = row.Value
					}
				}
				wm := map[string]float64{}
				for _, row := range want {
					wm[strings.Join(row.Group, ",")+"/"+row.Metric] = row.Value
				}
				if len(got) != len(wm) {
					t.Fatalf("seed %d: %d rows, the repeated stream's %d", seed, len(got), len(wm))
				}
				for k, v := range got {
					if math.Abs(v-wm[k]) > 1e-9*math.Max(1, math.Abs(v)) {
						t.Errorf("seed %d %s: %v, the repeated stream gives %v", seed, k, v, wm[k])
					}
				}
				if c.measure == "robust" { // no paired comparison (see Score)
					continue
				}
				// the paired comparison's replicate: a's minus b's on the same draw
				oc := o
				oc.By, oc.Compare = nil, Compare{Col: stream.ColModel, A: "a", B: "b"}
				n := 0
				for _, row := range scoreBytes(t, oc, orig...) {
					m, ok := strings.CutSuffix(row.Metric, ".diff_lo")
					if !ok {
						continue
					}
					n++
					if want := wm["a/"+m] - wm["b/"+m]; math.Abs(row.Value-want) > 1e-9*math.Max(1, math.Abs(want)) {
						t.Errorf("seed %d %s: paired replicate %v, the repeated streams' difference %v", seed, row.Metric, row.Value, want)
					}
				}
				if n == 0 {
					t.Errorf("seed %d: no paired intervals", seed)
				}
			}
		})
	}
}

// The same for flip probability, whose unit is the sequence: a sequence
// drawn k times is k sequences of the same frames.
func TestReplicateEqualsRepeatedSequences(t *testing.T) {
	cols := []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}, {Name: stream.ColPerturbation, Type: arrow.BinaryTypes.String},
		{Name: stream.ColSeq, Type: arrow.BinaryTypes.String}, {Name: stream.ColFrame, Type: arrow.PrimitiveTypes.Int64}}
	type frame struct {
		m, p, seq string
		fr        int64
		logits    []float32
	}
	var frames []frame
	var seqs []string
	for s := 0; s < 30; s++ {
		seqs = append(seqs, fmt.Sprintf("s%02d", s))
	}
	for _, m := range []string{"a", "b"} {
		for _, p := range []string{"gaussian_noise", "translate"} {
			for s, seq := range seqs {
				for fr := int64(0); fr < 6; fr++ {
					top := (s + int(fr)*((s+len(m)+len(p))%3)) % 3
					frames = append(frames, frame{m, p, seq, fr, logits3(top, s+int(fr))})
				}
			}
		}
	}
	build := func(copies func(seq string) int) []byte {
		x := &synth{k: 3, cols: cols}
		for _, f := range frames {
			for c := 0; c < copies(f.seq); c++ {
				seq := fmt.Sprintf("%s#%d", f.seq, c)
				x.add(fmt.Sprintf("%s/%d", seq, f.fr), 0, f.logits, f.m, f.p, seq, f.fr)
			}
		}
		return x.bytes(t, func(int) int { return 1 })
	}
	o := Options{Measure: "fp", By: []string{stream.ColModel}, Stride: 1, CI: CI{Level: 95, Resamples: 1, Method: MethodBootstrap}}
	u := NewUnits()
	for _, s := range seqs {
		u.of(s + "#0") // the order stats() numbers them: sorted
	}
	for _, seed := range []uint64{3, 4} {
		w := make([]float64, u.Len())
		u.drawFrom(u.strata(), w, seed, 0)
		want := map[string]float64{}
		for _, r := range scoreBytes(t, Options{Measure: "fp", By: o.By, Stride: 1}, build(func(seq string) int { return int(w[u.index[seq+"#0"]]) })) {
			want[strings.Join(r.Group, ",")+"/"+r.Metric] = r.Value
		}
		o.CI.Seed = seed
		n := 0
		for _, r := range scoreBytes(t, o, build(func(string) int { return 1 })) {
			if m, ok := strings.CutSuffix(r.Metric, "_lo"); ok {
				n++
				k := strings.Join(r.Group, ",") + "/" + m
				if math.Abs(r.Value-want[k]) > 1e-9*math.Max(1, math.Abs(r.Value)) {
					t.Errorf("seed %d %s: %v, the repeated sequences give %v", seed, k, r.Value, want[k])
				}
			}
		}
		if n != 8 {
			t.Errorf("seed %d: %d intervals, want 8 (2 models x 2 perturbations x fp, t5d)", seed, n)
		}
		oc := o
		oc.By, oc.Compare = nil, Compare{Col: stream.ColModel, A: "a", B: "b"}
		n = 0
		for _, r := range scoreBytes(t, oc, build(func(string) int { return 1 })) {
			if m, ok := strings.CutSuffix(r.Metric, ".diff_lo"); ok {
				n++
				p := strings.Join(r.Group, ",")
				if d := want["a,"+p+"/"+m] - want["b,"+p+"/"+m]; math.Abs(r.Value-d) > 1e-9*math.Max(1, math.Abs(d)) {
					t.Errorf("seed %d %s %s: paired replicate %v, the repeated sequences' difference %v", seed, p, r.Metric, r.Value, d)
				}
			}
		}
		if n != 4 {
			t.Errorf("seed %d: %d paired intervals, want 4 (2 perturbations x fp, t5d)", seed, n)
		}
	}
}

// With Over (training seeds), a replicate of a mean is the mean over the
// seeds of each seed's score on the same resampled images (one draw for
// all seeds: they share the test set), and a paired comparison's
// difference is the mean over seeds of the per-seed differences; only
// the means get intervals.
func TestReplicateOverSeeds(t *testing.T) {
	s := &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}, {Name: "seed", Type: arrow.BinaryTypes.String}},
		key: []string{stream.ColID, stream.ColModel, "seed"}} // as lk-infer keys a sidecar's columns
	models, seeds := []string{"a", "b"}, []string{"0", "1", "2"}
	for _, m := range models {
		for si, sd := range seeds {
			for i := 0; i < 90; i++ {
				label := int32(i % 3)
				top := int(label)
				if (i*7+len(m)*3+si*5)%10 < 3+si {
					top = (top + 1) % 3
				}
				s.add(fmt.Sprintf("img%03d", i), label, logits3(top, i), m, sd)
			}
		}
	}
	u := NewUnits()
	for _, id := range s.ids {
		u.of(id)
	}
	for _, seed := range []uint64{5, 6} {
		w := make([]float64, u.Len())
		u.drawFrom(u.strata(), w, seed, 0)
		// per model and seed, top-1 on the stream each image repeated as drawn
		per := map[string]float64{}
		for _, r := range scoreBytes(t, Options{Measure: "accuracy", By: []string{stream.ColModel, "seed"}, AllowDuplicates: true},
			s.bytes(t, func(i int) int { return int(w[u.index[s.ids[i]]]) })) {
			if r.Metric == Top1 {
				per[r.Group[0]+"/"+r.Group[1]] = r.Value
			}
		}
		mean := func(m string) float64 {
			v := 0.0
			for _, sd := range seeds {
				v += per[m+"/"+sd]
			}
			return v / float64(len(seeds))
		}
		ci := CI{Level: 95, Resamples: 1, Seed: seed, Method: MethodBootstrap}
		by := []string{stream.ColModel, "seed"}
		got := map[string]float64{}
		for _, r := range scoreBytes(t, Options{Measure: "accuracy", By: by, Over: "seed", CI: ci}, s.bytes(t, func(int) int { return 1 })) {
			got[strings.Join(r.Group, ",")+"/"+r.Metric] = r.Value
		}
		for _, m := range models {
			if v := got[m+"/top1_lo"]; math.Abs(v-mean(m)) > 1e-9 {
				t.Errorf("seed %d model %s: top1_lo %v, the seeds' mean on the resample %v", seed, m, v, mean(m))
			}
			if _, ok := got[m+"/top1_sd_lo"]; ok {
				t.Errorf("model %s: an interval on the sd over seeds; only means get one", m)
			}
		}
		got = map[string]float64{}
		for _, r := range scoreBytes(t, Options{Measure: "accuracy", By: []string{"seed"}, Over: "seed", CI: ci, Compare: Compare{Col: stream.ColModel, A: "a", B: "b"}}, s.bytes(t, func(int) int { return 1 })) {
			got[r.Metric] = r.Value
		}
		if v, want := got["top1.diff_lo"], mean("a")-mean("b"); math.Abs(v-want) > 1e-9 {
			t.Errorf("seed %d: top1.diff_lo %v, the seeds' mean difference on the resample %v", seed, v, want)
		}
		if _, ok := got["top1.p"]; ok {
			t.Error("a McNemar p-value for a mean over seeds")
		}
	}
}

// A paired comparison of a measure other than accuracy refuses a row on
// one side only, naming it, as accuracy's does.
func TestCompareRefusesUnpairedRows(t *testing.T) {
	in, out := &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}}}, &synth{k: 3, cols: []arrow.Field{{Name: stream.ColModel, Type: arrow.BinaryTypes.String}}}
	for _, m := range []string{"a", "b"} {
		for i := 0; i < 20; i++ {
			if m == "b" && i == 7 {
				continue
			}
			in.add(fmt.Sprintf("img%03d", i), int32(i%3), logits3(i%3, i), m)
			out.add(fmt.Sprintf("ood%03d", i), -1, logits3(i%3, i), m)
		}
	}
	_, _, _, _, err := Score(Options{Measure: "ood", Compare: Compare{Col: stream.ColModel, A: "a", B: "b"}}, func(fn func(*stream.Reader, bool) error) error {
		for i, d := range [][]byte{out.bytes(t, func(int) int { return 1 }), in.bytes(t, func(int) int { return 1 })} {
			r, err := stream.NewReader(bytes.NewReader(d), "s")
			if err != nil {
				return err
			}
			if err := fn(r, i == 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "img007") {
		t.Errorf("an image scored for a only: %v, want an error naming img007", err)
	}
}
