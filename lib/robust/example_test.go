package robust_test

import (
	"fmt"

	"github.com/lk-robustness/lk/lib/robust"
)

// ImageNet-P's flip probability on a translation sequence (stride 1):
// consecutive frames are compared, so five frames give four pairs.
func ExampleFlips() {
	flips, pairs := robust.Flips([]int{3, 3, 7, 7, 3}, false, 1)
	fmt.Println(flips, "flips in", pairs, "pairs")
	// Output: 2 flips in 4 pairs
}

// A noise sequence compares every frame with the first.
func ExampleFlips_noise() {
	flips, pairs := robust.Flips([]int{3, 3, 7, 7, 3}, true, 1)
	fmt.Println(flips, "flips in", pairs, "pairs")
	// Output: 2 flips in 4 pairs
}

// Hendrycks and Dietterich's relative corruption error: the model loses
// 20 points under the corruption, AlexNet 40, so its relative CE is 0.5.
func ExampleRelativeCE() {
	fmt.Printf("%.2f\n", robust.RelativeCE(0.45, 0.25, 0.83, 0.43))
	// Output: 0.50
}

// The top-5 distance of a frame whose top two classes swapped: class 0,
// at rank 1 of the reference, is at rank 2 (one off); class 1 the
// reverse; the rest agree.
func ExampleTop5Distance() {
	ref := []float32{9, 8, 7, 6, 5, 4, 0}
	other := []float32{8, 9, 7, 6, 5, 4, 0}
	fmt.Println(robust.Top5Distance(ref, other))
	// Output: 2
}
