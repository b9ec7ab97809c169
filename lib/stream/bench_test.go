package stream_test

import (
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/stream"
)

// BenchmarkPlumbing is the stream work every pixel tool does around its
// computation: read 3x224x224 float32 images from a pipe, hand each
// record's pixels over, write them back with a condition column added to
// another pipe. Another goroutine writes the input and one drains the
// output, as the tools beside it in a pipeline would. Reported as bytes
// of image data per second (make bench's target: 2 GB/s).
func BenchmarkPlumbing(b *testing.B) {
	sh := stream.Shape{C: 3, H: 224, W: 224}
	const rows, records = 32, 16
	schema := stream.ImageSchema(sh, arrow.Metadata{})
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	px := make([]float32, rows*sh.Size())
	for i := range px {
		px[i] = float32(i%256) / 255
	}
	for i := 0; i < rows; i++ {
		bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("img/%04d", i))
		bld.Field(1).(*array.Int32Builder).Append(int32(i % 10))
	}
	ids := bld.Field(0).NewArray()
	labels := bld.Field(1).NewArray()
	bld.Release()
	img := stream.Float32List(px, sh.Size())
	rec := array.NewRecord(schema, []arrow.Array{ids, labels, img}, rows)
	defer rec.Release()
	b.SetBytes(int64(rows * records * sh.Size() * 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		go func() {
			w, _ := stream.NewWriter(inW, schema)
			for k := 0; k < records; k++ {
				w.Write(rec)
			}
			w.Close()
			inW.Close()
		}()
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, outR); close(drained) }()
		r, err := stream.NewReader(inR, "in")
		if err != nil {
			b.Fatal(err)
		}
		t, err := stream.NewTransformer(r, stream.OutputOptions{W: outW}, stream.Step{Tool: "bench"}, 1,
			arrow.Field{Name: stream.ColSeverity, Type: arrow.PrimitiveTypes.Int64})
		if err != nil {
			b.Fatal(err)
		}
		err = t.Each(func(rec arrow.Record, px []float32, n int) error {
			return t.Write(rec, px, stream.ConstInt64(3, n))
		})
		if err != nil {
			b.Fatal(err)
		}
		outW.Close()
		<-drained
		r.Release()
		inR.Close()
		outR.Close()
	}
}

// BenchmarkPipeCeiling is BenchmarkPlumbing's topology with no Arrow at
// all: the same bytes written to a pipe, copied by a middle goroutine to a
// second pipe through a 1 MiB buffer, and drained. It is the most any tool
// between two pipes can move on this machine, the ceiling against which
// BenchmarkPlumbing's rate is read.
func BenchmarkPipeCeiling(b *testing.B) {
	sh := stream.Shape{C: 3, H: 224, W: 224}
	const rows, records = 32, 16
	chunk := make([]byte, rows*sh.Size()*4)
	b.SetBytes(int64(len(chunk) * records))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		for _, f := range []*os.File{inR, outW} {
			stream.WidenPipe(f)
		}
		go func() {
			for k := 0; k < records; k++ {
				inW.Write(chunk)
			}
			inW.Close()
		}()
		drained := make(chan struct{})
		go func() { io.CopyBuffer(io.Discard, outR, make([]byte, 1<<20)); close(drained) }()
		if _, err := io.CopyBuffer(struct{ io.Writer }{outW}, struct{ io.Reader }{inR}, make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
		outW.Close()
		<-drained
		inR.Close()
		outR.Close()
	}
}
