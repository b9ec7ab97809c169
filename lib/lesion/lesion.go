// Package lesion writes models with residual blocks removed: each dropped
// unit becomes the identity (its input goes straight to its output's
// readers), the lesion study of the paper's Fig. 7 (docs/protocols.md §10).
package lesion

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
)

// Unit is what drops together: one block, or a group of consecutive blocks
// (RepLKNet's RepLKBlock and its ConvFFN; a ViT block's attention and MLP).
type Unit struct {
	Index   int // 1-based over the model
	Stage   int
	InStage int
	Blocks  []arch.Block
}

// Input is the unit's input value and Output its output value.
func (u Unit) Input() string  { return u.Blocks[0].Input }
func (u Unit) Output() string { return u.Blocks[len(u.Blocks)-1].Output }

// Name lists the unit's blocks.
func (u Unit) Name() string {
	var s []string
	for _, b := range u.Blocks {
		s = append(s, b.Name())
	}
	return strings.Join(s, "+")
}

// Identity reports whether the unit can become the identity: same input
// and output shape, and an error that says why not otherwise.
func (u Unit) Identity() error {
	in, out := u.Blocks[0].InShape, u.Blocks[len(u.Blocks)-1].Shape
	if !slices.Equal(in, out) {
		return fmt.Errorf("unit %d (%s) maps shape %v to %v; the identity cannot replace it", u.Index, u.Name(), in, out)
	}
	return nil
}

// Group makes units from blocks: group "1" (each block alone), "N" (N
// consecutive blocks of a stage; the stage's block count must divide), or
// "scope" (consecutive blocks sharing a name scope).
func Group(blocks []arch.Block, group string) ([]Unit, error) {
	var units []Unit
	add := func(bs []arch.Block) {
		k := 1
		if n := len(units); n > 0 && units[n-1].Stage == bs[0].Stage {
			k = units[n-1].InStage + 1
		}
		units = append(units, Unit{Index: len(units) + 1, Stage: bs[0].Stage, InStage: k, Blocks: bs})
	}
	if group == "scope" {
		for i := 0; i < len(blocks); {
			j := i + 1
			for j < len(blocks) && blocks[j].Scope != "" && blocks[j].Scope == blocks[i].Scope && blocks[j].Stage == blocks[i].Stage {
				j++
			}
			add(blocks[i:j])
			i = j
		}
		return units, nil
	}
	n, err := strconv.Atoi(group)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%q: want a positive number of blocks or scope", group)
	}
	for i := 0; i < len(blocks); {
		j := i
		for j < len(blocks) && blocks[j].Stage == blocks[i].Stage {
			j++
		}
		if (j-i)%n != 0 {
			return nil, fmt.Errorf("units of %d blocks: stage %d has %d blocks, not a multiple of %d", n, blocks[i].Stage, j-i, n)
		}
		for k := i; k < j; k += n {
			add(blocks[k : k+n])
		}
		i = j
	}
	return units, nil
}

// Sample draws n distinct units from eligible (ascending unit indices) for
// sample s: a PCG stream seeded with (seed, s), so that each sample is
// reproducible alone, whatever other samples are drawn.
func Sample(eligible []int, n int, seed uint64, s int) ([]int, error) {
	if n > len(eligible) {
		return nil, fmt.Errorf("cannot drop %d units from %d eligible", n, len(eligible))
	}
	r := rand.New(rand.NewPCG(seed, uint64(s)))
	pool := append([]int(nil), eligible...)
	// partial Fisher-Yates: the first n of pool are the sample
	for i := 0; i < n; i++ {
		j := i + r.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
	}
	out := pool[:n]
	sort.Ints(out)
	return out, nil
}

// Apply returns a copy of m with the given units bypassed.
func Apply(m *onnx.Model, units []Unit) (*onnx.Model, error) {
	c := m.Clone()
	sorted := append([]Unit(nil), units...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	// Once a unit is bypassed its output no longer exists: a following
	// unit that read it now reads what replaced it.
	alias := map[string]string{}
	for _, u := range sorted {
		if err := u.Identity(); err != nil {
			return nil, err
		}
		in := u.Input()
		if a, ok := alias[in]; ok {
			in = a
		}
		if err := onnx.Bypass(c.Graph(), in, u.Output()); err != nil {
			return nil, fmt.Errorf("unit %d (%s): %v", u.Index, u.Name(), err)
		}
		alias[u.Output()] = in
	}
	return c, nil
}
