package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk3 := tooltest.Zoo(t, "lk3")
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--attack", "fgsm", "--eps", "0.1"}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk3}, Err: "--attack is required", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "cw"}, Err: `--attack "cw"`, Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm"}, Err: "--eps is required", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "2"}, Err: "want numbers in [0,1]", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "0.1", "--steps", "3"}, Err: "FGSM is one step", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "pgd", "--eps", "0.1,0.1"}, Err: "given twice", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "taig", "--steps", "5,10"}, Err: "one iteration count", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "0.01", "--batch", "0"}, Err: "--batch 0: want a positive number", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "0.01", "--provider", "tpu"}, Err: `--provider "tpu": want cpu or cuda`, Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "0.01", "--device", "1"}, Err: "--device 1 needs --provider cuda", Usage: true},
		{Args: []string{"--model", lk3, "--attack", "fgsm", "--eps", "0.01", "--provider", "cuda", "--device", "-1"}, Err: "--device -1: want a CUDA device number", Usage: true},
		{Args: []string{"-q", "--model", lk3, "--attack", "fgsm", "--eps", "0.01"}, Stdin: img},
		{Args: []string{"-q", "--batch", "3", "--model", lk3, "--attack", "fgsm", "--eps", "0.01"}, Stdin: img},
	})
}
