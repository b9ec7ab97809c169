package metrics_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/metrics"
	"github.com/lk-robustness/lk/lib/testutil"
)

type calRef struct {
	Classes int `json:"classes"`
	Groups  map[string]struct {
		Labels      []int32 `json:"labels"`
		Logits      string  `json:"logits"`
		Top1        float64 `json:"top1"`
		Confidence  float64 `json:"confidence"`
		ECE         float64 `json:"ece"`
		RMS         float64 `json:"rms_calibration_error"`
		Reliability []struct {
			N          int64   `json:"n"`
			Confidence float64 `json:"confidence"`
			Accuracy   float64 `json:"accuracy"`
		} `json:"reliability"`
	} `json:"groups"`
}

// calibrationFixture feeds testdata/calibration/calibration.json's
// predictions (make_calibration.py) to a metrics.Calibration grouped by model.
func calibrationFixture(t *testing.T) (*metrics.Calibration, calRef) {
	b, err := os.ReadFile(testutil.Path(t, "testdata/calibration/calibration.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref calRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	c := metrics.NewCalibration([]string{"model"}, nil)
	for model, g := range ref.Groups {
		raw, err := base64.StdEncoding.DecodeString(g.Logits)
		if err != nil {
			t.Fatal(err)
		}
		var logits [][]float32
		var models []string
		for i := range g.Labels {
			row := make([]float32, ref.Classes)
			for j := range row {
				row[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*ref.Classes+j):]))
			}
			logits = append(logits, row)
			models = append(models, model)
		}
		if err := c.Add(predictions(t, ref.Classes, models, g.Labels, logits), "fixture"); err != nil {
			t.Fatal(err)
		}
	}
	return c, ref
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Top-1, mean confidence, metrics.ECE and the RMS calibration error per group
// equal numpy's (make_calibration.py: Guo et al.'s bins, hendrycks'
// calib_err with its last bin left out).
func TestCalibrationMatchesNumpy(t *testing.T) {
	c, ref := calibrationFixture(t)
	rows, notes, err := c.Rows()
	if err != nil || len(notes) != 0 {
		t.Fatal(err, notes)
	}
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Group[0]+" "+r.Metric] = r.Value
	}
	for model, g := range ref.Groups {
		for metric, want := range map[string]float64{metrics.Top1: g.Top1, metrics.Confidence: g.Confidence, metrics.ECE: g.ECE, metrics.RMSCalib: g.RMS} {
			if v, ok := got[model+" "+metric]; !ok || !near(v, want) {
				t.Errorf("model %s %s = %v, numpy %v", model, metric, v, want)
			}
		}
	}
}

// The reliability diagram's bins equal numpy's: counts, mean confidence
// and accuracy; empty bins have bounds and no values.
func TestReliabilityMatchesNumpy(t *testing.T) {
	c, ref := calibrationFixture(t)
	rows, err := c.ReliabilityRows()
	if err != nil {
		t.Fatal(err)
	}
	type cell struct {
		v  float64
		n  int64
		ok bool
	}
	got := map[string]cell{}
	for _, r := range rows {
		got[strings.Join(r.Group, " ")+" "+r.Metric] = cell{r.Value, r.N, true}
	}
	for model, g := range ref.Groups {
		if len(g.Reliability) != metrics.ECEBins {
			t.Fatalf("%d bins in the fixture", len(g.Reliability))
		}
		var total int64
		for k, want := range g.Reliability {
			key := model + " " + strconv.Itoa(k+1) + " "
			lo := got[key+metrics.BinLower]
			if !lo.ok || lo.n != want.N || !near(lo.v, 100*float64(k)/15) {
				t.Errorf("model %s bin %d: lower %v n %d, want %v n %d", model, k+1, lo.v, lo.n, 100*float64(k)/15, want.N)
			}
			total += lo.n
			cf, ac := got[key+metrics.Confidence], got[key+metrics.BinAcc]
			if want.N == 0 {
				if cf.ok || ac.ok {
					t.Errorf("model %s empty bin %d has values", model, k+1)
				}
				continue
			}
			if !near(cf.v, want.Confidence) || !near(ac.v, want.Accuracy) {
				t.Errorf("model %s bin %d: confidence %v accuracy %v, numpy %v %v", model, k+1, cf.v, ac.v, want.Confidence, want.Accuracy)
			}
		}
		if total != int64(len(g.Labels)) {
			t.Errorf("model %s: bins hold %d of %d predictions", model, total, len(g.Labels))
		}
	}
}

// A group too small for two adaptive bins gets no RMS error and a note;
// label -1 is skipped and counted; a NaN logit is an error naming the row.
func TestCalibrationEdges(t *testing.T) {
	c := metrics.NewCalibration(nil, nil)
	rec := predictions(t, 3, []string{"m", "m", "m"}, []int32{0, -1, 2}, [][]float32{{3, 1, 0}, {0, 0, 1}, {1, 2, 0}})
	if err := c.Add(rec, "s"); err != nil {
		t.Fatal(err)
	}
	rows, notes, err := c.Rows()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || len(notes) != 1 || !strings.Contains(notes[0], "2 predictions; the RMS calibration error needs at least 200") {
		t.Errorf("rows %v notes %q", rows, notes)
	}
	if c.Unlabelled() != 1 {
		t.Errorf("%d unlabelled, want 1", c.Unlabelled())
	}
	// one correct at confidence p0, one wrong at p2: metrics.ECE is the mean gap
	p0 := 1 / (1 + math.Exp(-2) + math.Exp(-3))
	p2 := 1 / (1 + math.Exp(-1) + math.Exp(-2))
	want := 100 * (math.Abs(1-p0) + math.Abs(0-p2)) / 2
	for _, r := range rows {
		if r.Metric == metrics.ECE && !near(r.Value, want) {
			t.Errorf("ECE %v, want %v", r.Value, want)
		}
	}
	bad := predictions(t, 3, []string{"m"}, []int32{0}, [][]float32{{float32(math.NaN()), 1, 0}})
	if err := metrics.NewCalibration(nil, nil).Add(bad, "s"); err == nil || !strings.Contains(err.Error(), `s: row id "a": logit NaN`) {
		t.Errorf("NaN logit: %v", err)
	}
}
