// Package video decodes the frames of a video file (ImageNet-P's mp4
// sequences) to 8-bit RGB images with the ffmpeg and ffprobe programs, in
// stream order and without frame-rate conversion, so that frame k of the
// result is the k-th encoded frame, as OpenCV's VideoCapture reads it.
package video

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/imageio"
)

// MaxFrames bounds the frames read from one file: ImageNet-P sequences
// have at most 31; a file claiming far more is refused before decoding.
const MaxFrames = 10000

// ErrNoFFmpeg says that ffmpeg or ffprobe is not on PATH.
var ErrNoFFmpeg = errors.New("decoding videos needs ffmpeg and ffprobe on PATH (Debian: apt-get install ffmpeg)")

// Size reads the width and height of the first video stream of path.
func Size(path string) (w, h int, err error) {
	probe, err := exec.LookPath("ffprobe")
	if err != nil {
		return 0, 0, ErrNoFFmpeg
	}
	var out, msg bytes.Buffer
	cmd := exec.Command(probe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height", "-of", "csv=p=0", path)
	cmd.Stdout, cmd.Stderr = &out, &msg
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("ffprobe: %s", firstLine(msg.String(), err))
	}
	f := strings.Split(strings.TrimSpace(out.String()), ",")
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("no video stream (ffprobe said %q)", strings.TrimSpace(out.String()))
	}
	w, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("video size %q is not two positive integers", strings.TrimSpace(out.String()))
	}
	return w, h, nil
}

// Frames decodes every frame of the video at path to RGB. maxPixels bounds
// the pixels of one frame as imageio bounds an image's (<= 0: its default).
func Frames(path string, maxPixels int) ([]*imageio.Image, error) {
	if maxPixels <= 0 {
		maxPixels = imageio.DefaultMaxPixels
	}
	w, h, err := Size(path)
	if err != nil {
		return nil, err
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return nil, fmt.Errorf("frames of %dx%d = %d pixels exceed the limit of %d", w, h, int64(w)*int64(h), maxPixels)
	}
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	// -vsync passthrough: no frames duplicated or dropped to fit a rate.
	var out, msg bytes.Buffer
	cmd := exec.Command(ff, "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
		"-vsync", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
	lim := &limited{w: &out, n: int64(MaxFrames) * int64(w*h*3)}
	cmd.Stdout, cmd.Stderr = lim, &msg
	if err := cmd.Run(); err != nil {
		if lim.over {
			return nil, fmt.Errorf("more than %d frames", MaxFrames)
		}
		return nil, fmt.Errorf("ffmpeg: %s", firstLine(msg.String(), err))
	}
	if s := strings.TrimSpace(msg.String()); s != "" {
		// ffmpeg reports damaged streams on stderr and still exits 0
		return nil, fmt.Errorf("ffmpeg: %s", firstLine(s, nil))
	}
	size := w * h * 3
	raw := out.Bytes()
	if len(raw) == 0 {
		return nil, fmt.Errorf("no frames")
	}
	if len(raw)%size != 0 {
		return nil, fmt.Errorf("ffmpeg wrote %d bytes, not a whole number of %dx%d RGB frames", len(raw), w, h)
	}
	frames := make([]*imageio.Image, len(raw)/size)
	for i := range frames {
		frames[i] = &imageio.Image{W: w, H: h, C: 3, Pix: raw[i*size : (i+1)*size : (i+1)*size]}
	}
	return frames, nil
}

// limited fails a write past n bytes, so a hostile file cannot fill memory.
type limited struct {
	w    *bytes.Buffer
	n    int64
	over bool
}

func (l *limited) Write(p []byte) (int, error) {
	if int64(l.w.Len()+len(p)) > l.n {
		l.over = true
		return 0, errors.New("too many frames")
	}
	return l.w.Write(p)
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		if err != nil {
			return err.Error()
		}
		return "failed"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		n := strings.Count(s, "\n")
		return fmt.Sprintf("%s (and %d more lines)", s[:i], n)
	}
	return s
}
