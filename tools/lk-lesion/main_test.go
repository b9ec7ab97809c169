package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	lk31 := tooltest.Zoo(t, "lk31")
	dir := t.TempDir()
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "--model is required", Usage: true},
		{Args: []string{"--model", lk31}, Err: "--out is required", Usage: true},
		{Args: []string{"--model", lk31, "--out", dir, "--samples", "0"}, Err: "--samples 0", Usage: true},
		{Args: []string{"--model", lk31, "--out", dir, "--group", "2", "--stage", "3"}, Err: "--stage 3: the model has stages 1-2", Usage: true},
		{Args: []string{"--model", lk31, "--out", dir, "--n", "1,1"}, Err: "given twice", Usage: true},
		{Args: []string{"--model", lk31, "--out", dir, "--n", "99"}, Err: "cannot drop 99"},
		{Args: []string{"--model", lk31, "--out", dir, "--drop", "99"}, Err: "unit 99"},
		{Args: []string{"--model", lk31, "--group", "2", "--list"}},
	})
	out, _, err := tooltest.Run(run, nil, "--model", lk31, "--group", "2", "--n", "1", "--samples", "2", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	man, _ := os.ReadFile(filepath.Join(dir, "manifest.tsv"))
	if string(man) != string(out) || strings.Count(string(man), "\n") != 3 {
		t.Errorf("manifest %q, stdout %q", man, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "lk31-drop1-1.json")); err != nil {
		t.Error(err)
	}
}
