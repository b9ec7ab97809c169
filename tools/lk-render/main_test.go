package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 60)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Stdin: img, Err: "give one of --renditions, --backgrounds and --cue-conflict", Usage: true},
		{Args: []string{"--renditions", "cubism"}, Stdin: img, Err: `--renditions: "cubism"`, Usage: true},
		{Args: []string{"--renditions", "invert,invert"}, Stdin: img, Err: "given twice", Usage: true},
		{Args: []string{"--renditions", "all"}, Stdin: img},
		{Args: []string{"--backgrounds", "original,mixed_rand", "--seed", "1"}, Stdin: img},
	})
}
