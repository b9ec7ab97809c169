// Package featvar measures the variance of a network's feature maps layer
// by layer (docs/protocols.md §13), streaming: each layer keeps running sums, never
// the maps, so memory does not grow with the number of images.
//
// Two definitions:
//   - Park & Kim (default): for each image and channel, the unbiased
//     variance of the map over its H x W positions; the mean over images
//     and channels.
//   - batch-mean (the LKRobust code): the maps of each group of Group
//     consecutive images are averaged first; the unbiased spatial variance
//     of these mean maps, averaged over groups and channels.
//
// ViT token tensors (batch, tokens, width) are laid back on their grid:
// with N tokens, N-1 a square means a class token, which is dropped; N a
// square means no class token.
package featvar

import (
	"errors"
	"fmt"
	"math"
)

// Layer is a value of the graph whose feature maps are measured.
type Layer struct {
	Name  string  // what the user reads: block scope, "stem", "transition 1"
	Kind  string  // stem, block or transition
	Value string  // the graph value
	Shape []int64 // its shape for one image (batch 1)
}

// Stat accumulates one layer's variance.
type Stat struct {
	Layer
	Group int // batch-mean group size; 0 for Park & Kim

	n   int64   // images seen
	sum float64 // Park & Kim: sum over images of the mean over channels of the spatial variance

	// batch-mean
	groupSum   []float64 // C x P running sum of the current group's maps
	groupN     int
	groups     int
	groupTotal float64 // sum over finished groups of their mean channel variance

	c, p int // channels and spatial positions, fixed by the first batch
}

// geometry reads a batch's output shape as (batch, channels, positions,
// token offset, token stride, channel stride) so that element
// (b, c, p) is at b*per + off + p*ps + c*cs.
type geometry struct {
	b, c, p      int
	per, off     int
	pStep, cStep int
}

func layout(shape []int64, name string) (geometry, error) {
	switch len(shape) {
	case 4: // N, C, H, W
		b, c, p := int(shape[0]), int(shape[1]), int(shape[2]*shape[3])
		return geometry{b: b, c: c, p: p, per: c * p, pStep: 1, cStep: p}, nil
	case 3: // N, tokens, width
		b, n, c := int(shape[0]), int(shape[1]), int(shape[2])
		g := geometry{b: b, c: c, per: n * c, pStep: c, cStep: 1}
		if r := isqrt(n - 1); n > 1 && r*r == n-1 {
			g.p, g.off = n-1, c // drop the class token
			return g, nil
		}
		if r := isqrt(n); r*r == n {
			g.p = n
			return g, nil
		}
		return geometry{}, fmt.Errorf("layer %s: %d tokens are neither a square grid nor a class token plus one", name, n)
	}
	return geometry{}, fmt.Errorf("layer %s: output of shape %v is neither a feature map (N,C,H,W) nor tokens (N,tokens,width)", name, shape)
}

func isqrt(n int) int {
	if n < 0 {
		return 0
	}
	return int(math.Sqrt(float64(n)))
}

// Add accumulates a batch of the layer's outputs (shape as ONNX Runtime
// gave it, first dimension the images).
func (s *Stat) Add(shape []int64, data []float32) error {
	g, err := layout(shape, s.Name)
	if err != nil {
		return err
	}
	if g.p < 2 {
		return fmt.Errorf("layer %s: a %v output has one position per channel; a spatial variance needs at least two", s.Name, shape)
	}
	if s.n == 0 {
		s.c, s.p = g.c, g.p
	} else if g.c != s.c || g.p != s.p {
		return fmt.Errorf("layer %s: shape %v changed between batches", s.Name, shape)
	}
	if len(data) < g.b*g.per {
		return fmt.Errorf("layer %s: %d values for shape %v", s.Name, len(data), shape)
	}
	for b := 0; b < g.b; b++ {
		img := data[b*g.per+g.off:]
		if s.Group == 0 {
			var v float64
			for c := 0; c < g.c; c++ {
				v += variance(img[c*g.cStep:], g.p, g.pStep)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return errNonFinite
			}
			s.sum += v / float64(g.c)
		} else {
			if s.groupSum == nil {
				s.groupSum = make([]float64, g.c*g.p)
			}
			for c := 0; c < g.c; c++ {
				row := s.groupSum[c*g.p : (c+1)*g.p]
				x := img[c*g.cStep:]
				for q := range row {
					row[q] += float64(x[q*g.pStep])
				}
			}
			if s.groupN++; s.groupN == s.Group {
				s.closeGroup()
			}
		}
		s.n++
	}
	return nil
}

// errNonFinite is an image whose variance is NaN or infinite: its values
// hold a NaN or an infinity, and the run stops.
var errNonFinite = errors.New("non-finite values")

// variance is the unbiased variance of n values x[0], x[step], ...
func variance(x []float32, n, step int) float64 {
	if step == 1 {
		return variance1(x[:n])
	}
	var mean float64
	for q := 0; q < n; q++ {
		mean += float64(x[q*step])
	}
	mean /= float64(n)
	var ss float64
	for q := 0; q < n; q++ {
		d := float64(x[q*step]) - mean
		ss += d * d
	}
	return ss / float64(n-1)
}

// variance1 is variance for contiguous values (a feature map's), the same
// sums in the same order, without the strided index.
func variance1(x []float32) float64 {
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	return ss / float64(len(x)-1)
}

func (s *Stat) closeGroup() {
	if s.groupN == 0 {
		return
	}
	var v float64
	k := float64(s.groupN)
	for c := 0; c < s.c; c++ {
		row := s.groupSum[c*s.p : (c+1)*s.p]
		var mean float64
		for _, x := range row {
			mean += x / k
		}
		mean /= float64(s.p)
		var ss float64
		for _, x := range row {
			d := x/k - mean
			ss += d * d
		}
		v += ss / float64(s.p-1)
	}
	s.groupTotal += v / float64(s.c)
	s.groups++
	clear(s.groupSum)
	s.groupN = 0
}

// Result is the layer's variance, the images it saw, and for batch-mean
// the size of the last group when the stream did not fill it (0 if full).
func (s *Stat) Result() (v float64, images int64, partial int) {
	if s.Group == 0 {
		return s.sum / float64(s.n), s.n, 0
	}
	partial = s.groupN
	s.closeGroup()
	return s.groupTotal / float64(s.groups), s.n, partial
}
