package dataset

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lk-robustness/lk/lib/imagenet"
)

// allocBound fails t when fn allocates more than a multiple of the input.
func allocBound(t *testing.T, n int, fn func()) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if got, most := after.TotalAlloc-before.TotalAlloc, uint64(64*n)+uint64(16<<20); got > most {
		t.Fatalf("%d bytes of input made the parser allocate %d bytes", n, got)
	}
}

// FuzzIDX: any bytes as an IDX file (plain or gzip) give arrays whose
// sizes its header and data agree on, or an error; never a panic or an
// allocation its header asks for.
func FuzzIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4})
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9})
	f.Add([]byte{0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "x.idx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		allocBound(t, len(data), func() {
			dims, pix, err := readIDX(p)
			if err != nil {
				return
			}
			total := 1
			for _, d := range dims {
				total *= d
			}
			if total != len(pix) {
				t.Fatalf("dims %v and %d bytes", dims, len(pix))
			}
		})
	})
}

// FuzzLabelFiles: list, labels and class-map files and class groups
// parse or fail with an error, never a panic.
func FuzzLabelFiles(f *testing.F) {
	f.Add("a.jpg 3\nb.jpg n01440764\n# c\n\nc.jpg,-1\n")
	f.Add("chair 423,559,n04099969,857\nbanana 954\n")
	f.Add("423,559,765,857;954")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "x.txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		allocBound(t, len(text), func() {
			readPairs(p, func(_ int, _, label string) error {
				_, _, err := parseLabel(label)
				return err
			})
			ReadClassMap(p)
			imagenet.ParseClassGroups(text)
		})
	})
}
