package imageio

// #cgo LDFLAGS: -lturbojpeg
// #include <stdlib.h>
// #include <turbojpeg.h>
import "C"

import (
	"fmt"
	"strings"
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
	return int(cw), int(ch), int(col), nil
}

// decodeJPEG decodes to interleaved RGB with libjpeg-turbo's default
// (accurate integer DCT, fancy upsampling): the decoder Pillow uses, so
// pixels match torchvision's loader.
func decodeJPEG(data []byte, w, h int) ([]uint8, error) {
	hd := C.tjInitDecompress()
	if hd == nil {
		return nil, fmt.Errorf("libturbojpeg: cannot initialise")
	}
	defer C.tjDestroy(hd)
	pix := make([]uint8, w*h*3)
	rc := C.tjDecompress2(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(w*3), C.int(h), C.TJPF_RGB, 0)
	if rc != 0 {
		msg := C.GoString(C.tjGetErrorStr2(hd))
		// libjpeg warnings (extraneous bytes, ...) leave a complete image,
		// which Pillow accepts too; a premature end does not.
		if C.tjGetErrorCode(hd) != C.TJERR_WARNING || strings.Contains(msg, "Premature end") {
			return nil, fmt.Errorf("corrupt JPEG: %s", msg)
		}
	}
	return pix, nil
}

const csCMYK = C.TJCS_CMYK
const csYCCK = C.TJCS_YCCK
