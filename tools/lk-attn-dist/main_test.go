package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk31 := tooltest.Zoo(t, "lk31")
	resnet := tooltest.Zoo(t, "resnet")
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk31, "x.arrow"}, Err: "reads no stream", Usage: true},
		{Args: []string{"--model", lk31, "--normalise", "l2"}, Err: "--normalise", Usage: true},
		{Args: []string{"--model", lk31, "--min-kernel", "0"}, Err: "--min-kernel 0", Usage: true},
		{Args: []string{"--model", resnet}, Err: "no depthwise Conv"},
		{Args: []string{"--model", lk31, "--format", "csv"}},
	})
}
