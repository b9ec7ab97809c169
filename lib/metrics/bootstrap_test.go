package metrics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/robust"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// stats are the references testdata/stats/make_stats.py computed with
// scipy and numpy.
type stats struct {
	Accuracy struct {
		Value             float64
		Bootstrap, Wilson []float64
	}
	MCE struct {
		Value     float64
		Bootstrap []float64
	}
	Resamples int
}

func readStats(t *testing.T) stats {
	var s stats
	b, err := os.ReadFile(testutil.Path(t, "testdata", "stats", "intervals.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// row is one prediction of the fixtures: right or wrong among 3 classes.
type row struct {
	id         string
	corruption string
	severity   int64
	right      bool
}

// fixtureStream writes rows as a prediction stream (3 classes; a right
// row has label 0, a wrong one label 1, both with logits 2, 0, 0).
func fixtureStream(t *testing.T, rows []row, conditions bool) []byte {
	models := make([]string, len(rows))
	for i := range models {
		models[i] = "m"
	}
	return fixtureStreamOf(t, rows, models, conditions)
}

func fixtureStreamModels(t *testing.T, rows []row, models []string) []byte {
	return fixtureStreamOf(t, rows, models, false)
}

func fixtureStreamOf(t *testing.T, rows []row, models []string, conditions bool) []byte {
	fields := []arrow.Field{{Name: stream.ColID, Type: arrow.BinaryTypes.String}, {Name: stream.ColLabel, Type: arrow.PrimitiveTypes.Int32}}
	if conditions {
		fields = append(fields, arrow.Field{Name: stream.ColCorruption, Type: arrow.BinaryTypes.String}, arrow.Field{Name: stream.ColSeverity, Type: arrow.PrimitiveTypes.Int64})
	}
	fields = append(fields, arrow.Field{Name: stream.ColModel, Type: arrow.BinaryTypes.String}, stream.LogitsField(3))
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var logits []float32
	for ri, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.id)
		label := int32(1)
		if r.right {
			label = 0
		}
		b.Field(1).(*array.Int32Builder).Append(label)
		j := 2
		if conditions {
			b.Field(2).(*array.StringBuilder).Append(r.corruption)
			b.Field(3).(*array.Int64Builder).Append(r.severity)
			j = 4
		}
		b.Field(j).(*array.StringBuilder).Append(models[ri])
		logits = append(logits, 2, 0, 0)
	}
	cols := make([]arrow.Array, len(fields))
	for i := 0; i < len(fields)-1; i++ {
		cols[i] = b.Field(i).NewArray()
	}
	cols[len(fields)-1] = stream.Float32List(logits, 3)
	rec := array.NewRecord(schema, cols, int64(len(rows)))
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func score(t *testing.T, data []byte, o metrics.Options) map[string]float64 {
	_, rows, _, _, err := metrics.Score(o, func(fn func(*stream.Reader, bool) error) error {
		r, err := stream.NewReader(bytes.NewReader(data), "fixture")
		if err != nil {
			return err
		}
		return fn(r, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, r := range rows {
		out[strings.Join(append(append([]string{}, r.Group...), r.Metric), "/")] = r.Value
	}
	return out
}

func accuracyRows() []row {
	var rows []row
	for i := 0; i < 400; i++ {
		rows = append(rows, row{id: fmt.Sprintf("img%03d", i), right: (37*i)%100 < 80})
	}
	return rows
}

func mceRows() []row {
	var rows []row
	for i := 0; i < 60; i++ {
		for c, name := range robust.Standard {
			for s := int64(1); s <= 5; s++ {
				wrong := i < 20 || s >= 4 && (i+c)%3 == 0
				rows = append(rows, row{id: fmt.Sprintf("img%03d", i), corruption: name, severity: s, right: !wrong})
			}
		}
	}
	return rows
}

// The bootstrap interval of an accuracy agrees with scipy.stats.bootstrap's
// percentile interval and with the Wilson interval (scipy's), within the
// Monte Carlo error of 10,000 resamples; the Wilson form equals scipy's.
func TestAccuracyIntervalsMatchScipy(t *testing.T) {
	ref := readStats(t)
	data := fixtureStream(t, accuracyRows(), false)
	got := score(t, data, metrics.Options{Measure: "accuracy", CI: metrics.CI{Level: 95, Resamples: ref.Resamples, Seed: 1, Method: metrics.MethodBootstrap}})
	if got["top1"] != ref.Accuracy.Value {
		t.Fatalf("top1 %v, want %v", got["top1"], ref.Accuracy.Value)
	}
	for i, m := range []string{"top1_lo", "top1_hi"} {
		if d := math.Abs(got[m] - ref.Accuracy.Bootstrap[i]); d > 0.35 {
			t.Errorf("%s %.3f, scipy's bootstrap %.3f", m, got[m], ref.Accuracy.Bootstrap[i])
		}
		if d := math.Abs(got[m] - ref.Accuracy.Wilson[i]); d > 0.5 {
			t.Errorf("%s %.3f, Wilson's %.3f: the bootstrap should agree with the closed form", m, got[m], ref.Accuracy.Wilson[i])
		}
	}
	w := score(t, data, metrics.Options{Measure: "accuracy", CI: metrics.CI{Level: 95, Method: metrics.MethodWilson}})
	for i, m := range []string{"top1_lo", "top1_hi"} {
		if math.Abs(w[m]-ref.Accuracy.Wilson[i]) > 1e-9 {
			t.Errorf("Wilson %s %.12f, scipy's %.12f", m, w[m], ref.Accuracy.Wilson[i])
		}
	}
}

// mCE's interval resamples images, each in or out of a replicate under
// every corruption and severity at once (numpy's joint bootstrap agrees);
// resampling rows within each condition apart would make it several
// times narrower, since an image hard under one corruption is hard under
// all.
func TestMCEIntervalResamplesImagesTogether(t *testing.T) {
	ref := readStats(t)
	base := map[string]float64{}
	for _, c := range robust.Standard {
		base[c] = 0.5
	}
	data := fixtureStream(t, mceRows(), true)
	got := score(t, data, metrics.Options{Measure: "ce", CEBase: base, CI: metrics.CI{Level: 95, Resamples: ref.Resamples, Seed: 1, Method: metrics.MethodBootstrap}})
	if math.Abs(got["mCE/ce"]-ref.MCE.Value) > 1e-9 {
		t.Fatalf("mCE %v, numpy's %v", got["mCE/ce"], ref.MCE.Value)
	}
	width := ref.MCE.Bootstrap[1] - ref.MCE.Bootstrap[0]
	for i, m := range []string{"mCE/ce_lo", "mCE/ce_hi"} {
		if d := math.Abs(got[m] - ref.MCE.Bootstrap[i]); d > 0.05*width {
			t.Errorf("%s %.3f, numpy's joint bootstrap %.3f (width %.1f)", m, got[m], ref.MCE.Bootstrap[i], width)
		}
	}
}

// The intervals are the same bytes whatever the number of threads, and
// change with the seed.
func TestIntervalsDeterministic(t *testing.T) {
	data := fixtureStream(t, accuracyRows(), false)
	o := metrics.Options{Measure: "accuracy", CI: metrics.CI{Level: 90, Resamples: 500, Seed: 7, Method: metrics.MethodBootstrap}}
	a := score(t, data, o)
	old := runtimeProcs(1)
	b := score(t, data, o)
	runtimeProcs(old)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("1 thread %v, all %v", b, a)
	}
	o.CI.Seed = 8
	if c := score(t, data, o); c["top1_lo"] == a["top1_lo"] && c["top1_hi"] == a["top1_hi"] && c["xent_lo"] == a["xent_lo"] {
		t.Errorf("seeds 7 and 8 gave the same interval %v", c)
	}
}

func runtimeProcs(n int) int { return runtime.GOMAXPROCS(n) }

type compareStats struct {
	Paired struct {
		A, B       float64
		Diff       []float64
		Discordant []int
		P          float64
	}
	McNemar [][]float64
	Holm    struct{ P, Adjusted []float64 }
}

// pairedRows are make_stats.py's paired fixture: models a and b on the
// same 400 images.
func pairedRows(t *testing.T, dropB string) []byte {
	var rows []row
	var models []string
	for _, m := range []string{"a", "b"} {
		for i := 0; i < 400; i++ {
			id := fmt.Sprintf("img%03d", i)
			if m == "b" && id == dropB {
				continue
			}
			right := (37*i)%100 < 80
			if m == "b" {
				right = (37*i)%100 < 70 || i%10 == 3
			}
			rows = append(rows, row{id: id, right: right})
			models = append(models, m)
		}
	}
	return fixtureStreamModels(t, rows, models)
}

// The paired comparison: the difference's paired bootstrap interval
// agrees with numpy's (one draw of images for both models), the McNemar
// p-value with scipy's exact binomial test of the discordant pairs, and
// Holm's adjustment with statsmodels'. An image scored for one model
// only is an error naming it.
func TestCompareMatchesScipy(t *testing.T) {
	var ref compareStats
	b, _ := os.ReadFile(testutil.Path(t, "testdata", "stats", "intervals.json"))
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	o := metrics.Options{Measure: "accuracy", Compare: metrics.Compare{Col: stream.ColModel, A: "a", B: "b"},
		CI: metrics.CI{Level: 95, Resamples: 10000, Seed: 3, Method: metrics.MethodBootstrap}}
	got := score(t, pairedRows(t, ""), o)
	if got["top1.a"] != ref.Paired.A || got["top1.b"] != ref.Paired.B || math.Abs(got["top1.diff"]-(ref.Paired.A-ref.Paired.B)) > 1e-9 {
		t.Fatalf("a %v b %v diff %v, want %v %v", got["top1.a"], got["top1.b"], got["top1.diff"], ref.Paired.A, ref.Paired.B)
	}
	for i, m := range []string{"top1.diff_lo", "top1.diff_hi"} {
		if d := math.Abs(got[m] - ref.Paired.Diff[i]); d > 0.3 {
			t.Errorf("%s %.3f, numpy's paired bootstrap %.3f", m, got[m], ref.Paired.Diff[i])
		}
	}
	if math.Abs(got["top1.p"]-ref.Paired.P) > 1e-9*ref.Paired.P || got["top1.p_holm"] != got["top1.p"] {
		t.Errorf("McNemar p %v (Holm %v), scipy's %v", got["top1.p"], got["top1.p_holm"], ref.Paired.P)
	}
	for _, c := range ref.McNemar {
		if p := metrics.McNemar(int(c[0]), int(c[1])); math.Abs(p-c[2]) > 1e-12 {
			t.Errorf("McNemar(%v, %v) = %v, scipy's %v", c[0], c[1], p, c[2])
		}
	}
	for i, p := range metrics.Holm(ref.Holm.P) {
		if math.Abs(p-ref.Holm.Adjusted[i]) > 1e-12 {
			t.Errorf("Holm %v: %v, statsmodels' %v", ref.Holm.P, metrics.Holm(ref.Holm.P), ref.Holm.Adjusted)
			break
		}
	}
	_, _, _, _, err := metrics.Score(o, func(fn func(*stream.Reader, bool) error) error {
		r, err := stream.NewReader(bytes.NewReader(pairedRows(t, "img007")), "fixture")
		if err != nil {
			return err
		}
		return fn(r, false)
	})
	if err == nil || !strings.Contains(err.Error(), `id "img007"`) || !strings.Contains(err.Error(), "none for b") {
		t.Errorf("image img007 scored for a only: %v", err)
	}
}

type effStats struct {
	Effective map[string]struct {
		Intercept, Slope    float64
		Baseline, Effective []float64
		Interval            [][]float64
	}
}

// effectiveStreams are make_stats.py's testbed: 5 models' predictions on
// 400 clean and 300 other, shifted images.
func effectiveStreams(t *testing.T) (clean, shifted []byte) {
	var cr, sr []row
	var cm, sm []string
	for k := 0; k < 5; k++ {
		m := fmt.Sprintf("m%d", k)
		for i := 0; i < 400; i++ {
			cr = append(cr, row{id: fmt.Sprintf("clean%03d", i), right: (37*i)%100 < 70+5*k})
			cm = append(cm, m)
		}
		for j := 0; j < 300; j++ {
			bonus := 0
			if k == 2 {
				bonus = 10
			}
			sr = append(sr, row{id: fmt.Sprintf("shift%03d", j), right: (53*j)%100 < 20+4*k+bonus})
			sm = append(sm, m)
		}
	}
	return fixtureStreamModels(t, cr, cm), fixtureStreamModels(t, sr, sm)
}

// Effective robustness: the line is numpy's least squares on logit and
// probit axes, each model's baseline and effective robustness numpy's,
// and the bootstrap interval (clean and shifted images resampled apart)
// agrees with numpy's within the Monte Carlo error.
func TestEffectiveRobustnessMatchesNumpy(t *testing.T) {
	var ref effStats
	b, _ := os.ReadFile(testutil.Path(t, "testdata", "stats", "intervals.json"))
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	clean, shifted := effectiveStreams(t)
	run := func(o metrics.Options) (map[string]float64, []string) {
		_, rows, _, notes, err := metrics.Score(o, func(fn func(*stream.Reader, bool) error) error {
			for i, data := range [][]byte{clean, shifted} {
				r, err := stream.NewReader(bytes.NewReader(data), "fixture")
				if err != nil {
					return err
				}
				if err := fn(r, i == 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, r := range rows {
			out[r.Group[0]+"/"+r.Metric] = r.Value
		}
		return out, notes
	}
	for _, scale := range []string{metrics.ScaleLogit, metrics.ScaleProbit} {
		got, notes := run(metrics.Options{Measure: "effective", By: []string{stream.ColModel}, Scale: scale})
		want := ref.Effective[scale]
		for k := 0; k < 5; k++ {
			m := fmt.Sprintf("m%d", k)
			if math.Abs(got[m+"/baseline"]-want.Baseline[k]) > 1e-9 || math.Abs(got[m+"/effective"]-want.Effective[k]) > 1e-9 {
				t.Errorf("%s %s: baseline %v effective %v, numpy's %v %v", scale, m, got[m+"/baseline"], got[m+"/effective"], want.Baseline[k], want.Effective[k])
			}
		}
		if !strings.Contains(strings.Join(notes, "\n"), fmt.Sprintf("%.4f + %.4f", want.Intercept, want.Slope)) {
			t.Errorf("%s: notes %q, want the line %.4f + %.4f", scale, notes, want.Intercept, want.Slope)
		}
	}
	got, _ := run(metrics.Options{Measure: "effective", By: []string{stream.ColModel}, Scale: metrics.ScaleLogit,
		CI: metrics.CI{Level: 95, Resamples: 10000, Seed: 5, Method: metrics.MethodBootstrap}})
	for k, iv := range ref.Effective[metrics.ScaleLogit].Interval {
		m := fmt.Sprintf("m%d", k)
		for i, suffix := range []string{"_lo", "_hi"} {
			if d := math.Abs(got[m+"/effective"+suffix] - iv[i]); d > 0.3 {
				t.Errorf("%s effective%s %.3f, numpy's %.3f", m, suffix, got[m+"/effective"+suffix], iv[i])
			}
		}
	}
}
