package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "report.md")
	os.WriteFile(md, []byte("# r\n\n![fig](nope.png)\n"), 0o644)
	ok := filepath.Join(dir, "ok.md")
	os.WriteFile(ok, []byte("# r\n\n| a |\n|---|\n| 1 |\n"), 0o644)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{}, Err: "want one Markdown file, got 0", Usage: true},
		{Args: []string{md}, Err: "report.md:3: image nope.png"},
		{Args: []string{filepath.Join(dir, "missing.md")}, Err: "missing.md"},
		{Args: []string{"-o", filepath.Join(dir, "no", "dir", "r.html"), ok}, Err: "-o:"},
		{Args: []string{"-o", filepath.Join(dir, "r.html"), ok}},
		{Args: []string{ok}},
	})
}
