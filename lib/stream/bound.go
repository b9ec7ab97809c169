package stream

import (
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// MaxMessageBytes bounds one record batch's body: lk's tools write
// batches of at most a few hundred images (224 px: 0.6 MB each), and a
// length field a corrupt or hostile stream sets to 94 GB must be an
// error, not an allocation that kills the process.
// A variable so that the fuzz target can hold it to its inputs' scale.
var MaxMessageBytes = 4 << 30

// tooLarge is the panic of the bounded allocator; the Arrow reader
// recovers it into an error.
type tooLarge struct{ size int }

func (e tooLarge) String() string {
	return fmt.Sprintf("a record batch of %d bytes, over the %d an lk stream's batch may hold (a corrupt length field?)", e.size, MaxMessageBytes)
}

// bounded is the Go allocator refusing sizes over MaxMessageBytes.
type bounded struct{ memory.Allocator }

func (b bounded) Allocate(size int) []byte {
	if size > MaxMessageBytes || size < 0 {
		panic(tooLarge{size})
	}
	return b.Allocator.Allocate(size)
}

func (b bounded) Reallocate(size int, old []byte) []byte {
	if size > MaxMessageBytes || size < 0 {
		panic(tooLarge{size})
	}
	return b.Allocator.Reallocate(size, old)
}

var boundedAllocator memory.Allocator = bounded{memory.DefaultAllocator}

// validRecord checks that every column's buffers hold what its length
// says, for the types lk streams use, so that a corrupt batch is an
// error here rather than a crash or a huge allocation where a tool reads
// it.
func validRecord(rec arrow.Record) error {
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return fmt.Errorf("column %s has %d rows, the batch %d", rec.ColumnName(i), col.Len(), rec.NumRows())
		}
		if err := validArray(col.Data()); err != nil {
			return fmt.Errorf("column %s: %v", rec.ColumnName(i), err)
		}
	}
	return nil
}

func validArray(d arrow.ArrayData) error {
	n, off := d.Len(), d.Offset()
	if n < 0 || off < 0 {
		return fmt.Errorf("negative length %d or offset %d", n, off)
	}
	bufLen := func(k int) int {
		bs := d.Buffers()
		if k >= len(bs) || bs[k] == nil {
			return 0
		}
		return bs[k].Len()
	}
	if d.NullN() > 0 && bufLen(0)*8 < off+n {
		return fmt.Errorf("validity bitmap of %d bytes for %d rows", bufLen(0), off+n)
	}
	switch t := d.DataType().(type) {
	case arrow.FixedWidthDataType:
		if w := t.BitWidth(); w >= 8 && bufLen(1) < (off+n)*(w/8) {
			return fmt.Errorf("%d bytes of values for %d rows of %s", bufLen(1), off+n, t)
		}
	case *arrow.StringType, *arrow.BinaryType:
		if n == 0 {
			return nil
		}
		if bufLen(1) < (off+n+1)*4 {
			return fmt.Errorf("%d bytes of offsets for %d rows", bufLen(1), off+n)
		}
		s := array.MakeFromData(d)
		defer s.Release()
		offs := s.(interface{ ValueOffsets() []int32 }).ValueOffsets()
		for k := 1; k < len(offs); k++ {
			if offs[k] < offs[k-1] {
				return fmt.Errorf("string offsets decrease at row %d", k-1)
			}
		}
		if offs[0] < 0 || int(offs[len(offs)-1]) > bufLen(2) {
			return fmt.Errorf("string offsets out of bounds (%d..%d of %d bytes)", offs[0], offs[len(offs)-1], bufLen(2))
		}
	case *arrow.FixedSizeListType:
		child := d.Children()
		if len(child) != 1 {
			return fmt.Errorf("a fixed-size list without its values")
		}
		if size := int(t.Len()); size < 0 || child[0].Len() < (off+n)*size {
			return fmt.Errorf("%d values for %d rows of %d", child[0].Len(), off+n, t.Len())
		}
		return validArray(child[0])
	}
	return nil
}
