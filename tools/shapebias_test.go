package tools_test

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
)

// lk-data reads a cue-conflict tree into labels (shapes) and a texture
// column; lk-render --cue-conflict makes the Fashion-MNIST twin (every
// image a conflict, black outside its silhouette, the same bytes for the
// same seed, other textures for another); lk-metrics scores both.
func TestShapeBias(t *testing.T) {
	tmp := t.TempDir()
	for _, p := range []string{"bear/bear1-cat2.png", "bear/bear2-bear1.png", "knife/knife1-oven3.png"} {
		path := filepath.Join(tmp, "cue", p)
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, _ := os.Create(path)
		png.Encode(f, image.NewRGBA(image.Rect(0, 0, 8, 8)))
		f.Close()
	}
	mustSh(t, fmt.Sprintf("lk-data -q %s/cue > %s/cue.arrow", tmp, tmp))
	r := openStream(t, tmp+"/cue.arrow")
	ti := r.Schema().FieldIndices(stream.ColTexture)
	if len(ti) != 1 {
		t.Fatalf("no texture column: %v", r.Schema())
	}
	var got string
	for r.Next() {
		rec := r.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			got += fmt.Sprintf("%s:%d/%d ", rec.Column(0).(*array.String).Value(i), rec.Column(1).(*array.Int32).Value(i), rec.Column(ti[0]).(*array.Int64).Value(i))
		}
	}
	if want := "bear/bear1-cat2.png:1/7 bear/bear2-bear1.png:1/1 knife/knife1-oven3.png:13/14 "; got != want {
		t.Errorf("cue-conflict rows %q, want %q", got, want)
	}

	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --keep-labels 0-7 --limit 200 testdata/fashion-mnist/t10k-images-idx3-ubyte.gz > %s/x.arrow", tmp))
	a := mustSh(t, fmt.Sprintf("lk-render -q --cue-conflict --seed 1 < %s/x.arrow | tee %s/c.arrow | sha256sum", tmp, tmp))
	b := mustSh(t, fmt.Sprintf("lk-render -q --cue-conflict --seed 1 < %s/x.arrow | sha256sum", tmp))
	c := mustSh(t, fmt.Sprintf("lk-render -q --cue-conflict --seed 2 < %s/x.arrow | sha256sum", tmp))
	if a != b || a == c {
		t.Errorf("seed 1 twice: %s %s; seed 2: %s", a, b, c)
	}
	clean, cue := imagesBy(t, tmp+"/x.arrow"), imagesBy(t, tmp+"/c.arrow")
	for id, px := range cue {
		for i, v := range px {
			if v != 0 && clean[id][i%1024] == 0 { // outside the silhouette (grey: channel 0 says) stays black
				t.Fatalf("%s: pixel %d outside the silhouette is %v", id, i, v)
			}
		}
	}
	rows := readCSV(t, mustSh(t, fmt.Sprintf("lk-infer -q --model testdata/zoo/lk31.onnx < %s/c.arrow | lk-metrics --measure shape-bias --format csv", tmp)))
	sb, _ := strconv.ParseFloat(rows[0]["shape_bias"], 64)
	if rows[0]["n"] != "200" || rows[0]["conflicts"] != "200.00" || sb <= 0 || sb > 100 {
		t.Errorf("shape bias of lk31 on the twin: %v", rows[0])
	}
}
