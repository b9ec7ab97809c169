package imagenet

import (
	"fmt"
	"slices"
)

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

// CBarSeverities are ImageNet-C-bar's corruptions (Mintun et al. 2021)
// and the parameter of each of their five severities, in order:
// make_imagenet_c_bar.py names a severity's folder by its parameter,
// formatted "%.2f" (imagenet_c_bar.csv).
var CBarSeverities = map[string][5]float64{
	"caustic_refraction":         {2.35, 3.2, 4.9, 6.6, 9.15},
	"inverse_sparkles":           {1, 2, 4, 9, 10},
	"sparkles":                   {1, 2, 3, 5, 6},
	"perlin_noise":               {4.6, 5.2, 5.8, 7.6, 8.8},
	"blue_noise_sample":          {0.8, 1.6, 2.4, 4, 5.6},
	"plasma_noise":               {4.75, 7, 8.5, 9.25, 10},
	"checkerboard_cutout":        {2, 3, 4, 5, 6},
	"cocentric_sine_waves":       {3, 5, 8, 9, 10},
	"single_frequency_greyscale": {1, 1.5, 2, 4.5, 5},
	"brownish_noise":             {1, 2, 3, 4, 5},
}

// CBarLevel is the severity (1-5) of an ImageNet-C-bar corruption's
// folder name ("2.35"); ok is false for a name that is none of them.
func CBarLevel(corruption, folder string) (int, bool) {
	sev, known := CBarSeverities[corruption]
	if !known {
		return 0, false
	}
	for i, v := range sev {
		if fmt.Sprintf("%.2f", v) == folder {
			return i + 1, true
		}
	}
	return 0, false
}
