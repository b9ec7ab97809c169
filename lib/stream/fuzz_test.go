package stream_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// FuzzReader feeds the stream reader mutated streams (headers and bodies)
// and reads every batch as a tool does: it must end in a clean stop or an
// error, never a panic, and allocate in proportion to its input, not to
// what a corrupt length field claims.
func FuzzReader(f *testing.F) {
	sh := stream.Shape{C: 1, H: 2, W: 2}
	a, b := imageStream(f, sh, 3), imageStream(f, sh, 5)
	f.Add(a)
	f.Add(append(append([]byte{}, a...), b...))
	f.Add(a[:len(a)-9])
	stream.MaxMessageBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := stream.NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		defer r.Release()
		for r.Next() {
			rec := r.Record()
			for i, col := range rec.Columns() {
				switch c := col.(type) {
				case *array.FixedSizeList:
					if _, _, err := stream.Float32Rows(col); err != nil && rec.Schema().Field(i).Type.(*arrow.FixedSizeListType).Elem().ID() == arrow.FLOAT32 {
						t.Fatalf("a valid batch's float list: %v", err)
					}
				case *array.String:
					for k := 0; k < c.Len(); k++ {
						_ = c.Value(k)
					}
				}
			}
		}
		_ = r.Err()
		runtime.ReadMemStats(&after)
		// the bounds the reader holds to: a message's metadata at most
		// 64 MiB (maxSchemaBytes), a body at most MaxMessageBytes
		if got, most := after.TotalAlloc-before.TotalAlloc, uint64(64*len(data))+uint64(2*(64<<20)+stream.MaxMessageBytes); got > most {
			t.Fatalf("%d bytes of input made the reader allocate %d bytes", len(data), got)
		}
	})
}
