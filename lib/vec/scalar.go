//go:build !(goexperiment.simd && amd64)

package vec

const vector = false

// ClearUpper does nothing: without the vector build, nothing in lk leaves
// the vector registers' upper halves dirty.
func ClearUpper() {}
