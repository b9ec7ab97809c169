// Package robust computes the robustness benchmarks' measures exactly as
// their protocols define them (docs/protocols.md §1-6): corruption error and
// mCE normalised by AlexNet or any baseline, flip probability and top-5
// distance of perturbation sequences, AUPR, AUROC and FPR at 95% recall
// for out-of-distribution detection, and ImageNet-9's 9-way accuracy.
package robust

import (
	"fmt"
	"math"
	"sort"
)

// Standard lists the 15 corruptions of mCE; Extra the 4 held-out ones.
var (
	Standard = []string{"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
		"motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform",
		"pixelate", "jpeg_compression"}
	Extra = []string{"speckle_noise", "gaussian_blur", "spatter", "saturate"}
)

// AlexNet holds AlexNet's top-1 error per corruption, the mean over the
// five severities (fractions), the normaliser of CE.
var AlexNet = map[string]float64{
	"gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640,
	"defocus_blur": 0.819880, "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360,
	"snow": 0.866816, "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592,
	"contrast": 0.853204, "elastic_transform": 0.646056, "pixelate": 0.717840, "jpeg_compression": 0.606500,
	"speckle_noise": 0.845388, "gaussian_blur": 0.787108, "spatter": 0.717512, "saturate": 0.658248,
}

// CE is a corruption error: the model's errors summed over severities
// divided by the baseline's (both as mean errors over the same severities,
// the ratio is the same).
func CE(model, baseline float64) float64 { return model / baseline }

// RelativeCE is (E - E_clean) / (E_base - E_base_clean), the errors being
// means over severities.
func RelativeCE(model, modelClean, baseline, baselineClean float64) float64 {
	return (model - modelClean) / (baseline - baselineClean)
}

// MeanCE averages CE over the named corruptions; it fails when one has no
// error or no baseline, so that a partial sweep is never reported as mCE.
func MeanCE(errs, base map[string]float64, names []string) (float64, error) {
	var s float64
	for _, c := range names {
		e, ok := errs[c]
		if !ok {
			return 0, fmt.Errorf("no error for corruption %s (mCE needs all %d)", c, len(names))
		}
		b, ok := base[c]
		if !ok || b == 0 {
			return 0, fmt.Errorf("no baseline error for corruption %s", c)
		}
		s += CE(e, b)
	}
	return s / float64(len(names)), nil
}

// Pairs calls fn(ref, j) for each pair of frames of a sequence of n frames
// that ImageNet-P compares, in a fixed order, and returns their number:
// for a noise perturbation every frame against the first, otherwise
// consecutive frames within each of the stride's interleaved
// subsequences. Flip probability and top-5 distance both pair this way.
func Pairs(n int, noise bool, stride int, fn func(ref, j int)) int {
	pairs := 0
	if noise {
		for j := 1; j < n; j++ {
			fn(0, j)
			pairs++
		}
		return pairs
	}
	for start := 0; start < stride; start++ {
		for j := start + stride; j < n; j += stride {
			fn(j-stride, j)
			pairs++
		}
	}
	return pairs
}

// Flips counts prediction flips along one sequence of top-1 predictions
// (frames paired as Pairs pairs them) and returns the number of flips and
// of comparisons.
func Flips(pred []int, noise bool, stride int) (flips, pairs int) {
	pairs = Pairs(len(pred), noise, stride, func(ref, j int) {
		if pred[j] != pred[ref] {
			flips++
		}
	})
	return flips, pairs
}

// Top5Distance is ImageNet-P's distance between two frames' rankings
// (classes in descending logit order, ties by index): for the classes at
// ranks 1-5 of the reference, sum over i of |(i-1) - min(rank in the
// other frame - 1, 5)|.
func Top5Distance(ref, other []float32) int {
	r1 := Ranking(ref)
	pos := make([]int, len(other)) // class -> 0-based rank in other
	for rank, c := range Ranking(other) {
		pos[c] = rank
	}
	d := 0
	for i := 0; i < 5 && i < len(r1); i++ {
		d += abs(i - min(pos[r1[i]], 5))
	}
	return d
}

