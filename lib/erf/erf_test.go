package erf

import "testing"

// On a uniform 9x9 map the centred squares of side 3, 5 and 7 hold 9, 25
// and 49 of 81: 25/81 = 0.309 is the first share above 0.2 and 0.3,
// 49/81 = 0.605 above 0.5, and 0.99 needs the whole image, a side
// analyze_erf.py does not try.
func TestAreasUniform(t *testing.T) {
	r := &Result{H: 9, W: 9, Scaled: make([]float64, 81)}
	for i := range r.Scaled {
		r.Scaled[i] = 1
	}
	want := []Area{{0.2, 5, 25.0 / 81, true}, {0.3, 5, 25.0 / 81, true}, {0.5, 7, 49.0 / 81, true}, {Threshold: 0.99}}
	got := r.Areas(Thresholds)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("threshold %g: %+v, want %+v", want[i].Threshold, got[i], want[i])
		}
	}
}
