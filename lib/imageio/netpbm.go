package imageio

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"io"
	"strconv"

	_ "golang.org/x/image/bmp" // registered decoders: the extensions lk-data lists
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// Netpbm: PGM and PPM, binary (P5, P6) and plain (P2, P3), 8-bit
// (maxval 255). Pillow reads these too; other maxvals are refused rather
// than scaled by a rule that might differ from Pillow's.
func init() {
	for _, magic := range []string{"P2", "P3", "P5", "P6"} {
		image.RegisterFormat("netpbm", magic, decodePNM, decodePNMConfig)
	}
}

type pnmHeader struct {
	magic        string
	w, h, maxval int
}

func readPNMHeader(br *bufio.Reader) (pnmHeader, error) {
	var hd pnmHeader
	var vals [4]int
	for i := 0; i < 4; i++ {
		tok, err := pnmToken(br)
		if err != nil {
			return hd, fmt.Errorf("netpbm header: %v", err)
		}
		if i == 0 {
			hd.magic = tok
			continue
		}
		v, err := strconv.Atoi(tok)
		if err != nil || v <= 0 {
			return hd, fmt.Errorf("netpbm header: %q is not a positive number", tok)
		}
		vals[i] = v
	}
	hd.w, hd.h, hd.maxval = vals[1], vals[2], vals[3]
	if hd.maxval != 255 {
		return hd, fmt.Errorf("netpbm with maxval %d: only 8-bit (maxval 255) images are read", hd.maxval)
	}
	return hd, nil
}

// pnmToken reads a whitespace-separated token, skipping # comments, and
// the one whitespace byte after it.
func pnmToken(br *bufio.Reader) (string, error) {
	var tok []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if len(tok) > 0 && err == io.EOF {
				return string(tok), nil
			}
			return "", io.ErrUnexpectedEOF
		}
		switch {
		case c == '#' && len(tok) == 0:
			if _, err := br.ReadString('\n'); err != nil {
				return "", io.ErrUnexpectedEOF
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(tok) > 0 {
				return string(tok), nil
			}
		default:
			if len(tok) > 16 {
				return "", fmt.Errorf("token too long")
			}
			tok = append(tok, c)
		}
	}
}

func decodePNMConfig(r io.Reader) (image.Config, error) {
	hd, err := readPNMHeader(bufio.NewReader(r))
	if err != nil {
		return image.Config{}, err
	}
	m := color.Model(color.RGBAModel)
	if hd.magic == "P2" || hd.magic == "P5" {
		m = color.GrayModel
	}
	return image.Config{ColorModel: m, Width: hd.w, Height: hd.h}, nil
}

func decodePNM(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	hd, err := readPNMHeader(br)
	if err != nil {
		return nil, err
	}
	ch := 3
	if hd.magic == "P2" || hd.magic == "P5" {
		ch = 1
	}
	pix := make([]uint8, hd.w*hd.h*ch)
	if hd.magic == "P5" || hd.magic == "P6" {
		if _, err := io.ReadFull(br, pix); err != nil {
			return nil, fmt.Errorf("netpbm: the file ends before its %dx%d pixels", hd.w, hd.h)
		}
	} else {
		for i := range pix {
			tok, err := pnmToken(br)
			if err != nil {
				return nil, fmt.Errorf("netpbm: sample %d of %d: %v", i, len(pix), err)
			}
			v, err := strconv.Atoi(tok)
			if err != nil || v < 0 || v > 255 {
				return nil, fmt.Errorf("netpbm: sample %d is %q, want 0-255", i, tok)
			}
			pix[i] = uint8(v)
		}
	}
	if ch == 1 {
		return &image.Gray{Pix: pix, Stride: hd.w, Rect: image.Rect(0, 0, hd.w, hd.h)}, nil
	}
	out := image.NewNRGBA(image.Rect(0, 0, hd.w, hd.h))
	for i := 0; i < hd.w*hd.h; i++ {
		copy(out.Pix[4*i:4*i+3], pix[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
