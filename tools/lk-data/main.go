// Command lk-data turns images on disk into an lk image stream: float32
// CHW pixels in [0,1], with id and label columns, preprocessed as
// torchvision's Resize / CenterCrop / ToTensor do.
//
//	lk-data --resize 256 --crop 224 /data/imagenet/val | lk-infer --model resnet50.onnx | lk-metrics
//	lk-data --gray3 --crop 32 testdata/fashion-mnist/t10k-images-idx3-ubyte.gz > fmnist.arrow
//
// The source is a class-folder tree (WordNet-id folders get ImageNet-1k
// labels), a flat folder with --labels, an IDX file, or a list file of
// "path label" lines. ImageNet-C, -P and -9 trees are recognised and add
// their columns (corruption and severity; perturbation, seq, frame and
// difficulty, one row per video frame, decoded with ffmpeg; variant).
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/dataset"
	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/preprocess"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() {
	cli.Main("lk-data", run,
		cli.Hint[*dataset.NeedLabelsError]("; give it with --labels FILE"),
		cli.Hint[*imageio.TooManyPixelsError]("; raise --max-pixels if the image is genuine"),
		cli.Hint[*dataset.UnreadableError](" (--skip-bad skips unreadable images)"),
		cli.Hint[*dataset.SizeError]("; give --resize and --crop"))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("lk-data", "usage: lk-data [flags] SOURCE > images.arrow\n\n"+
		"SOURCE is one of:\n"+
		"  an image file (JPEG, PNG, ...)       one unlabelled image (label -1)\n"+
		"  a folder of class folders            labels from the folder names (ImageNet WordNet ids, numbers, or sorted names)\n"+
		"  a folder of images                   unlabelled, or labelled by --labels\n"+
		"  an IDX file                          with --labels the labels IDX file (MNIST, Fashion-MNIST)\n"+
		"  any other file: a list               one image per line: \"PATH LABEL\" or \"PATH\" (label -1); PATH relative to\n"+
		"                                       the list's folder, LABEL a class index, a WordNet id or -1; # starts a comment\n"+
		"ImageNet-C (CORRUPTION/SEVERITY/WNID), ImageNet-P (PERTURBATION/WNID/*.mp4, needs ffmpeg)\n"+
		"and ImageNet-9 (VARIANT/val/NN_class) trees add their columns. --shard splits videos, not frames.\n\n", stderr)
	labels := fs.String("labels", "", "labels `file`: \"filename label-or-wnid\" lines for a flat folder, or the labels IDX file")
	resize := fs.Int("resize", 0, "resize the shorter side to this many pixels (torchvision Resize(n)); 0: no resize")
	crop := fs.Int("crop", 0, "centre-crop to n x n (zero-padding smaller images, as torchvision CenterCrop); 0: no crop")
	interp := fs.String("interp", "bilinear", "resize filter: bilinear or bicubic (antialiased, as Pillow)")
	gray3 := fs.Bool("gray3", false, "copy grey images to three channels")
	keep := fs.String("keep-labels", "", "keep only images with these labels, e.g. 0-7 or 1,3,5-9, or the 200 classes of imagenet-a, imagenet-r or imagenet-o")
	limit := fs.Int("limit", 0, "take the first n images (after --shuffle); 0: all")
	shuffle := fs.Bool("shuffle", false, "shuffle the images (by a hash of --seed and the image id)")
	seed := fs.Int64("seed", 0, "seed for --shuffle")
	shard := fs.String("shard", "", "`k/n`: keep only shard k (0-based) of n, a partition by image id; auto: the task of a Slurm job array (SLURM_ARRAY_TASK_ID); auto/N: of a Kubernetes Indexed Job of N (JOB_COMPLETION_INDEX)")
	numClasses := fs.Int("num-classes", 0, "the label space has `N` classes: a label outside 0..N-1 (or -1, unknown) is refused (labels given as ImageNet WordNet ids are always checked against ImageNet-1k's 1000)")
	skipBad := fs.Bool("skip-bad", false, "skip unreadable images (counted on stderr) instead of failing")
	var tags cli.Strings
	fs.Var(&tags, "tag", "constant columns `name=value`, a list (e.g. variant=mixed_same), to tell sets apart when scored together")
	maxPixels := fs.Int("max-pixels", imageio.DefaultMaxPixels, "refuse images whose header claims more pixels (decompression bombs)")
	workers := fs.Int("workers", 0, "decoding goroutines (0: all cores)")
	rows := fs.Int("rows", stream.DefaultBatchRows, "rows per record batch")
	quiet := fs.Bool("q", false, "no progress on stderr")
	classMap := fs.String("class-map", "", "map a class-folder tree's folders to ImageNet-1k classes: a `file` of \"FOLDER CLASS[,CLASS...]\" lines (indices or WordNet ids); labels become the smallest class of the folder's group, and lk-metrics scores a prediction in the group as right (ObjectNet)")
	skipUnmapped := fs.Bool("skip-unmapped", false, "with --class-map: leave out the images of folders the map does not list (ObjectNet's classes outside ImageNet) instead of failing")
	trim := fs.Int("trim", 0, "cut this many pixels off every side before resizing (ObjectNet: 1, its border)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usage("want one SOURCE, got %d", fs.NArg())
	}
	filter, err := preprocess.FilterByName(*interp)
	if err != nil {
		return cli.Usage("--interp: %v", err)
	}
	if *resize < 0 || *crop < 0 || *limit < 0 || *rows <= 0 || *trim < 0 {
		return cli.Usage("--resize, --crop, --trim and --limit must be >= 0 and --rows > 0")
	}
	if *skipUnmapped && *classMap == "" {
		return cli.Usage("--skip-unmapped is for --class-map")
	}
	k, n := 0, 1
	if *shard != "" {
		var from string
		if k, n, from, err = cli.Shard(*shard, os.Getenv); err != nil {
			return cli.Usage("--shard %v", err)
		}
		if from != "" {
			fmt.Fprintf(stderr, "lk-data: shard %d/%d, from %s\n", k, n, from)
			// provenance names the shard, so that a shard's file is
			// never resumed by another shard's run
			if err := fs.Set("shard", fmt.Sprintf("%d/%d", k, n)); err != nil {
				return err
			}
		}
	}
	if err := stream.RefuseTerminal(stdout); err != nil {
		return err
	}
	src, err := dataset.Open(fs.Arg(0), *labels)
	if err != nil {
		return err
	}
	var groups *imagenet.ClassGroups
	if *classMap != "" {
		m, err := dataset.ReadClassMap(*classMap)
		if err != nil {
			return fmt.Errorf("--class-map: %v", err)
		}
		if groups, err = src.MapClasses(m, *skipUnmapped); err != nil {
			return fmt.Errorf("--class-map %s: %v", *classMap, err)
		}
	}
	for _, note := range src.Notes {
		fmt.Fprintf(stderr, "lk-data: %s\n", note)
	}
	if *numClasses < 0 {
		return cli.Usage("--num-classes %d: want a positive number", *numClasses)
	}
	if *numClasses > 0 {
		if err := dataset.CheckLabels(src.Items, *numClasses, fs.Arg(0)); err != nil {
			return fmt.Errorf("%v (--num-classes %d)", err, *numClasses)
		}
	}
	all := src.Items
	if *keep != "" {
		set, err := dataset.LabelSet(*keep)
		if err != nil {
			return cli.Usage("--keep-labels %v", err)
		}
		all = dataset.KeepLabels(all, set)
	}
	items := dataset.Order(all, *shuffle, *seed, *limit, k, n)
	step := cli.Step(fs, "workers", "q").With("", "", map[string]string{"source": src.Kind})
	if *shuffle {
		step.Seed = seed
	}
	md, err := stream.AddStep(arrow.Metadata{}, step)
	if err != nil {
		return err
	}
	if groups != nil {
		md = stream.WithMeta(md, stream.MetaClassGroups, groups.String())
	}
	var tagList [][2]string
	seen := map[string]bool{"id": true, "label": true, "image": true}
	for _, t := range tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return cli.Usage("--tag %q: want name=value", t)
		}
		if seen[k] {
			return cli.Usage("--tag %q: column %s is already in the stream", t, k)
		}
		seen[k] = true
		tagList = append(tagList, [2]string{k, v})
	}
	o := dataset.WriteOptions{Tags: tagList,
		Spec:      preprocess.Spec{Resize: *resize, CropH: *crop, CropW: *crop, Filter: filter, Gray3: *gray3, Trim: *trim},
		MaxPixels: *maxPixels, SkipBad: *skipBad, Workers: *workers, BatchRows: *rows,
		Meta: md, Log: cli.Prefixed(stderr, "lk-data: "),
	}
	o.Progress = cli.Progress(*quiet, stderr)
	skipped, err := dataset.Write(src, items, stdout, o)
	if skipped > 0 {
		fmt.Fprintf(stderr, "lk-data: skipped %d of %d images as unreadable\n", skipped, len(items))
	}
	return err
}
