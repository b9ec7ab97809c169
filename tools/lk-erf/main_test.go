package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk3, vit := tooltest.Zoo(t, "lk3"), tooltest.Zoo(t, "vit")
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--images", "5"}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk3, "--images", "0"}, Err: "--images 0: want at least 1", Usage: true},
		{Args: []string{"--model", lk3, "--batch", "0"}, Err: "--batch 0: want a positive number", Usage: true},
		{Args: []string{"--model", vit}, Stdin: img, Err: "name one with --node"},
		{Args: []string{"--model", lk3, "--node", "nosuch"}, Stdin: img, Err: `no node outputs a value named "nosuch"`},
		{Args: []string{"-q", "--model", lk3, "--images", "4", "--node", "/stages.0/stages.0.1/Add_output_0", "--format", "csv"}, Stdin: img},
		{Args: []string{"-q", "--model", lk3, "--images", "4", "--format", "csv"}, Stdin: img},
		{Args: []string{"-q", "--model", lk3, "--images", "4", "--areas", "--format", "csv"}, Stdin: img},
	})
}
