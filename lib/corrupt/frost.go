package corrupt

import (
	"cmp"
	"math"
	"slices"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/vec"
)

// The procedural frost's level distribution: a normal of this mean and
// spread (8-bit levels), clipped to 0..255. Chosen so that frost changes
// real photos as much as the reference's photographs do: on three 224-px
// photos (scikit-learn's china.jpg and flower.jpg, matplotlib's
// grace_hopper.jpg) the reference's frost changes pixels by a mean of 53,
// 63, 77, 72 and 83 levels at severities 1-5 and leaves a mean level of
// 157, 166, 179, 171 and 184 (TestFrostMatchesReference).
const (
	frostMean   = 168
	frostSpread = 75
	frostSize   = 512 // the photographs are 527x350 to 900x600
)

// proceduralFrost stands in for frost photograph idx (0-4) when the user
// has none: ice crystals (needles that branch at 60 degrees, as ice's
// hexagonal lattice makes them) over an uneven haze, on a torus so that
// every crop is alike, then mapped by rank onto the level distribution
// above with a cold tint. Seeded by idx alone: the same five textures on
// every run. It is not the photographs: their exact crystal shapes and
// colours differ, so frost numbers differ from the released ImageNet-C's.
func proceduralFrost(idx int) *imageio.Image {
	n := frostSize
	r := newRNG(0xf7057, uint64(idx))
	acc := make([]float64, n*n)
	for k := 0; k < 160; k++ {
		x, y := r.Float64()*float64(n), r.Float64()*float64(n)
		theta := r.Float64() * 2 * math.Pi
		needle(acc, n, x, y, theta, 30+r.Float64()*120, 0.3+r.Float64()*0.4, 3, r)
	}
	haze := plasma(n, 1.8, r)
	v := make([]float64, n*n)
	for i := range v {
		crystal := 1 - vec.Exp(-1.5*acc[i])
		v[i] = 0.25*haze[i] + crystal + 0.12*r.Float64()
	}
	plane := newImg(n, n)
	for i, x := range v {
		plane.Pix[3*i] = x
	}
	plane = separable(plane, gaussTaps(0.7, 4), reflectHalf)
	for i := range v {
		v[i] = plane.Pix[3*i]
	}
	// rank -> level: the quantile of a normal(frostMean, frostSpread)
	order := make([]int, len(v))
	for i := range order {
		order[i] = i
	}
	// by value, ties by position: one order however the sort proceeds
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(v[a], v[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	img := &imageio.Image{W: n, H: n, C: 3, Pix: make([]uint8, n*n*3)}
	tint := [3]float64{-10, -2, 8} // bluish white, as the photographs
	for rank, i := range order {
		p := (float64(rank) + 0.5) / float64(len(order))
		level := frostMean + frostSpread*math.Sqrt2*math.Erfinv(2*p-1)
		for c := 0; c < 3; c++ {
			img.Pix[3*i+c] = uint8(math.Round(max(0, min(255, level+tint[c]))))
		}
	}
	return img
}

// needle deposits an ice needle from (x, y) in direction theta, length
// long, brightness w, into acc (n x n, wrapping), with side branches at
// +-60 degrees that branch again until depth runs out.
func needle(acc []float64, n int, x, y, theta, long, w float64, depth int, r *rng) {
	const step = 0.5
	next := 3 + r.Float64()*6 // distance to the next side branch
	for t := 0.0; t < long; t += step {
		theta += (r.Float64() - 0.5) * 0.02 // needles bend a little
		x += step * math.Cos(theta)
		y += step * math.Sin(theta)
		splat(acc, n, x, y, w*(1-0.6*t/long))
		if depth > 0 && t >= next {
			side := math.Pi / 3
			if r.IntN(2) == 0 {
				side = -side
			}
			rest := long - t
			needle(acc, n, x, y, theta+side, rest*(0.1+0.25*r.Float64()), w*0.8, depth-1, r)
			next = t + 3 + r.Float64()*6
		}
	}
}

// splat adds w at (x, y) shared bilinearly among the four nearest pixels.
func splat(acc []float64, n int, x, y, w float64) {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	for _, c := range [4]struct {
		dy, dx int
		f      float64
	}{{0, 0, (1 - fy) * (1 - fx)}, {0, 1, (1 - fy) * fx}, {1, 0, fy * (1 - fx)}, {1, 1, fy * fx}} {
		yy := ((int(y0)+c.dy)%n + n) % n
		xx := ((int(x0)+c.dx)%n + n) % n
		acc[yy*n+xx] += w * c.f
	}
}
