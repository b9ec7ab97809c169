package video_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
	"github.com/lk-robustness/lk/lib/testutil"
	"github.com/lk-robustness/lk/lib/video"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, _, err := video.Size(testutil.Path(t, "testdata", "imagenet-p", "rotate", "n01443537", "b.mp4")); err == video.ErrNoFFmpeg {
		t.Fatal(err) // the tests need it: make test installs it
	}
}

// The frames equal OpenCV's decoding (what ImageNet-P's evaluation reads)
// and, within the codec's loss, the synthetic frames they were encoded
// from (testdata/imagenet-p/make_p.py).
func TestFramesMatchOpenCV(t *testing.T) {
	needFFmpeg(t)
	for _, c := range []struct {
		path string
		n    int
	}{{"gaussian_noise/n01440764/a", 6}, {"rotate/n01443537/b", 8}, {"rotate/n01443537/c", 5}} {
		base := testutil.Path(t, "testdata", "imagenet-p", filepath.FromSlash(c.path))
		frames, err := video.Frames(base+".mp4", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != c.n {
			t.Fatalf("%s: %d frames, want %d", c.path, len(frames), c.n)
		}
		ref, err := imageio.ReadFile(base+".cv2.png", 0)
		if err != nil {
			t.Fatal(err)
		}
		maxCV, sumSrc := 0, 0.0
		for k, f := range frames {
			if f.W != 32 || f.H != 32 || f.C != 3 {
				t.Fatalf("%s frame %d: %dx%dx%d", c.path, k, f.W, f.H, f.C)
			}
			for i, v := range f.Pix {
				d := int(v) - int(ref.Pix[k*len(f.Pix)+i])
				maxCV = max(maxCV, d, -d)
				x, y, ch := i/3%32, i/96, i%3
				src := 20 + 3*x + 2*y + 20*ch + 8*k
				sumSrc += float64(abs(int(v) - src))
			}
		}
		// OpenCV and the ffmpeg CLI share the decoder; their YUV->RGB
		// conversions may differ by a rounding step.
		if maxCV > 1 {
			t.Errorf("%s: frames differ from OpenCV's by up to %d levels", c.path, maxCV)
		}
		if m := sumSrc / float64(c.n*32*32*3); m > 3 {
			t.Errorf("%s: mean distance to the source frames %.2f levels", c.path, m)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestErrors(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mp4")
	os.WriteFile(bad, []byte("not a video at all"), 0o644)
	if _, err := video.Frames(bad, 0); err == nil || !strings.Contains(err.Error(), "ffprobe") {
		t.Errorf("garbage: %v", err)
	}
	// a truncated file: its first half
	b, _ := os.ReadFile(testutil.Path(t, "testdata", "imagenet-p", "rotate", "n01443537", "b.mp4"))
	cut := filepath.Join(dir, "cut.mp4")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	if fr, err := video.Frames(cut, 0); err == nil {
		t.Errorf("truncated file: %d frames and no error", len(fr))
	}
	if _, err := video.Frames(testutil.Path(t, "testdata", "imagenet-p", "rotate", "n01443537", "b.mp4"), 100); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Errorf("pixel limit: %v", err)
	}
	t.Setenv("PATH", dir)
	if _, err := video.Frames(bad, 0); err != video.ErrNoFFmpeg {
		t.Errorf("no ffmpeg: %v", err)
	}
}
