// Package testutil finds the project's test data and the ONNX Runtime
// library for tests, so that `go test` works from any package directory.
package testutil

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lk-robustness/lk/lib/ort"
)

// Root is the repository root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Path joins elements onto the repository root.
func Path(t testing.TB, elem ...string) string {
	return filepath.Join(append([]string{Root(t)}, elem...)...)
}

// ORT points LK_ORT_LIB at the library `make deps` fetched, unless it is
// already set, and fails the test with the fix when it is missing.
func ORT(t testing.TB) {
	t.Helper()
	if os.Getenv(ort.LibEnv) == "" {
		os.Setenv(ort.LibEnv, Path(t, ".deps", "onnxruntime-"+ort.LibVersion, "libonnxruntime.so.1"))
	}
	if err := ort.Init(); err != nil {
		t.Fatalf("%v (run `make deps` first)", err)
	}
}

// Zoo lists the embedded model zoo.
var Zoo = []string{"resnet", "lk3", "lk7", "lk13", "lk31", "vit"}

// FashionMNIST is the shipped test split.
func FashionMNIST(t testing.TB) string {
	return Path(t, "testdata", "fashion-mnist", "t10k-images-idx3-ubyte.gz")
}

// BigModels returns a folder holding torchvision's resnet50 and vit_b_16
// with random weights and their blocks.json, exported by
// testdata/arch/make_arch.py --big into a cache folder ($LK_TEST_CACHE, or
// the user cache) the first time; it skips the test when PyTorch is absent.
// The folder is named by a hash of the script and of the zoo ViT it also
// exports (at opset 13), so a retrained zoo never meets a stale export.
func BigModels(t testing.TB) string {
	t.Helper()
	script := Path(t, "testdata", "arch", "make_arch.py")
	var src []byte
	for _, f := range []string{script, Path(t, "testdata", "zoo", "vit.onnx"), Path(t, "testdata", "zoo", "vit.json")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	var err error
	base := os.Getenv("LK_TEST_CACHE")
	if base == "" {
		if base, err = os.UserCacheDir(); err != nil {
			base = os.TempDir()
		}
		base = filepath.Join(base, "lk-test")
	}
	dir := filepath.Join(base, fmt.Sprintf("torchvision-%x", sha256.Sum256(src))[:len("torchvision-")+12])
	if _, err := os.Stat(filepath.Join(dir, "blocks.json")); err == nil {
		return dir
	}
	probe := exec.Command("/usr/bin/python3", "-c", "import torch, torchvision, onnx")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("skipped: torchvision's resnet50 and vit_b_16 are exported for this test by testdata/arch/make_arch.py, which needs Debian's python3-torchvision and python3-onnx (%v: %s)", err, bytes.TrimSpace(out))
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(base, "export-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("/usr/bin/python3", script, "--big", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make_arch.py --big: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "blocks.json")); serr != nil {
			t.Fatal(err) // not a concurrent test having won the race
		}
	}
	return dir
}

// GPULib is the GPU build of ONNX Runtime that `make deps-gpu` lays out.
// Under CI (CI set) its absence fails the test; elsewhere the test skips
// and says how to fetch it.
func GPULib(t testing.TB) string {
	t.Helper()
	p := Path(t, ort.GPUDir, "libonnxruntime.so.1")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI fetches it (.ci/run: make deps-gpu)", p)
		}
		t.Skipf("skipped: the GPU build is not fetched (%s is missing); `make deps-gpu` fetches it (a 329 MB download), then this test runs", p)
	}
	return p
}

// DebianFile is a file a Debian package installs (pkg names it, for the
// message). Under CI its absence fails the test, since `make test`
// installs the package; elsewhere the test skips and names the package.
func DebianFile(t testing.TB, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: `make test` installs Debian's %s", path, pkg)
		}
		t.Skipf("%s is missing: apt-get install %s", path, pkg)
	}
	return path
}
