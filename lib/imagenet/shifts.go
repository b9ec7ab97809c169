package imagenet

import "slices"

// Corruptions are ImageNet-C's 19 corruption names, sorted: the 15 of
// mCE and the 4 extras (speckle_noise, gaussian_blur, spatter, saturate).
// They name the folders of an ImageNet-C tree and lk-corrupt's corruptions.
var Corruptions = []string{
	"brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost", "gaussian_blur",
	"gaussian_noise", "glass_blur", "impulse_noise", "jpeg_compression", "motion_blur", "pixelate",
	"saturate", "shot_noise", "snow", "spatter", "speckle_noise", "zoom_blur",
}

// Perturbations are ImageNet-P's 14 perturbation names, sorted: the 10
// of mFR and the 4 extras (gaussian_blur, spatter, speckle_noise, shear).
var Perturbations = []string{
	"brightness", "gaussian_blur", "gaussian_noise", "motion_blur", "rotate", "scale", "shear",
	"shot_noise", "snow", "spatter", "speckle_noise", "tilt", "translate", "zoom_blur",
}

// noisePerturbations compare each frame with the first, not the previous
// one, and come in three difficulties (folders NAME, NAME_2, NAME_3).
var noisePerturbations = []string{"gaussian_noise", "shot_noise", "speckle_noise"}

// IsCorruption reports whether name is one of ImageNet-C's corruptions.
func IsCorruption(name string) bool { return slices.Contains(Corruptions, name) }

// IsPerturbation reports whether name is one of ImageNet-P's perturbations.
func IsPerturbation(name string) bool { return slices.Contains(Perturbations, name) }

// IsNoisePerturbation reports whether the perturbation is a noise one.
func IsNoisePerturbation(name string) bool { return slices.Contains(noisePerturbations, name) }
