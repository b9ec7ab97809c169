package corrupt

import (
	"fmt"
	"testing"
)

// BenchmarkApply times every corruption at severity 3 on one 224x224 and
// one 32x32 image as lk-corrupt calls it (make bench writes the table
// into BENCH.md).
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{224, 32} {
		m := newImg(size, size)
		for i := range m.Pix {
			m.Pix[i] = float64((i*7919)%256) / 255
		}
		t := TableFor(size, size)
		for _, name := range Names() {
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					out, err := Apply(name, m, 3, Config{Table: t, Seed: 1}, "img")
					if err != nil {
						b.Fatal(err)
					}
					release(out) // as lk-corrupt does once the image is in its output

				}
			})
		}
	}
}
