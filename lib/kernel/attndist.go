// Package kernel measures where a depthwise convolution kernel puts its
// weight: the paper's kernel "attention distance" (docs/protocols.md §12).
//
// For a K x K kernel with radius R = (K-1)/2, position (j, k) is at the
// normalised distance d = sqrt((j-R)^2 + (k-R)^2) / (R*sqrt(2)) from the
// centre: 0 at the centre, 1 at a corner. A channel's score is either the
// paper's weighted mean distance, sum d|w| / sum |w| (independent of the
// kernel's scale, so of a folded BatchNorm), or the reference code's
// sum d|w| without the division (Normalise false), which grows with the
// weights' magnitude.
package kernel

import "math"

// Distances returns the normalised distance of every position of a k x k
// kernel, row-major. A 1 x 1 kernel has the single distance 0.
func Distances(k int) []float64 {
	d := make([]float64, k*k)
	r := float64(k-1) / 2
	if r == 0 {
		return d
	}
	for j := 0; j < k; j++ {
		for i := 0; i < k; i++ {
			d[j*k+i] = math.Hypot(float64(j)-r, float64(i)-r) / (r * math.Sqrt2)
		}
	}
	return d
}

// Score is one channel's attention distance. w is the channel's k x k
// kernel, row-major; dist is Distances(k). With normalise, an all-zero
// kernel scores 0.
func Score(w []float32, dist []float64, normalise bool) float64 {
	var sd, s float64
	for i, v := range w {
		a := math.Abs(float64(v))
		sd += dist[i] * a
		s += a
	}
	if !normalise {
		return sd
	}
	if s == 0 {
		return 0
	}
	return sd / s
}

// Merge adds a small centred kernel into a large one, as RepLKNet's
// re-parameterisation merges its parallel small-kernel branch: the small
// k x k kernel is zero-padded to the large one's size and summed. Both are
// one channel, row-major; large is modified and returned.
func Merge(large []float32, kl int, small []float32, ks int) []float32 {
	off := (kl - ks) / 2
	for j := 0; j < ks; j++ {
		for i := 0; i < ks; i++ {
			large[(j+off)*kl+i+off] += small[j*ks+i]
		}
	}
	return large
}
