package imagenet

import "slices"

// Categories16 are the 16 entry-level categories of Geirhos et al.'s
// cue-conflict stimuli (texture-vs-shape, model-vs-human), in the sorted
// order model-vs-human uses: a cue-conflict label is a position here.
var Categories16 = []string{"airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
	"chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck"}

// Category16Indices are, per category of Categories16, the ImageNet-1k
// classes model-vs-human averages the softmax probabilities of
// (human_categories.py's *_indices lists).
var Category16Indices = [][]int{
	{404},                // airplane
	{294, 295, 296, 297}, // bear
	{444, 671},           // bicycle
	{8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89, 90, 91, 92, 93,
		94, 95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139, 140, 141, 142,
		143, 144, 145}, // bird
	{472, 554, 625, 814, 914},           // boat
	{440, 720, 737, 898, 899, 901, 907}, // bottle
	{436, 511, 817},                     // car
	{281, 282, 283, 284, 285, 286},      // cat
	{423, 559, 765, 857},                // chair
	{409, 530, 892},                     // clock
	{152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171,
		172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
		193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 205, 206, 207, 208, 209, 210, 211, 212, 213,
		214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 228, 229, 230, 231, 232, 233, 234,
		235, 236, 237, 238, 239, 240, 241, 243, 244, 245, 246, 247, 248, 249, 250, 252, 253, 254, 255, 256,
		257, 259, 261, 262, 263, 265, 266, 267, 268}, // dog
	{385, 386},                               // elephant
	{508, 878},                               // keyboard
	{499},                                    // knife
	{766},                                    // oven
	{555, 569, 656, 675, 717, 734, 864, 867}, // truck
}

// Category16 is the position of a category name in Categories16.
func Category16(name string) (int, bool) {
	i := slices.Index(Categories16, name)
	return i, i >= 0
}
