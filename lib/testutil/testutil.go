// Package testutil finds the project's test data and the ONNX Runtime
// library for tests, so that `go test` works from any package directory.
package testutil

import (
	"os"
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
