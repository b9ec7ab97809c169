package corrupt

import "sync"

// Scratch planes: spatter alone makes about fifteen H x W planes per image
// and frees them at once, which at 224 px kept the garbage collector busy
// for a third of its time. get lends a zeroed buffer of n values (from
// earlier images when one is free), put takes it back; a buffer is never
// used after its put.
var scratch sync.Pool // *[]float64

func get(n int) []float64 {
	s := getFull(n)
	clear(s)
	return s
}

// getFull is get without the zeroing, for a caller that writes every
// value before reading any (its values are an earlier image's).
func getFull(n int) []float64 {
	if p, ok := scratch.Get().(*[]float64); ok {
		if cap(*p) >= n {
			return (*p)[:n]
		}
		scratch.Put(p)
	}
	return make([]float64, n)
}

func put(bufs ...[]float64) {
	for _, b := range bufs {
		if b != nil {
			scratch.Put(&b)
		}
	}
}
