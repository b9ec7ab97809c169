package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/tooltest"
)

func TestRun(t *testing.T) {
	img := tooltest.Images(t, 4)
	tooltest.Check(t, run, []tooltest.Case{
		{Args: []string{"--corruptions", "frostbite"}, Stdin: img, Err: `"frostbite" is not one of`, Usage: true},
		{Args: []string{"--corruptions", "fog", "--severities", "6"}, Stdin: img, Err: "severities are 1 to 5", Usage: true},
		{Args: []string{"--corruptions", "fog", "--severities", "1-3,2"}, Stdin: img, Err: "2 is given twice", Usage: true},
		{Args: []string{"--corruptions", "fog", "--resume"}, Stdin: img, Err: "--resume needs --out", Usage: true},
		{Args: []string{"-q", "--corruptions", "fog,contrast", "--severities", "1,5"}, Stdin: img},
	})
	out, _, err := tooltest.Run(run, img, "-q", "--corruptions", "fog,contrast", "--severities", "1,5")
	if err != nil {
		t.Fatal(err)
	}
	r := tooltest.Stream(t, out)
	if k := stream.Key(r.Schema()); len(k) != 3 || k[1] != "corruption" || k[2] != "severity" {
		t.Errorf("key %v, want id,corruption,severity", k)
	}
	n := 0
	for r.Next() {
		n += int(r.Record().NumRows())
	}
	if r.Err() != nil || n != 16 {
		t.Errorf("%d rows (want 4 images x 2 corruptions x 2 severities), %v", n, r.Err())
	}
}

func TestRunTable(t *testing.T) {
	tooltest.Check(t, run, []tooltest.Case{{Args: []string{"--corruptions", "fog", "--table", "mnist"}, Err: `--table "mnist"`, Usage: true}})
}

// A NaN or infinite pixel is an error naming the row and the pixel, for
// the corruptions and the perturbations alike (shot noise's Poisson draw
// never ended on a NaN before).
func TestNonFinitePixel(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		r := tooltest.Stream(t, tooltest.Images(t, 3))
		var b bytes.Buffer
		w, err := stream.NewWriter(&b, r.Schema())
		if err != nil {
			t.Fatal(err)
		}
		col := r.Schema().FieldIndices("image")[0]
		for r.Next() {
			rec := r.Record()
			px, width, err := stream.Float32Rows(rec.Column(col))
			if err != nil {
				t.Fatal(err)
			}
			px = append([]float32(nil), px...)
			px[width+5] = bad // row 1, channel 0, y 0, x 5
			out := stream.WithImage(r.Schema(), rec, col, px, width)
			if err := w.Write(out); err != nil {
				t.Fatal(err)
			}
			out.Release()
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"-q", "--corruptions", "shot_noise,fog", "--severities", "3"},
			{"-q", "--perturbations", "shot_noise"},
		} {
			_, _, err := tooltest.Run(run, b.Bytes(), args...)
			if err == nil || !strings.Contains(err.Error(), "row id") || !strings.Contains(err.Error(), "(channel 0, y 0, x 5)") || !strings.Contains(err.Error(), "finite") {
				t.Errorf("%v with a %v pixel: %v, want an error naming the row and the pixel", args, bad, err)
			}
		}
	}
}
