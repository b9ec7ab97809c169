package imageio

// #cgo LDFLAGS: -lturbojpeg
// #include <stdlib.h>
// #include <turbojpeg.h>
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"
)

// jpegHeader reads a JPEG's dimensions without decoding it.
func jpegHeader(data []byte) (w, h, cs int, err error) {
	hd := C.tjInitDecompress()
	if hd == nil {
		return 0, 0, 0, fmt.Errorf("libturbojpeg: cannot initialise")
	}
	defer C.tjDestroy(hd)
	var cw, ch, sub, col C.int
	if C.tjDecompressHeader3(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &cw, &ch, &sub, &col) != 0 {
		return 0, 0, 0, fmt.Errorf("not a readable JPEG: %s", C.GoString(C.tjGetErrorStr2(hd)))
	}
	if cw <= 0 || ch <= 0 {
		return 0, 0, 0, fmt.Errorf("not a readable JPEG: no frame header (truncated?)")
	}
	return int(cw), int(ch), int(col), nil
}

// decodeJPEG decodes to interleaved RGB with libjpeg-turbo's default
// (accurate integer DCT, fancy upsampling): the decoder Pillow uses, so
// pixels match torchvision's loader.
func decodeJPEG(data []byte, w, h int) ([]uint8, error) {
	return decodeJPEGAs(data, w, h, C.TJPF_RGB, 3)
}

// decodeCMYKJPEG decodes a CMYK or YCCK JPEG as Pillow does: libjpeg's
// CMYK samples (YCCK converted by the library), inverted as Adobe writes
// them ("CMYK;I": Pillow assumes Adobe's convention for every CMYK JPEG),
// then Pillow's integer CMYK to RGB conversion.
func decodeCMYKJPEG(data []byte, w, h int) ([]uint8, error) {
	cmyk, err := decodeJPEGAs(data, w, h, C.TJPF_CMYK, 4)
	if err != nil {
		return nil, err
	}
	rgb := make([]uint8, w*h*3)
	for i := 0; i < w*h; i++ {
		k := 255 - int(cmyk[4*i+3]) // inverted, as Adobe stores it
		nk := 255 - k
		for c := 0; c < 3; c++ {
			v := 255 - int(cmyk[4*i+c])
			t := v*nk + 128 // Pillow's MULDIV255(v, nk)
			rgb[3*i+c] = uint8(min(255, max(0, nk-((t>>8)+t)>>8)))
		}
	}
	return rgb, nil
}

func decodeJPEGAs(data []byte, w, h int, format C.int, ch int) ([]uint8, error) {
	hd := C.tjInitDecompress()
	if hd == nil {
		return nil, fmt.Errorf("libturbojpeg: cannot initialise")
	}
	defer C.tjDestroy(hd)
	pix := make([]uint8, w*h*ch)
	rc := C.tjDecompress2(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(w*ch), C.int(h), format, 0)
	if rc != 0 {
		// libjpeg warnings (extraneous bytes, ...) leave a complete image,
		// which Pillow accepts too; a file cut short does not. The warning
		// text lives in a global buffer of libturbojpeg that concurrent
		// decoders overwrite, so truncation is judged from the data itself.
		if C.tjGetErrorCode(hd) != C.TJERR_WARNING {
			return nil, fmt.Errorf("corrupt JPEG: %s", C.GoString(C.tjGetErrorStr2(hd)))
		}
		if !hasEOI(data) {
			return nil, fmt.Errorf("corrupt JPEG: truncated (no end-of-image marker)")
		}
	}
	return pix, nil
}

// hasEOI reports whether an end-of-image marker (FF D9) is near the end.
func hasEOI(data []byte) bool {
	tail := data[max(0, len(data)-4096):]
	return bytes.LastIndex(tail, []byte{0xff, 0xd9}) >= 0
}

const csCMYK = C.TJCS_CMYK
const csYCCK = C.TJCS_YCCK

// EncodeJPEG compresses interleaved RGB to a baseline JPEG at quality q
// with 4:2:0 chroma subsampling and the accurate integer DCT: Pillow's
// save(..., "JPEG", quality=q) defaults, through the same library.
func EncodeJPEG(img *Image, q int) ([]byte, error) {
	if img.C != 3 || len(img.Pix) != img.W*img.H*3 {
		return nil, fmt.Errorf("EncodeJPEG: want an RGB image, got %d channels", img.C)
	}
	hd := C.tjInitCompress()
	if hd == nil {
		return nil, fmt.Errorf("libturbojpeg: cannot initialise")
	}
	defer C.tjDestroy(hd)
	var buf *C.uchar
	var size C.ulong
	rc := C.tjCompress2(hd, (*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(img.W), C.int(img.W*3), C.int(img.H), C.TJPF_RGB,
		&buf, &size, C.TJSAMP_420, C.int(q), C.TJFLAG_ACCURATEDCT) // TurboJPEG would pick the fast DCT below quality 96
	if buf != nil {
		defer C.tjFree(buf)
	}
	if rc != 0 {
		return nil, fmt.Errorf("libturbojpeg: %s", C.GoString(C.tjGetErrorStr2(hd)))
	}
	return C.GoBytes(unsafe.Pointer(buf), C.int(size)), nil
}

// DecodeJPEG decodes JPEG bytes to interleaved RGB.
func DecodeJPEG(data []byte) (*Image, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty JPEG")
	}
	w, h, _, err := jpegHeader(data)
	if err != nil {
		return nil, err
	}
	pix, err := decodeJPEG(data, w, h)
	if err != nil {
		return nil, err
	}
	return &Image{W: w, H: h, C: 3, Pix: pix}, nil
}
