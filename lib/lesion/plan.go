package lesion

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/model"
	"github.com/lk-robustness/lk/lib/stream"
)

// Eligibility says which units may be drawn: every unit that can become the
// identity, within stage (1-based; 0: all) and, when keep is not nil, whose
// number (within the stage, or over the model) keep holds. Why holds "yes"
// or the reason for every unit.
type Eligibility struct {
	Units []int
	Why   map[int]string
}

// ErrStage is a stage the model does not have.
type ErrStage struct{ Stage, Stages int }

func (e ErrStage) Error() string {
	return fmt.Sprintf("the model has stages 1-%d", e.Stages)
}

// Eligible returns the eligible units of units.
func Eligible(units []Unit, stage int, keep map[int32]bool) (Eligibility, error) {
	maxStage := 0
	e := Eligibility{Why: map[int]string{}}
	for _, u := range units {
		maxStage = max(maxStage, u.Stage)
		k := u.Index
		if stage > 0 {
			k = u.InStage
		}
		switch {
		case stage > 0 && u.Stage != stage:
			e.Why[u.Index] = "no: not in the stage"
		case keep != nil && !keep[int32(k)]:
			e.Why[u.Index] = "no: not among the blocks"
		case u.Identity() != nil:
			e.Why[u.Index] = "no: changes shape"
		default:
			e.Why[u.Index] = "yes"
			e.Units = append(e.Units, u.Index)
		}
	}
	if stage > maxStage || stage < 0 {
		return e, ErrStage{stage, maxStage}
	}
	return e, nil
}

// Job is one lesioned model: the units it drops, drawn as sample Sample
// of N units (SampleName "named" for units given by number).
type Job struct {
	N, Sample  int
	SampleName string
	Units      []int
}

// Draws plans samples independent draws of each count in ns from the
// eligible units (Sample, seeded per draw).
func Draws(e Eligibility, ns []int, samples int, seed uint64) ([]Job, error) {
	var jobs []Job
	for _, n := range ns {
		for k := 0; k < samples; k++ {
			us, err := Sample(e.Units, n, seed, k)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, Job{N: n, Sample: k, SampleName: strconv.Itoa(k), Units: us})
		}
	}
	return jobs, nil
}

// Named is the one job that drops exactly the numbered units, each of
// which must be eligible.
func Named(units []Unit, e Eligibility, numbers []int) (Job, error) {
	for _, k := range numbers {
		if k < 1 || k > len(units) {
			return Job{}, fmt.Errorf("unit %d: the model has units 1-%d", k, len(units))
		}
		if e.Why[k] != "yes" {
			return Job{}, fmt.Errorf("unit %d (%s) is not eligible: %s", k, units[k-1].Name(), e.Why[k])
		}
	}
	return Job{N: len(numbers), SampleName: "named", Units: numbers}, nil
}

// Write writes every job's model into dir, named MODEL-dropN-SAMPLE.onnx,
// with a sidecar whose columns (drop_n, sample, and the model's own) make
// lk-infer tell the copies' rows apart, and a manifest row per model
// (file, model, drop_n, sample, units, blocks) on manifest. Every write is
// checked: a manifest cut short by a full disk would list fewer models
// than were made.
func Write(m *arch.Model, units []Unit, jobs []Job, dir string, manifest io.Writer) error {
	if _, err := fmt.Fprintln(manifest, "file\tmodel\tdrop_n\tsample\tunits\tblocks"); err != nil {
		return err
	}
	for _, j := range jobs {
		var us []Unit
		var nums, names []string
		for _, k := range j.Units {
			us = append(us, units[k-1])
			nums = append(nums, strconv.Itoa(k))
			names = append(names, units[k-1].Name())
		}
		lm, err := Apply(m.Model, us)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-drop%d-%s", m.Config.Name, j.N, j.SampleName)
		file := filepath.Join(dir, name+".onnx")
		if err := lm.Save(file); err != nil {
			return err
		}
		cfg := m.Config
		cfg.Name = name
		cfg.Columns = map[string]string{stream.ColDropN: strconv.Itoa(j.N), stream.ColSample: j.SampleName}
		for k, v := range m.Config.Columns {
			cfg.Columns[k] = v
		}
		if err := model.WriteSidecar(model.SidecarPath(file), cfg); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(manifest, "%s\t%s\t%d\t%s\t%s\t%s\n", file, name, j.N, j.SampleName, strings.Join(nums, ","), strings.Join(names, ",")); err != nil {
			return err
		}
	}
	return nil
}