// Ranking orders class indices by descending logit, ties by index.
func Ranking(logits []float32) []int {
	r := make([]int, len(logits))
	for i := range r {
		r[i] = i
	}
	sort.SliceStable(r, func(a, b int) bool { return logits[r[a]] > logits[r[b]] })
	return r
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// scored is one example for the detection measures.
type scored struct {
	score float64
	pos   bool
}

// points sorts examples by descending score and returns the cumulative
// true and false positives at each distinct score (the thresholds).
func points(scores []float64, positive []bool) (tps, fps []float64) {
	ex := make([]scored, len(scores))
	for i := range scores {
		ex[i] = scored{scores[i], positive[i]}
	}
	sort.SliceStable(ex, func(a, b int) bool { return ex[a].score > ex[b].score })
	var tp, fp float64
	for i, e := range ex {
		if e.pos {
			tp++
		} else {
			fp++
		}
		if i == len(ex)-1 || ex[i+1].score != e.score {
			tps, fps = append(tps, tp), append(fps, fp)
		}
	}
	return tps, fps
}

// AUPR is scikit-learn's average_precision_score: the sum over thresholds
// of (recall increase) x precision.
func AUPR(scores []float64, positive []bool) float64 {
	tps, fps := points(scores, positive)
	P := tps[len(tps)-1]
	var ap, prevR float64
	for i := range tps {
		r := tps[i] / P
		ap += (r - prevR) * tps[i] / (tps[i] + fps[i])
		prevR = r
	}
	return ap
}

// AUROC is the area under the ROC curve through the thresholds'
// points (trapezoids), scikit-learn's roc_auc_score.
func AUROC(scores []float64, positive []bool) float64 {
	tps, fps := points(scores, positive)
	P, N := tps[len(tps)-1], fps[len(fps)-1]
	var area, px, py float64
	for i := range tps {
		x, y := fps[i]/N, tps[i]/P
		area += (x - px) * (y + py) / 2
		px, py = x, y
	}
	return area
}

// FPRAtRecall is the false positive rate at the threshold whose recall is
// closest to level, as the anomaly-detection reference code
// (fpr_and_fdr_at_recall) computes it: thresholds from the one reaching
// full recall down, plus the empty one, the first closest wins.
func FPRAtRecall(scores []float64, positive []bool, level float64) float64 {
	tps, fps := points(scores, positive)
	P := tps[len(tps)-1]
	N := fps[len(fps)-1]
	last := sort.SearchFloat64s(tps, P) // first threshold reaching full recall
	best, bestD := 0.0, math.Inf(1)
	for i := last; i >= 0; i-- {
		if d := math.Abs(tps[i]/P - level); d < bestD {
			best, bestD = fps[i], d
		}
	}
	if d := math.Abs(1 - level); d < bestD { // the reference appends recall 1 with 0 false positives
		best = 0
	}
	return best / N
}

// IN9 maps an ImageNet-1k class to ImageNet-9's superclass (-1: none).
func IN9(class int) int {
	in := func(lo, hi int) bool { return class >= lo && class <= hi }
	has := func(list ...int) bool {
		for _, v := range list {
			if v == class {
				return true
			}
		}
		return false
	}
	switch {
	case in(151, 268) && class != 171 && class != 172:
		return 0 // dog
	case in(7, 24) || in(87, 100) || in(127, 146):
		return 1 // bird
	case has(407, 408, 428, 436, 444, 468, 511, 547, 555, 561, 565, 569, 573, 586, 603, 609, 612, 627, 656, 661, 665, 670, 671, 675, 690, 705, 717, 734, 751, 757, 791, 802, 803, 817, 820, 829, 847, 864, 866, 867, 870, 880):
		return 2 // vehicle
	case in(33, 68):
		return 3 // reptile
	case in(269, 280) || in(286, 299) || in(356, 362) || has(387, 388):
		return 4 // carnivore
	case in(300, 326):
		return 5 // insect
	case has(401, 402, 420, 432, 486, 494, 513, 541, 546, 558, 566, 577, 579, 593, 594, 641, 642, 683, 684, 687, 699, 776, 822, 875, 881, 889):
		return 6 // instrument
	case in(365, 384):
		return 7 // primate
	case in(0, 6) || in(389, 397):
		return 8 // fish
	}
	return -1
}

// BGGap is ImageNet-9's background gap: Mixed-Same minus Mixed-Rand
// accuracy, in points.
func BGGap(mixedSame, mixedRand float64) float64 { return mixedSame - mixedRand }

// Top5 returns the five highest-ranked classes (descending logit, ties by
// index): all Top5Distance needs of a frame.
func Top5(logits []float32) []int {
	r := Ranking(logits)
	return append([]int(nil), r[:min(5, len(r))]...)
}

// Top5DistanceLists is Top5Distance from two frames' top-5 lists: a class
// absent from the other top 5 has rank 6 or more, which the distance caps
// at 5 anyway.
func Top5DistanceLists(ref, other []int) int {
	d := 0
	for i, c := range ref {
		r := 5
		for j, o := range other {
			if o == c {
				r = j
				break
			}
		}
		d += abs(i - r)
	}
	return d
}

// Perturbations lists the 10 perturbations of mFR and mT5D.
var Perturbations = []string{"gaussian_noise", "shot_noise", "motion_blur", "zoom_blur", "snow", "brightness",
	"translate", "rotate", "tilt", "scale"}
