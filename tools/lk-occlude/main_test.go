package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--patch", "8", "--ratios", "0.5,0.5"}, Stdin: img, Err: "given twice", Usage: true},
		{Args: []string{"--patch", "8", "--ratios", "1.5"}, Stdin: img, Err: "fractions in [0,1]", Usage: true},
		{Args: []string{"--patch", "8", "--saliency-column", "s", "--saliency-grad", "m.onnx"}, Stdin: img, Err: "give one of", Usage: true},
		{Args: []string{"--patch", "8", "--mode", "salient"}, Stdin: img, Err: "need a saliency", Usage: true},
		{Args: []string{"--patch", "7"}, Stdin: img, Err: "patch 7 does not tile 32x32 images"},
		{Args: []string{"--patch", "8", "--ratios", "0,0.5"}, Stdin: img},
	})
}
