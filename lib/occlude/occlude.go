// Package occlude drops square patches of images, as the occlusion
// experiments of Naseer et al. (and the paper's Fig. 4) do: in [0,1] pixel
// space, before normalisation, so a dropped pixel is black. Patches go
// either at random (a fraction of the grid) or by saliency: the patches
// holding a fraction lambda of a saliency map's mass (salient drop removes
// them, non-salient drop keeps only them).
package occlude

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/lk-robustness/lk/lib/stream"
)

// Drop modes, the values of the drop_mode column.
const (
	Random     = "random"
	Salient    = "salient"    // the salient patches are dropped ("best" in the reference)
	NonSalient = "nonsalient" // all but the salient patches are dropped ("worst")
)

// Modes lists the drop modes.
var Modes = []string{Random, Salient, NonSalient}

// Grid is the patch grid of an image: GH x GW patches of Patch x Patch.
type Grid struct {
	Patch, GH, GW int
}

// NewGrid tiles images of shape sh with patch x patch squares.
func NewGrid(sh stream.Shape, patch int) (Grid, error) {
	if patch <= 0 || sh.H%patch != 0 || sh.W%patch != 0 {
		return Grid{}, fmt.Errorf("patch %d does not tile %dx%d images (the 224-pixel protocol uses 16: a 14x14 grid; the 32-pixel zoo 4: 8x8, its ViT's patches)", patch, sh.H, sh.W)
	}
	return Grid{patch, sh.H / patch, sh.W / patch}, nil
}

// N is the number of patches.
func (g Grid) N() int { return g.GH * g.GW }

// Count is the number of patches a ratio drops: floor(ratio N), as the
// reference's k N // 10 (a tolerance keeps 0.3 N from flooring below).
func Count(ratio float64, n int) int {
	return min(n, int(math.Floor(ratio*float64(n)+1e-9)))
}

// RandomPatches draws count distinct patches of n, uniformly (a partial
// Fisher-Yates shuffle).
func RandomPatches(n, count int, r *rand.Rand) []bool {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	out := make([]bool, n)
	for i := 0; i < count; i++ {
		j := i + r.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
		out[idx[i]] = true
	}
	return out
}

// Source is the random stream of one draw: the seed and a key (an image
// id, or a batch number for draws shared by a batch) and the ratio.
func Source(seed uint64, key string, ratio float64) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%v", key, ratio)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// MostSalient marks the patches holding a fraction lambda of the saliency
// mass s: sorted ascending (ties by index), normalised to sum 1 and
// accumulated, a patch is salient when the running sum exceeds 1-lambda.
func MostSalient(s []float64, lambda float64) ([]bool, error) {
	var sum float64
	for i, v := range s {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("saliency of patch %d is %v; want finite values >= 0", i, v)
		}
		sum += v
	}
	if sum == 0 {
		return nil, fmt.Errorf("saliency is zero everywhere")
	}
	order := make([]int, len(s))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s[order[a]] < s[order[b]] })
	out := make([]bool, len(s))
	var cum float64
	for _, i := range order {
		cum += s[i] / sum
		out[i] = cum > 1-lambda
	}
	return out, nil
}

// Apply writes src to dst with the marked patches set to 0 (drop true)
// or with all but them set to 0 (drop false).
func Apply(dst, src []float32, sh stream.Shape, g Grid, marked []bool, drop bool) {
	hw := sh.H * sh.W
	for c := 0; c < sh.C; c++ {
		for y := 0; y < sh.H; y++ {
			row := (y / g.Patch) * g.GW
			for x := 0; x < sh.W; x++ {
				i := c*hw + y*sh.W + x
				if marked[row+x/g.Patch] == drop {
					dst[i] = 0
				} else {
					dst[i] = src[i]
				}
			}
		}
	}
}
