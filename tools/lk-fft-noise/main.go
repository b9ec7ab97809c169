// Command lk-fft-noise adds noise limited to a band of spatial frequencies
// to an image stream, one copy per band (column freq, in units of pi): the
// accuracy drop per band is the paper's Fig. 8 (Park & Kim's method).
//
//	lk-data --gray3 --crop 32 --keep-labels 0-7 --limit 1000 t10k-images-idx3-ubyte.gz \
//	  | lk-fft-noise --eps 0.1 --freqs 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1 \
//	  | lk-infer --model lk31.onnx | lk-metrics --by freq
package main

import (
	"io"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/freqnoise"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-fft-noise", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-fft-noise", "usage: lk-fft-noise [flags] < images.arrow > images.arrow\n\n", stderr)
	var o freqnoise.Options
	var freqs cli.Numbers
	var std cli.Floats
	fs.Var(&freqs, "freqs", "band centres f in units of pi (0: lowest, 1: Nyquist), a list (default 0,0.1,...,1)")
	cli.FloatVar(fs, &o.Width, "width", 0.1, "half-width s of the square band, in units of pi (the paper's 0.1 pi window; Park & Kim's default is 0.2)")
	cli.FloatVar(fs, &o.Eps, "eps", 0.03, "noise size before band-passing, in pixel units (with --std: in the model's normalised units)")
	fs.Var(&std, "std", "the model's per-channel std: eps is then added in normalised space, as Park & Kim do (their eps 0.007)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the sign noise (one draw per image, shared by its bands)")
	heat := fs.Bool("heatmap", false, "Fourier heat map instead (Yin et al. 2019): one copy per frequency (u, v) of the grid, moved by eps times the unit-norm basis image, random sign per image and channel; columns fu, fv")
	step := fs.Int("step", 1, "--heatmap: every step-th frequency in each direction")
	quiet := fs.Bool("q", false, "no progress on stderr")
	fs.BoolVar(&o.Clip, "clip", true, "clip to [0,1], the stream's pixel range (Park & Kim do not clip: --clip=false)")
	out := cli.OutFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	outOpts, err := out.Options(stdin, stdout, stderr, fs.Args())
	if err != nil {
		return err
	}
	if *heat {
		if *step < 1 || o.Eps <= 0 {
			return cli.Usage("--heatmap needs --step >= 1 and --eps > 0 (the L2 norm of the perturbation)")
		}
		o.Step, o.Progress = cli.Step(fs, "q"), cli.Progress(*quiet, stderr)
		return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error {
			return freqnoise.RunHeatmap(r, outOpts, o, *step)
		})
	}
	if len(freqs) == 0 {
		for i := 0; i <= 10; i++ {
			freqs = append(freqs, float64(i)/10)
		}
	}
	for _, f := range freqs {
		if f < 0 || f > 1 {
			return cli.Usage("--freqs %v: want values in [0,1] (units of pi)", f)
		}
	}
	if o.Width <= 0 || o.Width > 1 || o.Eps < 0 {
		return cli.Usage("--width must be in (0,1] (units of pi: 1 spans every frequency) and --eps >= 0")
	}
	o.Freqs = freqs
	if err := cli.Distinct(o.Freqs); err != nil {
		return cli.Usage("--freqs: %v", err)
	}
	for _, v := range std {
		o.Std = append(o.Std, float64(v))
	}
	o.Step, o.Progress = cli.Step(fs, "q"), cli.Progress(*quiet, stderr)
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return freqnoise.Run(r, outOpts, o) })
}
