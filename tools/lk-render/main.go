// Command lk-render makes the deterministic image variants behind the
// embedded ImageNet-R and ImageNet-9 twins: renditions (the same object as
// an edge drawing, a silhouette, inverted, posterised; column rendition)
// or background swaps (the object kept, the background taken from another
// image of the same class or of a random class; column variant, scored
// with lk-metrics --by variant, which adds BG-Gap).
//
//	lk-data --gray3 --crop 32 t10k-images-idx3-ubyte.gz | lk-render --renditions all | lk-infer --model m.onnx | lk-metrics --by rendition
//	lk-data --gray3 --crop 32 --limit 2000 t10k-images-idx3-ubyte.gz | lk-render --backgrounds all --seed 1 > in9-twin.arrow
package main

import (
	"io"
	"strings"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/render"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() {
	cli.Main("lk-render", run, cli.Hint[*render.TooLargeError](" (give fewer images, e.g. lk-data --limit or --shard, or raise --max-mb)"))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-render", "usage: lk-render (--renditions LIST | --backgrounds LIST | --cue-conflict) [flags] < images.arrow > images.arrow\n\n", stderr)
	var rend, bgs cli.Strings
	fs.Var(&rend, "renditions", "rendition styles, a list or all ("+strings.Join(render.Renditions, ", ")+")")
	fs.Var(&bgs, "backgrounds", "ImageNet-9 variants, a list or all ("+strings.Join(render.Variants, ", ")+"); the stream is held in memory")
	cue := fs.Bool("cue-conflict", false, "cue-conflict images (the shape bias twin): each image's silhouette filled with the texture of an image of another class, column texture its class; the stream is held in memory")
	seed := fs.Uint64("seed", 0, "seed of the background and texture donors")
	quiet := fs.Bool("q", false, "no progress on stderr")
	maxMB := fs.Int64("max-mb", 4096, "with --backgrounds and --cue-conflict: the most image data held, in MB")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if n := map[bool]int{true: 1}[len(rend) > 0] + map[bool]int{true: 1}[len(bgs) > 0] + map[bool]int{true: 1}[*cue]; n != 1 {
		return cli.Usage("give one of --renditions, --backgrounds and --cue-conflict")
	}
	if err := cli.OneInput(fs); err != nil {
		return err
	}
	if err := stream.RefuseTerminal(stdout); err != nil {
		return err
	}
	outOpts := stream.OutputOptions{W: stdout, Log: stderr}
	o := render.Options{Seed: *seed, MaxBytes: *maxMB << 20, Step: cli.Step(fs, "q"), Progress: cli.Progress(*quiet, stderr)}
	var err error
	switch {
	case *cue:
		return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return render.RunCueConflict(r, outOpts, o) })
	case len(rend) > 0:
		if o.Styles, err = cli.Choose(rend, render.Renditions); err != nil {
			return cli.Usage("--renditions: %v", err)
		}
		return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return render.RunRenditions(r, outOpts, o) })
	}
	if o.Styles, err = cli.Choose(bgs, render.Variants); err != nil {
		return cli.Usage("--backgrounds: %v", err)
	}
	return cli.Inputs(fs.Args(), stdin, func(r *stream.Reader) error { return render.RunBackgrounds(r, outOpts, o) })
}
