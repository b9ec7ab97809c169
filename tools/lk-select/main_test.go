package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	p := tooltest.Predictions(t, "lk3", 40)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--misclassified", "--correct"}, Stdin: p, Err: "exclude each other", Usage: true},
		{Args: []string{"--min-confidence", "2"}, Stdin: p, Err: "probabilities in [0,1]", Usage: true},
		{Args: []string{"--keep-predictions", "--drop", "model"}, Stdin: p, Err: "exclude each other", Usage: true},
		{Name: "images, not predictions", Args: []string{"--misclassified"}, Stdin: tooltest.Images(t, 4), Err: "logits"},
		{Args: []string{"-q", "--correct"}, Stdin: p},
	})
	out, _, err := tooltest.Run(run, p, "-q", "--correct")
	if err != nil {
		t.Fatal(err)
	}
	r := tooltest.Stream(t, out)
	md := r.Schema().Metadata()
	if kind, _ := md.GetValue(stream.MetaKind); kind != stream.KindImages || r.Schema().HasField("logits") {
		t.Errorf("kind %q, fields %v: want an image stream", kind, r.Schema())
	}
	if k := stream.Key(r.Schema()); len(k) != 1 || k[0] != "id" {
		t.Errorf("key %v after dropping model: want id", k)
	}
}
