//go:build !(goexperiment.simd && amd64)

package vec

var quantize = quantizeScalar

const vector = false
