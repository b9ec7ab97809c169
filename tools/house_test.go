package tools_test

import (
	"bytes"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/testutil"
)

// topLevel is what the repository's root may hold: the design card's
// entries, the docs, and CI's and git's files. Built tools and example
// outputs belong in bin/ and out/ (both ignored).
var topLevel = map[string]bool{
	"tools": true, "lib": true, "pipelines": true, "testdata": true, "go.mod": true, "go.sum": true,
	"Makefile": true, "README.md": true, "BENCH.md": true, "docs": true, ".ci": true, ".gitignore": true,
}

// The house: no tracked file at the root outside topLevel, and no tracked
// executable binary anywhere (a built tool committed by mistake).
func TestHouse(t *testing.T) {
	c := exec.Command("git", "ls-files", "-s")
	c.Dir = testutil.Root(t)
	out, err := c.Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v): nothing to check", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 2)
		if len(f) != 2 {
			continue
		}
		mode, path := strings.Fields(f[0])[0], f[1]
		n++
		if top := strings.SplitN(path, "/", 2)[0]; !topLevel[top] {
			t.Errorf("%s is tracked at the repository's root: the root holds only %s (built tools go to bin/, outputs to out/)", path, keys(topLevel))
		}
		b, err := os.ReadFile(testutil.Path(t, path))
		if err != nil {
			continue // deleted in the working tree
		}
		if bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Errorf("%s is a compiled binary: build outputs are never committed (make build writes bin/)", path)
		}
		if mode == "100755" && !bytes.HasPrefix(b, []byte("#!")) {
			t.Errorf("%s is executable but not a script", path)
		}
	}
	if n < 100 {
		t.Fatalf("git ls-files listed %d files", n)
	}
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// Every Makefile target has one recipe: a target defined twice (a name in
// FIGURES that is also a target of its own) runs whichever make read last.
func TestMakefileTargetsOnce(t *testing.T) {
	cmd := exec.Command("make", "-n", "-f", testutil.Path(t, "Makefile"), "clean")
	cmd.Dir = testutil.Path(t, ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n clean: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "overriding recipe") {
		t.Errorf("the Makefile defines a target twice:\n%s", out)
	}
}
