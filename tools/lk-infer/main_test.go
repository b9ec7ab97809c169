package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk3 := tooltest.Zoo(t, "lk3")
	img := tooltest.Images(t, 40)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk3, "--batch", "0"}, Err: "--batch 0", Usage: true},
		{Args: []string{"--model", lk3, "--resume"}, Err: "--resume needs --out", Usage: true},
		{Args: []string{"--model", lk3, "a.arrow", "b.arrow"}, Err: "one input stream at a time", Usage: true},
		{Args: []string{"--model", "nosuch.onnx"}, Stdin: img, Err: "nosuch"},
		{Args: []string{"--model", lk3}, Stdin: img[:len(img)/2], Err: "truncated"},
		{Name: "predictions in", Args: []string{"--model", lk3}, Stdin: tooltest.Predictions(t, "lk3", 8), Err: `column "model"`},
		{Name: "images", Args: []string{"-q", "--model", lk3}, Stdin: img},
	})
	out, _, err := tooltest.Run(run, img, "-q", "--model", lk3, "--batch", "7")
	if err != nil {
		t.Fatal(err)
	}
	r := tooltest.Stream(t, out)
	if k := stream.Key(r.Schema()); len(k) != 2 || k[0] != "id" || k[1] != "model" {
		t.Errorf("key %v, want id,model", k)
	}
	n := 0
	for r.Next() {
		n += int(r.Record().NumRows())
	}
	if r.Err() != nil || n != 40 {
		t.Errorf("%d rows, %v", n, r.Err())
	}
}
