package tools_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/arch"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/testutil"
)

// erfRef is testdata/erf/erf.json (make_erf.py): PyTorch autograd's ERFs.
type erfRef struct {
	Zoo map[string]struct {
		Score []float64      `json:"score"`
		Areas map[string]int `json:"areas"`
	} `json:"zoo"`
	Fixtures map[string]struct {
		Index  []int          `json:"index"`
		Values []string       `json:"values"`
		Sum    []float64      `json:"sum"`
		Areas  map[string]int `json:"areas"`
	} `json:"fixtures"`
}

// hashStream writes n images of hash noise (make_arch.py's hash_pixels:
// pixel i is (i * 2654435761 mod 2^32) / 2^32 over the whole batch).
func hashStream(t *testing.T, path string, n int, sh stream.Shape) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schema := stream.ImageSchema(sh, arrow.Metadata{})
	w, err := stream.NewWriter(f, schema)
	if err != nil {
		t.Fatal(err)
	}
	px := make([]float32, n*sh.Size())
	for i := range px {
		px[i] = float32(float64(uint32(uint64(i)*2654435761)) / (1 << 32))
	}
	ids := array.NewStringBuilder(memory.DefaultAllocator)
	labels := array.NewInt32Builder(memory.DefaultAllocator)
	for i := 0; i < n; i++ {
		ids.Append(fmt.Sprintf("hash%d", i))
		labels.Append(0)
	}
	rec := array.NewRecord(schema, []arrow.Array{ids.NewArray(), labels.NewArray(), stream.Float32List(px, sh.Size())}, int64(n))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// erfTable runs lk-erf and returns its CSV rows.
func erfTable(t *testing.T, args, in string) []map[string]string {
	return readCSV(t, mustSh(t, fmt.Sprintf("lk-erf -q %s --format csv < %s", args, in)))
}

func checkAreas(t *testing.T, name string, rows []map[string]string, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, r := range rows {
		th, _ := strconv.ParseFloat(r["threshold"], 64)
		got[strconv.FormatFloat(th, 'g', -1, 64)], _ = strconv.Atoi(r["side"])
	}
	if len(got) != len(want) {
		t.Errorf("%s: areas %v, PyTorch %v", name, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: threshold %s: side %d, PyTorch %d", name, k, got[k], v)
		}
	}
}

// relL2 is |a - b| / |b| over the pairs.
func relL2(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// lk-erf's map equals PyTorch autograd's (make_erf.py, RepLKNet's
// visualize_erf.py on the same images) within 1e-4 relative L2 on the zoo
// (whole 32x32 maps over 8 Fashion-MNIST images) and the RepLKNet- and
// ConvNeXt-style fixtures (256 positions and the sum of 224x224 maps over
// 2 noise images), and its high-contribution areas are the same squares.
func TestERFMatchesPyTorch(t *testing.T) {
	var ref erfRef
	readJSON(t, "testdata/erf/erf.json", &ref)
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 8 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	for name, r := range ref.Zoo {
		model := fmt.Sprintf("--model testdata/zoo/%s.onnx --images 8", name)
		rows := erfTable(t, model, tmp+"/x.arrow")
		if len(rows) != len(r.Score) {
			t.Fatalf("%s: %d map cells, PyTorch %d", name, len(rows), len(r.Score))
		}
		got := make([]float64, len(rows))
		for _, row := range rows {
			y, _ := strconv.Atoi(row["y"])
			x, _ := strconv.Atoi(row["x"])
			got[y*32+x], _ = strconv.ParseFloat(row["score"], 64)
		}
		if e := relL2(got, r.Score); e > 1e-4 {
			t.Errorf("%s: ERF map differs from PyTorch's by %.2g (relative L2)", name, e)
		}
		checkAreas(t, name, erfTable(t, model+" --areas", tmp+"/x.arrow"), r.Areas)
	}
	hashStream(t, tmp+"/hash.arrow", 2, stream.Shape{C: 3, H: 224, W: 224})
	for name, r := range ref.Fixtures {
		model := fmt.Sprintf("--model testdata/arch/%s.onnx --images 2", name)
		rows := erfTable(t, model, tmp+"/hash.arrow")
		score := make([]float64, len(rows))
		var sum float64
		for _, row := range rows {
			y, _ := strconv.Atoi(row["y"])
			x, _ := strconv.Atoi(row["x"])
			score[y*224+x], _ = strconv.ParseFloat(row["score"], 64)
			sum += score[y*224+x]
		}
		b, _ := base64.StdEncoding.DecodeString(r.Values[0])
		var got, want []float64
		for k, i := range r.Index {
			got = append(got, score[i])
			want = append(want, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))))
		}
		if e := relL2(got, want); e > 1e-4 {
			t.Errorf("%s: ERF map differs from PyTorch's by %.2g (relative L2 at 256 positions)", name, e)
		}
		if math.Abs(sum-r.Sum[0]) > 1e-4*math.Abs(r.Sum[0]) {
			t.Errorf("%s: map sum %g, PyTorch %g", name, sum, r.Sum[0])
		}
		checkAreas(t, name, erfTable(t, model+" --areas", tmp+"/hash.arrow"), r.Areas)
	}
}

