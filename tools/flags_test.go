package tools_test

import (
	"strings"
	"testing"
)

// Every float a user types goes through one parser that refuses NaN and
// the infinities (a NaN budget, width, ratio or threshold silently
// disabled what it set), and flags with a known range are checked.
func TestNonFiniteFlags(t *testing.T) {
	cases := []struct{ args, want string }{
		{"lk-attack --model testdata/zoo/lk31.onnx --attack fgsm --eps nan", `"nan" is not a finite number`},
		{"lk-attack --model testdata/zoo/lk31.onnx --attack pgd --eps 0.01 --alpha inf", `"inf" is not a finite number`},
		{"lk-fft-noise --freqs 0.5 --eps nan", `"nan" is not a finite number`},
		{"lk-fft-noise --freqs 0.5 --width nan", `"nan" is not a finite number`},
		{"lk-fft-noise --freqs nan", `"nan" is not a finite number`},
		{"lk-fft-noise --freqs 0.5 --width 3", "--width must be in (0,1]"},
		{"lk-occlude --ratios nan", `"nan" is not a finite number`},
		{"lk-occlude --lambdas 0.5,-inf", `"-inf" is not a finite number`},
		{"lk-select --min-confidence nan", `"nan" is not a finite number`},
		{"lk-select --max-confidence +Inf", `"+Inf" is not a finite number`},
		{"lk-infer --model testdata/zoo/lk31.onnx --mean nan", `"nan" is not a finite number`},
		{"lk-featvar --model testdata/zoo/lk31.onnx --std 1,inf,1", `"inf" is not a finite number`},
		{"lk-erf --model testdata/zoo/lk31.onnx --mean NaN", `"NaN" is not a finite number`},
		{"lk-plot --kind bar -o x.png --width nan", `"nan" is not a finite number`},
		{"lk-plot --kind bar -o x.png --width 1e308", "at most 500 cm"},
		{"lk-plot --kind montage -o x.png --cell 1e9", "at most 500 cm"},
	}
	for _, c := range cases {
		_, errOut, err := sh(t, c.args+" < /dev/null")
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: err %v, stderr %q; want %q", c.args, err, errOut, c.want)
		}
		if strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: panicked", c.args)
		}
	}
}
