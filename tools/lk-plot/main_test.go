package main

import (
	"path/filepath"
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 8)
	png := filepath.Join(t.TempDir(), "m.png")
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--kind", "montage"}, Stdin: img, Err: "-o FILE is required", Usage: true},
		{Args: []string{"--kind", "line", "-o", png}, Stdin: img, Err: "needs --x and --y", Usage: true},
		{Args: []string{"--kind", "montage", "--limit", "0", "-o", png}, Stdin: img, Err: "--limit must be > 0", Usage: true},
		{Name: "truncated", Args: []string{"--kind", "montage", "--limit", "2", "-o", png}, Stdin: img[:len(img)-50], Err: "truncated"},
		{Args: []string{"--kind", "montage", "--limit", "4", "-o", png}, Stdin: img},
	})
}
