package imageio_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"os"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/imageio"
)

const fixture = "../../testdata/images/collage-500x375.jpg"

// withSOFSize rewrites the frame header of a JPEG to claim w x h.
func withSOFSize(t *testing.T, data []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte{}, data...)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xff {
			t.Fatal("lost marker sync")
		}
		marker := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if marker >= 0xc0 && marker <= 0xc2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	t.Fatal("no SOF marker")
	return nil
}

func TestDecodeErrors(t *testing.T) {
	jpg, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		max  int
		want string
	}{
		{"empty", nil, 0, "empty file"},
		{"text", []byte("hello, world"), 0, "not a readable image"},
		{"JPEG bomb", withSOFSize(t, jpg, 60000, 60000), 0, "60000x60000 = 3600000000 pixels, over the limit"},
		{"lowered limit", jpg, 1000, "500x375 = 187500 pixels, over the limit of 1000"},
		{"truncated JPEG", jpg[:len(jpg)/2], 0, "truncated"},
		{"JPEG header only", jpg[:20], 0, "not a readable JPEG"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := imageio.Decode(c.data, c.max)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// GIF (paletted) and grey images come out as RGB, grey replicated, as
// Pillow's convert("RGB").
func TestConvertRGB(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{10, 20, 30, 255}, color.Gray{200}})
	pal.Pix = []uint8{0, 1}
	var b bytes.Buffer
	gif.Encode(&b, pal, nil)
	img, err := imageio.Decode(b.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if img.C != 3 || !bytes.Equal(img.Pix, []uint8{10, 20, 30, 200, 200, 200}) {
		t.Errorf("GIF pixels %v", img.Pix)
	}
}
