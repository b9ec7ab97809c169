package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	fm := testutil.FashionMNIST(t)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "want one SOURCE", Usage: true},
		{Args: []string{"--interp", "lanczos", fm}, Err: "--interp", Usage: true},
		{Args: []string{"--crop", "-1", fm}, Err: "must be >= 0", Usage: true},
		{Args: []string{"--shard", "4/4", fm}, Err: "--shard", Usage: true},
		{Args: []string{"--keep-labels", "1-3,2", fm}, Err: "2 is given twice", Usage: true},
		{Args: []string{"--tag", "label=x", fm}, Err: "already in the stream", Usage: true},
		{Args: []string{"-q", "--num-classes", "5", fm}, Err: "outside the label space"},
		{Args: []string{"nosuch-folder"}, Err: "nosuch-folder"},
		{Args: []string{"-q", "--gray3", "--crop", "32", "--limit", "10", fm}},
	})
}