// A ViT has no feature map: lk-erf says so and asks for --node; the map
// does not depend on --batch.
func TestERFErrorsAndBatch(t *testing.T) {
	tmp := t.TempDir()
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 6 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	_, errOut, err := sh(t, "lk-erf -q --model testdata/zoo/vit.onnx < "+tmp+"/x.arrow > /dev/null")
	if err == nil || !strings.Contains(errOut, "name one with --node") {
		t.Errorf("ViT: %v %q", err, errOut)
	}
	a := mustSh(t, "lk-erf -q --model testdata/zoo/lk7.onnx --images 6 --batch 4 --format csv < "+tmp+"/x.arrow")
	b := mustSh(t, "lk-erf -q --model testdata/zoo/lk7.onnx --images 6 --batch 1 --format csv < "+tmp+"/x.arrow")
	if a != b {
		t.Error("the ERF map depends on --batch")
	}
}

// A feature map with a non-finite value is refused, naming the row,
// whatever the gradient at its centre: here -Inf at one corner of every
// channel leaves the centre's gradient finite (before, lk-erf wrote the
// map as if nothing were wrong).
func TestERFNonFiniteFeatureMap(t *testing.T) {
	testutil.ORT(t)
	tmp := t.TempDir()
	m, err := onnx.Load(testutil.Path(t, "testdata", "zoo", "lk7.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	am, err := arch.Open(testutil.Path(t, "testdata", "zoo", "lk7.onnx"), stream.Shape{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	last := am.Blocks[len(am.Blocks)-1]
	h, w := last.Shape[2], last.Shape[3]
	mask := make([]float32, h*w)
	for i := range mask {
		mask[i] = 1
	}
	mask[0] = 0 // log 0 = -Inf at the corner
	g := m.Graph()
	onnx.AddInitializer(g, "lk_test_mask", []int64{1, 1, h, w}, mask)
	onnx.AddNode(g, "Log", "lk_test_log", []string{"lk_test_mask"}, []string{"lk_test_logmask"})
	onnx.AddNode(g, "Add", "lk_test_broken", []string{last.Output, "lk_test_logmask"}, []string{"broken_map"})
	g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String("broken_map")})
	if err := m.Save(tmp + "/broken.onnx"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(testutil.Path(t, "testdata", "zoo", "lk7.json"))
	side := strings.Replace(string(b), "{", `{"output": "`+g.GetOutput()[0].GetName()+`", `, 1)
	os.WriteFile(tmp+"/broken.json", []byte(side), 0o644)
	mustSh(t, fmt.Sprintf("lk-data -q --gray3 --crop 32 --limit 4 %s > %s/x.arrow", testutil.FashionMNIST(t), tmp))
	_, errOut, err := sh(t, fmt.Sprintf("lk-erf -q --model %s/broken.onnx --node broken_map --images 4 < %s/x.arrow > /dev/null", tmp, tmp))
	if err == nil || !strings.Contains(errOut, "non-finite feature map broken_map") || !strings.Contains(errOut, `row id "t10k/`) {
		t.Errorf("a -Inf feature map: %v %q", err, errOut)
	}
}
