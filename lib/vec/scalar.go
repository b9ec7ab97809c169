//go:build !(goexperiment.simd && amd64)

package vec

var (
	quantize     = quantizeScalar
	toLevels     = toLevelsScalar
	fromLevels   = fromLevelsScalar
	maxFrom      = maxFromScalar
	minFrom      = minFromScalar
	addScaled    = addScaledScalar
	mulAddBytes  = mulAddBytesScalar
	shiftClip    = shiftClipScalar
	symmetricRow = symmetricRowScalar
	taps         = tapsScalar
	minPlus      = minPlusScalar
	bilinear3    = bilinear3Scalar
	scaleAbout3  = scaleAbout3Scalar
)

const vector = false
