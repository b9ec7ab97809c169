// Package freqnoise perturbs images with noise limited to a band of
// spatial frequencies (Park & Kim 2022, the paper's Fig. 8): sign-Gaussian
// noise eps sign(N(0,1)) per pixel and channel, band-passed to the square
// annulus of fourier.Band at frequency f with half-width s, added to the
// image. The accuracy drop per band shows which frequencies a model
// relies on.
package freqnoise

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/fourier"
	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/vec"
)

// Options configure Run.
type Options struct {
	Freqs []float64 // band centres, in units of pi
	Width float64   // half-width s, in units of pi
	Eps   float64   // noise size in pixel units; per channel times Std when set
	Std   []float64 // a model's std: eps then applies in its normalised space, as Park & Kim add it
	Seed  uint64
	Clip  bool        // clip the result to [0,1] (the stream contract); Park & Kim do not
	Step  stream.Step // provenance: the tool and its command line (cli.Step)
	// Progress hears the progress line (nil: none).
	Progress io.Writer
}

// Draw is one image's sign noise, transformed once: the spectra of its
// channels, which every band filters. It depends only on seed and id.
type Draw []fourier.Spectrum

// NewDraw draws the sign noise sign(N(0,1)) of one image (id) and
// transforms each channel.
func NewDraw(plan *fourier.Plan, sh stream.Shape, seed uint64, id string) Draw {
	h := fnv.New64a()
	io.WriteString(h, id)
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	base := make([]float64, sh.H*sh.W)
	d := make(Draw, sh.C)
	for c := range d {
		for i := range base {
			base[i] = 1
			if vec.NormFloat64(r) < 0 {
				base[i] = -1
			}
		}
		d[c] = plan.Forward(nil, base)
	}
	return d
}

// Band returns the draw band-passed by mask and scaled by eps (times the
// channel's std when given), CHW.
func (d Draw) Band(plan *fourier.Plan, mask []float64, eps float64, std []float64) []float32 {
	hw := plan.H * plan.W
	out := make([]float32, len(d)*hw)
	s := make(fourier.Spectrum, len(d[0]))
	for c, spec := range d {
		for i, v := range spec {
			s[i] = v * complex(mask[i], 0)
		}
		e := eps
		if len(std) > 0 {
			e *= std[c%len(std)]
		}
		for i, v := range plan.Inverse(nil, s) {
			out[c*hw+i] = float32(e * v)
		}
	}
	return out
}

// Noise returns the band-passed noise for one image (CHW).
func Noise(plan *fourier.Plan, sh stream.Shape, band []float64, eps float64, std []float64, seed uint64, id string) []float32 {
	return NewDraw(plan, sh, seed, id).Band(plan, band, eps, std)
}

// Run writes every record of r once per frequency, in that order, with the
// noise added to the images and a freq column appended.
func Run(r *stream.Reader, out stream.OutputOptions, o Options) error {
	t, err := stream.NewTransformer(r, out, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}), len(o.Freqs),
		arrow.Field{Name: stream.ColFreq, Type: arrow.PrimitiveTypes.Float64})
	if err != nil {
		return err
	}
	sh := t.Cols.Shape
	if len(o.Std) > 0 && len(o.Std) != sh.C {
		return fmt.Errorf("std has %d values, the images have %d channels", len(o.Std), sh.C)
	}
	plan := fourier.NewPlan(sh.H, sh.W)
	bands := make([][]float64, len(o.Freqs))
	for k, f := range o.Freqs {
		bands[k] = fourier.Band(sh.H, sh.W, f*math.Pi, o.Width*math.Pi)
	}
	sz := sh.Size()
	t.Count = progress.New(o.Progress, "lk-fft-noise", "images", t.Total)
	return t.Each(func(rec arrow.Record, px []float32, n int) error {
		ids := rec.Column(t.Cols.ID).(*array.String)
		draws := make([]Draw, n) // each image's noise transformed once, for every band
		for i := range draws {
			draws[i] = NewDraw(plan, sh, o.Seed, ids.Value(i))
		}
		for k, f := range o.Freqs {
			out := make([]float32, n*sz)
			for i := 0; i < n; i++ {
				noise := draws[i].Band(plan, bands[k], o.Eps, o.Std)
				for j, v := range px[i*sz : (i+1)*sz] {
					out[i*sz+j] = clip(v+noise[j], o.Clip)
				}
			}
			if err := t.Write(rec, out, stream.ConstFloat64(f, n)); err != nil {
				return err
			}
		}
		return nil
	})
}

func clip(x float32, on bool) float32 {
	if on {
		return min(max(x, 0), 1)
	}
	return x
}

// Basis is the real Fourier basis image of frequency (u, v) on an H x W
// grid, cos(2 pi (u y / H + v x / W)), scaled to L2 norm 1: the
// perturbation direction of Yin et al.'s Fourier heat map.
func Basis(h, w, u, v int) []float64 {
	b := make([]float64, h*w)
	var ss float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := math.Cos(2 * math.Pi * (float64(u*y)/float64(h) + float64(v*x)/float64(w)))
			b[y*w+x] = c
			ss += c * c
		}
	}
	n := math.Sqrt(ss)
	for i := range b {
		b[i] /= n
	}
	return b
}

// RunHeatmap writes every record of r once per frequency (u, v) of the
// centred grid (every step-th in each direction), the images moved by
// eps times the unit basis image of (u, v), with a random sign per image
// and channel (Yin et al. 2019), and columns fu and fv. Scored per (fu,
// fv), it is the Fourier heat map of a model's sensitivity.
// Of o it reads Eps, Seed, Clip, Step and Progress.
func RunHeatmap(r *stream.Reader, out stream.OutputOptions, o Options, step int) error {
	eps, seed, clipped := o.Eps, o.Seed, o.Clip
	t, err := stream.NewTransformer(r, out, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(seed, 10)}), 0,
		arrow.Field{Name: stream.ColFU, Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: stream.ColFV, Type: arrow.PrimitiveTypes.Int64})
	if err != nil {
		return err
	}
	sh := t.Cols.Shape
	type freq struct{ u, v int }
	var fr []freq
	for u := -sh.H / 2; u < sh.H-sh.H/2; u += step {
		for v := -sh.W / 2; v < sh.W-sh.W/2; v += step {
			fr = append(fr, freq{u, v})
		}
	}
	t.Count = progress.New(o.Progress, "lk-fft-noise --heatmap", "images", 0)
	basis := make([][]float64, len(fr))
	for k, f := range fr {
		basis[k] = Basis(sh.H, sh.W, f.u, f.v)
	}
	sz, hw := sh.Size(), sh.H*sh.W
	return t.Each(func(rec arrow.Record, px []float32, n int) error {
		ids := rec.Column(t.Cols.ID).(*array.String)
		for k, f := range fr {
			out := make([]float32, n*sz)
			for i := 0; i < n; i++ {
				h := fnv.New64a()
				fmt.Fprintf(h, "%s\x00%d\x00%d", ids.Value(i), f.u, f.v)
				rs := rand.New(rand.NewPCG(seed, h.Sum64()))
				for c := 0; c < sh.C; c++ {
					e := eps
					if rs.IntN(2) == 0 {
						e = -eps
					}
					for j := 0; j < hw; j++ {
						out[i*sz+c*hw+j] = clip(px[i*sz+c*hw+j]+float32(e*basis[k][j]), clipped)
					}
				}
			}
			if err := t.Write(rec, out, stream.ConstInt64(int64(f.u), n), stream.ConstInt64(int64(f.v), n)); err != nil {
				return err
			}
		}
		return nil
	})
}
