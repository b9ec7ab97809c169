package onnx_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/infer"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

func TestFloat16(t *testing.T) {
	cases := map[uint16]float32{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: float32(math.Ldexp(1, -24)),
		0x03ff: float32(math.Ldexp(1023, -24)), 0x3555: 0.333251953125, 0x0000: 0,
	}
	for h, want := range cases {
		if got := onnx.Float16(h); got != want {
			t.Errorf("Float16(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(onnx.Float16(0xfc00)), -1) || !math.IsNaN(float64(onnx.Float16(0x7e00))) {
		t.Error("Inf/NaN not preserved")
	}
	if math.Signbit(float64(onnx.Float16(0x8000))) != true {
		t.Error("-0 lost its sign")
	}
}

// runZoo runs a model on a fixed batch and returns its logits.
func runZoo(t *testing.T, path string) []float32 {
	t.Helper()
	m, err := infer.Open(infer.Options{Model: path, Runtime: ort.Options{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const n = 16
	px := make([]float32, n*m.Shape.Size())
	for i := range px {
		px[i] = float32((i*7919)%256) / 255
	}
	out := make([]float32, n*m.Classes)
	if err := m.Logits(out, px, n); err != nil {
		t.Fatal(err)
	}
	return out
}

func copySidecar(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(strings.TrimSuffix(from, ".onnx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(strings.TrimSuffix(to, ".onnx")+".json", b, 0o644)
}

// Load then Save leaves ONNX Runtime's outputs bit-identical, inline and
// with the weights moved to an external data file.
func TestRoundTripZoo(t *testing.T) {
	testutil.ORT(t)
	for _, name := range testutil.Zoo {
		t.Run(name, func(t *testing.T) {
			src := testutil.Path(t, "testdata", "zoo", name+".onnx")
			m, err := onnx.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			inline := filepath.Join(dir, "inline.onnx")
			if err := m.Save(inline); err != nil {
				t.Fatal(err)
			}
			copySidecar(t, src, inline)
			want := runZoo(t, src)
			if got := runZoo(t, inline); !equal(got, want) {
				t.Fatal("inline round trip changed the outputs")
			}
			// move every initializer to external data, save, load, save again
			ext := proto.Clone(m.Proto).(*onnxpb.ModelProto)
			var data bytes.Buffer
			for _, init := range ext.GetGraph().GetInitializer() {
				raw, err := m.RawBytes(init)
				if err != nil {
					if len(init.GetFloatData()) > 0 || len(init.GetInt64Data()) > 0 || len(init.GetInt32Data()) > 0 {
						continue // typed fields stay inline
					}
					t.Fatal(err)
				}
				init.ExternalData = []*onnxpb.StringStringEntryProto{
					{Key: proto.String("location"), Value: proto.String("weights.bin")},
					{Key: proto.String("offset"), Value: proto.String(strconv.Itoa(data.Len()))},
					{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(raw)))},
				}
				init.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
				init.RawData = nil
				data.Write(raw)
			}
			os.WriteFile(filepath.Join(dir, "weights.bin"), data.Bytes(), 0o644)
			b, _ := proto.Marshal(ext)
			extPath := filepath.Join(dir, "ext.onnx")
			os.WriteFile(extPath, b, 0o644)
			copySidecar(t, src, extPath)
			if got := runZoo(t, extPath); !equal(got, want) {
				t.Fatal("external-data copy changed the outputs")
			}
			em, err := onnx.Load(extPath)
			if err != nil {
				t.Fatal(err)
			}
			sub := filepath.Join(dir, "sub")
			os.Mkdir(sub, 0o755)
			resaved := filepath.Join(sub, "resaved.onnx")
			if err := em.Save(resaved); err != nil {
				t.Fatal(err)
			}
			copySidecar(t, src, resaved)
			if got := runZoo(t, resaved); !equal(got, want) {
				t.Fatal("re-saving an external-data model elsewhere changed the outputs")
			}
			for _, init := range em.Graph().GetInitializer() {
				orig := m.Initializer(init.GetName())
				if orig.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
					continue
				}
				a, err1 := m.Float32s(orig)
				b, err2 := em.Float32s(init)
				if err1 != nil || err2 != nil || !equal(a, b) {
					t.Fatalf("initializer %s decodes differently from external data: %v %v", init.GetName(), err1, err2)
				}
			}
		})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// External data may only come from the model's own folder, and sizes are
// checked against the file before reading.
func TestExternalDataIsConfined(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 16), 0o644)
	cases := []struct {
		loc, off, length string
		want             string
	}{
		{"w.bin", "0", "16", ""},
		{"../w.bin", "0", "16", "outside the model's folder"},
		{"sub/../../w.bin", "0", "16", "outside the model's folder"},
		{"/etc/passwd", "0", "16", "absolute"},
		{"w.bin", "8", "16", "past the end of the file"},
		{"w.bin", "0", "12", "need 16 bytes"},
		{"w.bin", "-1", "16", "bad external data offset"},
		{"missing.bin", "0", "16", "no such file"},
	}
	for _, c := range cases {
		tp := &onnxpb.TensorProto{
			Name: proto.String("w"), Dims: []int64{4}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(c.loc)},
				{Key: proto.String("offset"), Value: proto.String(c.off)},
				{Key: proto.String("length"), Value: proto.String(c.length)},
			},
		}
		mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{tp}}}
		b, _ := proto.Marshal(mp)
		path := filepath.Join(dir, "m.onnx")
		os.WriteFile(path, b, 0o644)
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Float32s(m.Graph().GetInitializer()[0])
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("location %q offset %s length %s: err = %v, want %q", c.loc, c.off, c.length, err, c.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"garbage":  []byte("this is not a protobuf message at all"),
		"empty":    nil,
		"no graph": mustMarshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8)}),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".onnx")
		os.WriteFile(p, data, 0o644)
		if _, err := onnx.Load(p); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// dims that do not match the data
	tp := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{1 << 40, 1 << 40}, DataType: proto.Int32(1), RawData: []byte{1, 2, 3, 4}}
	m, _ := onnx.Parse(mustMarshal(&onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{tp}}}))
	if _, err := m.Float32s(m.Graph().GetInitializer()[0]); err == nil {
		t.Error("absurd dims accepted")
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParse: any bytes give a model or an error, and decoding its
// initializers never panics or allocates past the data it has.
func FuzzParse(f *testing.F) {
	zoo, _ := filepath.Glob("../../testdata/models/*.onnx")
	for _, p := range zoo {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Add(mustMarshal(functionModel(18))) // Parse expands model-local functions
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Parse(data)
		if err != nil {
			return
		}
		for _, init := range m.Graph().GetInitializer() {
			m.Float32s(init)
		}
	})
}
