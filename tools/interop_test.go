package tools_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// An independent Arrow implementation (JavaScript, npm apache-arrow, which
// `make test` installs into .deps/node) reads a stream written by lk-data
// and sees the same schema, ids, labels and pixel values.
func TestInteropJavaScript(t *testing.T) {
	nodeModules := testutil.Path(t, ".deps", "node", "node_modules")
	if _, err := os.Stat(nodeModules + "/apache-arrow"); err != nil {
		t.Skip("npm apache-arrow not installed; `make test` installs it into .deps/node")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	tmp := t.TempDir()
	f := tmp + "/s.arrow"
	mustSh(t, fmt.Sprintf("lk-data -q --rows 5 --gray3 --crop 32 --shuffle --seed 3 --limit 23 %s > %s", testutil.FashionMNIST(t), f))
	cmd := exec.Command("node", testutil.Path(t, "testdata", "interop", "read_stream.mjs"), f)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var js struct {
		Fields []string
		Shape  string
		Rows   int
		IDs    []string
		Labels []int32
		Sums   []float64
		First  [][]float64
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{"id:Utf8", "label:Int32", "image:FixedSizeList[3072]<Float32>"}
	if fmt.Sprint(js.Fields) != fmt.Sprint(want) || js.Shape != "3,32,32" || js.Rows != 23 {
		t.Fatalf("JavaScript sees fields %v, shape %q, %d rows", js.Fields, js.Shape, js.Rows)
	}
	rd := openStream(t, f)
	i := 0
	for rd.Next() {
		rec := rd.Record()
		ids := rec.Column(0).(*array.String)
		labels := rec.Column(1).(*array.Int32)
		pix, w, _ := stream.Float32Rows(rec.Column(2))
		for j := 0; j < int(rec.NumRows()); j++ {
			row := pix[j*w : (j+1)*w]
			s := 0.0
			for _, v := range row {
				s += float64(v)
			}
			if ids.Value(j) != js.IDs[i] || labels.Value(j) != js.Labels[i] || math.Abs(s-js.Sums[i]) > 1e-9*math.Max(1, s) {
				t.Errorf("row %d: Go %s/%d/%v, JavaScript %s/%d/%v", i, ids.Value(j), labels.Value(j), s, js.IDs[i], js.Labels[i], js.Sums[i])
			}
			for k := 0; k < 4; k++ {
				if float64(row[k]) != js.First[i][k] {
					t.Errorf("row %d value %d: Go %v, JavaScript %v", i, k, row[k], js.First[i][k])
				}
			}
			i++
		}
	}
	if err := rd.Err(); err != nil || i != 23 {
		t.Fatalf("Go read %d rows: %v", i, err)
	}
}
