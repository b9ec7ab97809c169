// Command lk-occlude drops patches of the images of a stream (black, in
// [0,1] pixel space, before any normalisation) for the occlusion
// experiments of the paper's Fig. 4: at random (a sweep of ratios of the
// patch grid), or by saliency (a sweep of lambda, the fraction of saliency
// mass: salient drop removes the patches holding it, non-salient drop
// keeps only them). Columns drop_mode and drop_ratio are appended.
//
//	lk-data --resize 256 --crop 224 /data/imagenet/val | lk-occlude --mode random \
//	  | lk-infer --model replknet31b.onnx | lk-metrics --by drop_mode,drop_ratio
//	lk-data ... | lk-occlude --mode salient,nonsalient --saliency-model dino_vits16.onnx --head 1 | ...
package main

import (
	"io"
	"slices"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/grad"
	"github.com/lk-robustness/lk/lib/occlude"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() {
	cli.Main("lk-occlude", run, cli.Hint[*occlude.PatchGridError](": give --patch the model's patch size"))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-occlude", "usage: lk-occlude [flags] < images.arrow > images.arrow\n\n", stderr)
	var modes cli.Strings
	var ratios, lambdas cli.Numbers
	fs.Var(&modes, "mode", "drop modes, a list: random, salient, nonsalient (default random)")
	fs.Var(&ratios, "ratios", "random drop: fractions of the patches (default 0,0.1,...,0.9, the reference's k N // 10)")
	fs.Var(&lambdas, "lambdas", "salient modes: fractions of the saliency mass (default 0.1,...,1)")
	patch := fs.Int("patch", 16, "patch side in pixels (224-pixel images: 16, a 14x14 grid; the 32-pixel zoo: 4, its ViT's 8x8 patches)")
	seed := fs.Uint64("seed", 0, "seed of the random patches")
	perImage := fs.Bool("per-image", false, "draw random patches per image (default: once per --batch rows, as the reference draws once per batch)")
	batch := fs.Int("batch", 256, "rows that share one random draw (the reference's batch size); counted along the stream, not per record")
	salModel := fs.String("saliency-model", "", "ONNX vision transformer whose last attention gives the saliency (e.g. DINO ViT-S/16; its sidecar gives the normalisation)")
	head := fs.Int("head", 1, "attention head of the saliency model (the paper's 1); -1: the mean over heads")
	salGrad := fs.String("saliency-grad", "", "ONNX model whose input gradient gives the saliency: per patch, the sum of |d cross-entropy / d pixel| at the true label")
	salCol := fs.String("saliency-column", "", "stream column holding the saliency instead: float32 lists, one value per patch, row-major")
	quiet := fs.Bool("q", false, "no progress on stderr")
	salBatch := fs.Int("saliency-batch", 64, "images per run of the saliency model (attention or gradient)")
	rt := cli.RuntimeFlags(fs, 0, "")
	out := cli.OutFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	if err := rt.Check(); err != nil {
		return err
	}
	if *salBatch <= 0 {
		return cli.Usage("--saliency-batch %d: want a positive number", *salBatch)
	}
	if *batch <= 0 {
		return cli.Usage("--batch %d: want a positive number", *batch)
	}
	ortOpts := ort.Options{Threads: rt.Threads, Provider: rt.Provider, Device: rt.Device}
	if len(modes) == 0 {
		modes = cli.Strings{occlude.Random}
	}
	if len(ratios) == 0 {
		for k := 0; k < 10; k++ {
			ratios = append(ratios, float64(k)/10)
		}
	}
	if len(lambdas) == 0 {
		for k := 1; k <= 10; k++ {
			lambdas = append(lambdas, float64(k)/10)
		}
	}
	o := occlude.Options{Modes: modes, Ratios: ratios, Lambdas: lambdas, Patch: *patch, Seed: *seed,
		PerImage: *perImage, Batch: *batch, Step: cli.Step(fs, "threads", "device", "saliency-batch", "q"), Progress: cli.Progress(*quiet, stderr)}
	if err := cli.Distinct(o.Ratios); err != nil {
		return cli.Usage("--ratios: %v", err)
	}
	if err := cli.Distinct(o.Lambdas); err != nil {
		return cli.Usage("--lambdas: %v", err)
	}
	for _, v := range append(append([]float64{}, o.Ratios...), o.Lambdas...) {
		if v < 0 || v > 1 {
			return cli.Usage("--ratios and --lambdas are fractions in [0,1], got %v", v)
		}
	}
	if (*salModel != "") && (*salCol != "") || (*salModel != "") && (*salGrad != "") || (*salCol != "") && (*salGrad != "") {
		return cli.Usage("give one of --saliency-model, --saliency-grad and --saliency-column")
	}
	if *salModel == "" && *salGrad == "" && *salCol == "" && (slices.Contains(modes, occlude.Salient) || slices.Contains(modes, occlude.NonSalient)) {
		return cli.Usage("--mode salient and nonsalient need a saliency: --saliency-model (a ViT's attention), --saliency-grad (a model's gradient) or --saliency-column")
	}
	outOpts, err := out.Options(stdin, stdout, stderr, fs.Args())
	if err != nil {
		return err
	}
	switch {
	case *salModel != "":
		a, err := occlude.OpenAttention(*salModel, *head, *salBatch, ortOpts)
		if err != nil {
			return err
		}
		defer a.Close()
		arch.Say(o.Progress, "lk-occlude", a.Notes...)
		o.Saliency = a
	case *salGrad != "":
		g, err := grad.Open(*salGrad, stream.Shape{}, nil, nil, grad.CrossEntropy, ortOpts)
		if err != nil {
			return err
		}
		defer g.Close()
		arch.Say(o.Progress, "lk-occlude", g.Model.Notes...)
		o.Saliency = occlude.Gradient{G: g, Batch: *salBatch}
	case *salCol != "":
		o.Saliency = occlude.Column{Name: *salCol}
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return occlude.Run(r, outOpts, o) })
}
