package main

import (
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--corruptions", "frostbite"}, Stdin: img, Err: `"frostbite" is not one of`, Usage: true},
		{Args: []string{"--corruptions", "fog", "--severities", "6"}, Stdin: img, Err: "severities are 1 to 5", Usage: true},
		{Args: []string{"--corruptions", "fog", "--severities", "1-3,2"}, Stdin: img, Err: "2 is given twice", Usage: true},
		{Args: []string{"--corruptions", "fog", "--resume"}, Stdin: img, Err: "--resume needs --out", Usage: true},
		{Args: []string{"-q", "--corruptions", "fog,contrast", "--severities", "1,5"}, Stdin: img},
	})
	out, _, err := tooltest.Run(run, img, "-q", "--corruptions", "fog,contrast", "--severities", "1,5")
	if err != nil {
		t.Fatal(err)
	}
	r := tooltest.Stream(t, out)
	if k := stream.Key(r.Schema()); len(k) != 3 || k[1] != "corruption" || k[2] != "severity" {
		t.Errorf("key %v, want id,corruption,severity", k)
	}
	n := 0
	for r.Next() {
		n += int(r.Record().NumRows())
	}
	if r.Err() != nil || n != 16 {
		t.Errorf("%d rows (want 4 images x 2 corruptions x 2 severities), %v", n, r.Err())
	}
}

func TestRunTable(t *testing.T) {
	tooltest.Check(t, run, []tooltest.Case{{Args: []string{"--corruptions", "fog", "--table", "mnist"}, Err: `--table "mnist"`, Usage: true}})
}
