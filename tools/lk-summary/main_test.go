package main

import (
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk31 := tooltest.Zoo(t, "lk31")
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "name at least one model file", Usage: true},
		{Args: []string{"nosuch.onnx"}, Err: "nosuch.onnx"},
	})
	out, _, err := tooltest.Run(run, nil, "--format", "csv", lk31)
	if err != nil || !strings.Contains(string(out), `"31,5,3,15",31,`) {
		t.Errorf("%q %v", out, err)
	}
}
