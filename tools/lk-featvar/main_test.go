package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk3 := tooltest.Zoo(t, "lk3")
	img := tooltest.Images(t, 8)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk3, "--variance", "max"}, Err: "--variance", Usage: true},
		{Args: []string{"--model", lk3, "--variance", "batch-mean", "--group", "0"}, Err: "--group 0", Usage: true},
		{Args: []string{"--model", lk3, "--batch", "0"}, Err: "--batch 0", Usage: true},
		{Args: []string{"--model", lk3, "--resume"}, Err: "--resume needs --out", Usage: true},
		{Args: []string{"-q", "--model", lk3, "--format", "csv"}, Stdin: img},
		{Args: []string{"--model", lk3, "--list"}},
	})
}
