// Command lk-lesion writes copies of an ONNX model with residual blocks
// replaced by the identity, for the lesion study (the paper's Fig. 7): for
// each drop count in --n and each of --samples draws, a model with that
// many units dropped, chosen with --seed from the eligible units, and a
// manifest of what each dropped.
//
//	lk-lesion --model replknet31b.onnx --group 2 --list
//	lk-lesion --model replknet31b.onnx --group 2 --stage 3 --n 1 --samples 10 --out lesion/
//	for m in lesion/*.onnx; do lk-infer --model $m < val.arrow > $m.preds.arrow; done
//	lk-metrics --by drop_n,sample lesion/*.preds.arrow
//
// A unit is --group consecutive blocks of a stage (2: RepLKNet's RepLKBlock
// with its ConvFFN), or the blocks sharing a name scope (--group scope: a
// ViT block's attention and MLP residuals). --drop names units one by one
// (unit numbers as --list prints them). Each written model has a sidecar
// with columns drop_n and sample, which lk-infer appends to its rows.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/cli"
	"github.com/lk-robustness/lk/lib/lesion"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/stream"
)

func main() { cli.Main("lk-lesion", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lk-lesion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("model", "", "ONNX model `file` (required)")
	out := fs.String("out", "", "`folder` for the lesioned models and manifest.tsv (required unless --list)")
	group := fs.String("group", "1", "blocks per unit: a number (consecutive blocks of a stage) or scope")
	stage := fs.Int("stage", 0, "draw only from this stage (1-based; 0: all stages)")
	blocks := fs.String("blocks", "", "draw only from these units, numbered within --stage (or over the model), e.g. 1-18")
	var ns cli.Strings
	fs.Var(&ns, "n", "units to drop per model, a list (e.g. 1,2,4); default 1")
	samples := fs.Int("samples", 1, "models per drop count, each an independent draw")
	seed := fs.Uint64("seed", 0, "seed of the draws")
	var drop cli.Strings
	fs.Var(&drop, "drop", "drop exactly these units (numbers as --list prints), one model")
	list := fs.Bool("list", false, "print the blocks and units found, and which are eligible, then exit")
	size := cli.InputSize(fs)
	fs.Usage = func() {
		io.WriteString(stderr, "usage: lk-lesion --model m.onnx [--group n|scope] [--stage s] [--blocks a-b] [--n 1,2] [--samples k] --out DIR\n")
		fs.PrintDefaults()
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return cli.Usage("--model is required")
	}
	if *out == "" && !*list {
		return cli.Usage("--out is required")
	}
	if *samples < 1 {
		return cli.Usage("--samples %d: want a positive number", *samples)
	}
	shape := size.Shape
	m, err := arch.Open(*path, shape, 0)
	if err != nil {
		return err
	}
	if len(m.Blocks) == 0 {
		return arch.NoBlocks(*path)
	}
	units, err := lesion.Group(m.Blocks, *group)
	if err != nil {
		return cli.Usage("%v", err)
	}
	eligible, why, err := eligibleUnits(units, *stage, *blocks)
	if err != nil {
		return err
	}
	if *list {
		if err := arch.List(stdout, m.Config.Name, m.Blocks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# %d units (--group %s), %d eligible\n", len(units), *group, len(eligible))
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "unit\tstage\tin_stage\teligible\tblocks")
		for _, u := range units {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", u.Index, u.Stage, u.InStage, why[u.Index], u.Name())
		}
		return tw.Flush()
	}
	if len(eligible) == 0 {
		return fmt.Errorf("model %s: no eligible units (see --list)", *path)
	}
	type job struct {
		n, sample  int
		sampleName string
		units      []int
	}
	var jobs []job
	if len(drop) > 0 {
		var us []int
		for _, d := range drop {
			k, err := strconv.Atoi(d)
			if err != nil || k < 1 || k > len(units) {
				return cli.Usage("--drop %q: want unit numbers 1-%d (see --list)", d, len(units))
			}
			if why[k] != "yes" {
				return fmt.Errorf("--drop %d: unit %d (%s) is not eligible: %s", k, k, units[k-1].Name(), why[k])
			}
			us = append(us, k)
		}
		jobs = append(jobs, job{n: len(us), sampleName: "named", units: us})
	} else {
		if len(ns) == 0 {
			ns = cli.Strings{"1"}
		}
		for _, s := range ns {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return cli.Usage("--n %q: want positive numbers", s)
			}
			for k := 0; k < *samples; k++ {
				us, err := lesion.Sample(eligible, n, *seed, k)
				if err != nil {
					return fmt.Errorf("--n %d: %v (see --list)", n, err)
				}
				jobs = append(jobs, job{n: n, sample: k, sampleName: strconv.Itoa(k), units: us})
			}
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	man, err := os.Create(filepath.Join(*out, "manifest.tsv"))
	if err != nil {
		return err
	}
	defer man.Close()
	// a manifest cut short by a full disk would list fewer models than
	// were made: every write is checked
	w := &errWriter{w: io.MultiWriter(man, stdout)}
	fmt.Fprintln(w, "file\tmodel\tdrop_n\tsample\tunits\tblocks")
	for _, j := range jobs {
		var us []lesion.Unit
		var nums, names []string
		for _, k := range j.units {
			us = append(us, units[k-1])
			nums = append(nums, strconv.Itoa(k))
			names = append(names, units[k-1].Name())
		}
		lm, err := lesion.Apply(m.Model, us)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-drop%d-%s", m.Config.Name, j.n, j.sampleName)
		file := filepath.Join(*out, name+".onnx")
		if err := lm.Save(file); err != nil {
			return err
		}
		cfg := m.Config
		cfg.Name = name
		cfg.Columns = map[string]string{stream.ColDropN: strconv.Itoa(j.n), stream.ColSample: j.sampleName}
		for k, v := range m.Config.Columns {
			cfg.Columns[k] = v
		}
		if err := writeSidecar(model.SidecarPath(file), cfg); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", file, name, j.n, j.sampleName, strings.Join(nums, ","), strings.Join(names, ","))
		if w.err != nil {
			return fmt.Errorf("writing %s: %v", man.Name(), w.err)
		}
	}
	if w.err != nil {
		return fmt.Errorf("writing %s: %v", man.Name(), w.err)
	}
	if err := man.Close(); err != nil {
		return fmt.Errorf("writing %s: %v", man.Name(), err)
	}
	return nil
}

// errWriter keeps the first write error, so that a run of Fprintf calls
// is checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// eligibleUnits returns the units that may be drawn, and for every unit
// "yes" or why not.
func eligibleUnits(units []lesion.Unit, stage int, blocks string) ([]int, map[int]string, error) {
	var keep func(int) bool
	if blocks != "" {
		set, err := cli.IntSet(blocks)
		if err != nil {
			return nil, nil, cli.Usage("--blocks %q: %v", blocks, err)
		}
		keep = func(k int) bool { return set[int32(k)] }
	}
	maxStage := 0
	why := map[int]string{}
	var ok []int
	for _, u := range units {
		maxStage = max(maxStage, u.Stage)
		k := u.Index
		if stage > 0 {
			k = u.InStage
		}
		switch {
		case stage > 0 && u.Stage != stage:
			why[u.Index] = "no: not in --stage"
		case keep != nil && !keep(k):
			why[u.Index] = "no: not in --blocks"
		case u.Identity() != nil:
			why[u.Index] = "no: changes shape"
		default:
			why[u.Index] = "yes"
			ok = append(ok, u.Index)
		}
	}
	if stage > maxStage || stage < 0 {
		return nil, nil, cli.Usage("--stage %d: the model has stages 1-%d (see --list)", stage, maxStage)
	}
	return ok, why, nil
}

func writeSidecar(path string, c model.Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
