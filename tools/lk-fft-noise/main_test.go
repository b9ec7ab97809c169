package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--freqs", "1.5"}, Stdin: img, Err: "values in [0,1]", Usage: true},
		{Args: []string{"--freqs", "0.5,0.5"}, Stdin: img, Err: "given twice", Usage: true},
		{Args: []string{"--width", "0"}, Stdin: img, Err: "--width must be in (0,1]", Usage: true},
		{Args: []string{"--heatmap", "--step", "0"}, Stdin: img, Err: "--heatmap needs", Usage: true},
		{Args: []string{"--std", "0.5,0.5"}, Stdin: img, Err: "std has 2 values"},
		{Args: []string{"--freqs", "0,1"}, Stdin: img},
		{Args: []string{"--heatmap", "--eps", "1", "--step", "16"}, Stdin: img},
	})
}
