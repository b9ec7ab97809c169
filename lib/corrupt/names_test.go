package corrupt

import (
	"slices"
	"testing"

	"github.com/lk-robustness/lk/lib/imagenet"
)

// The corruptions and perturbations lk-corrupt implements are ImageNet-C's
// and ImageNet-P's, the names lk-data reads as folders of those trees.
func TestNamesAreImageNets(t *testing.T) {
	if !slices.Equal(Names(), imagenet.Corruptions) {
		t.Errorf("corruptions %v, ImageNet-C's %v", Names(), imagenet.Corruptions)
	}
	if !slices.Equal(PerturbationNames(), imagenet.Perturbations) {
		t.Errorf("perturbations %v, ImageNet-P's %v", PerturbationNames(), imagenet.Perturbations)
	}
	for _, p := range PerturbationNames() {
		if IsNoise(p) != imagenet.IsNoisePerturbation(p) {
			t.Errorf("%s: noise %v here, %v in lib/imagenet", p, IsNoise(p), imagenet.IsNoisePerturbation(p))
		}
	}
}
