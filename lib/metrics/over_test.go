package metrics

import (
	"math"
	"strings"
	"testing"
)

func TestOver(t *testing.T) {
	row := func(model, seed, metric string, v float64) Row {
		return Row{Group: []string{model, seed}, Metric: metric, Value: v, N: 100}
	}
	rows := []Row{
		row("lk3", "0", "top1", 80), row("lk3", "1", "top1", 84), row("lk3", "2", "top1", 85),
		row("vit", "0", "top1", 70), row("vit", "2", "top1", 72),
		row("resnet", "1", "top1", 90),
	}
	by, out, notes, err := Over([]string{"model", "seed"}, rows, "seed")
	if err != nil {
		t.Fatal(err)
	}
	if len(by) != 1 || by[0] != "model" {
		t.Fatalf("by %v, want [model]", by)
	}
	got := map[string]float64{}
	for _, r := range out {
		got[r.Group[0]+" "+r.Metric] = r.Value
	}
	for k, want := range map[string]float64{
		// numpy: np.mean([80, 84, 85]) = 83, np.std([80, 84, 85], ddof=1) = sqrt(7)
		"lk3 top1": 83, "lk3 top1_sd": math.Sqrt(7), "lk3 top1_min": 80, "lk3 top1_max": 85, "lk3 n_seed": 3,
		"vit top1": 71, "vit top1_sd": math.Sqrt2, "vit n_seed": 2,
		"resnet top1": 90, "resnet top1_min": 90, "resnet n_seed": 1,
	} {
		if v, ok := got[k]; !ok || math.Abs(v-want) > 1e-12 {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if _, ok := got["resnet top1_sd"]; ok {
		t.Error("one seed has no standard deviation, got one")
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "model=vit: no rows for seed 1") || !strings.Contains(notes[1], "model=resnet: no rows for seed 0,2") {
		t.Errorf("notes %q", notes)
	}
	if _, _, _, err := Over([]string{"model"}, rows[:1], "seed"); err == nil || !strings.Contains(err.Error(), "not a grouping column") {
		t.Errorf("over a column not grouped by: %v", err)
	}
	if _, _, _, err := Over([]string{"model", "seed"}, []Row{rows[0], rows[0]}, "seed"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a value twice: %v", err)
	}
}
