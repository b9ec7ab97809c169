package kernel_test

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/kernel"
	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/testutil"
)

type refLayer struct {
	Node        string    `json:"node"`
	Kernel      int       `json:"kernel"`
	Paper       []float64 `json:"paper"`
	Code        []float64 `json:"code"`
	MergedPaper []float64 `json:"merged_paper"`
	MergedCode  []float64 `json:"merged_code"`
}

func sortedScores(l kernel.Layer, normalise bool) []float64 {
	d := kernel.Distances(l.Kernel)
	kk := l.Kernel * l.Kernel
	s := make([]float64, l.Channels)
	for c := range s {
		s[c] = kernel.Score(l.Weights[c*kk:(c+1)*kk], d, normalise)
	}
	sort.Float64s(s)
	return s
}

// The scores of every depthwise layer equal numpy's on the same ONNX
// initializers (testdata/arch/make_arch.py), both normalisations, with and
// without the merged small kernel.
func TestDepthwiseMatchesNumpy(t *testing.T) {
	var ref struct {
		MinKernel int                   `json:"min_kernel"`
		Models    map[string][]refLayer `json:"models"`
	}
	b, err := os.ReadFile(testutil.Path(t, "testdata/arch/attn_dist.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"lk31": "testdata/zoo/lk31.onnx", "lk3": "testdata/zoo/lk3.onnx", "replknet_s": "testdata/arch/replknet_s.onnx"}
	for name, want := range ref.Models {
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Load(testutil.Path(t, paths[name]))
			if err != nil {
				t.Fatal(err)
			}
			g, err := onnx.NewGraph(m.Graph())
			if err != nil {
				t.Fatal(err)
			}
			for _, merge := range []bool{false, true} {
				layers, err := kernel.Depthwise(m, g, ref.MinKernel, merge)
				if err != nil {
					t.Fatal(err)
				}
				if len(layers) != len(want) {
					t.Fatalf("merge %v: %d layers, numpy %d", merge, len(layers), len(want))
				}
				for i, l := range layers {
					w := want[i]
					if l.Name != w.Node || l.Kernel != w.Kernel {
						t.Fatalf("layer %d: %s k%d, numpy %s k%d", i, l.Name, l.Kernel, w.Node, w.Kernel)
					}
					paper, code := w.Paper, w.Code
					if merge && w.MergedPaper != nil {
						paper, code = w.MergedPaper, w.MergedCode
						if l.Small == "" {
							t.Errorf("%s: no small kernel merged", l.Name)
						}
					}
					close(t, l.Name+" paper", sortedScores(l, true), paper)
					close(t, l.Name+" code", sortedScores(l, false), code)
				}
			}
		})
	}
}

func close(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d channels, numpy %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-5*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s channel rank %d: %g, numpy %g", what, i, got[i], want[i])
		}
	}
}

func initializer(name string, dims []int64, vals ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals}
}

// Merging folds each branch's BatchNorm: the merged kernel is
// s_L*W_L + pad(s_S*W_S) with s = gamma/sqrt(var+eps).
func TestMergeFoldsBatchNorm(t *testing.T) {
	dw := func(name, w string, k int64) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String("Conv"), Name: proto.String(name), Input: []string{"x", w}, Output: []string{name + "_out"},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("group"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(2)}}}
	}
	bn := func(name, in, g, v string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String("BatchNormalization"), Name: proto.String(name),
			Input: []string{in, g, "beta", "mean", v}, Output: []string{name + "_out"},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("epsilon"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(0)}}}
	}
	large := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2}
	g := &onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{{Name: proto.String("x")}},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
		Node: []*onnxpb.NodeProto{
			dw("large", "wl", 3), dw("small", "ws", 1),
			bn("bnl", "large_out", "gl", "vl"), bn("bns", "small_out", "gs", "vs"),
			{OpType: proto.String("Add"), Name: proto.String("sum"), Input: []string{"bnl_out", "bns_out"}, Output: []string{"y"}},
		},
		Initializer: []*onnxpb.TensorProto{
			initializer("wl", []int64{2, 1, 3, 3}, large...),
			initializer("ws", []int64{2, 1, 1, 1}, 10, 20),
			initializer("gl", []int64{2}, 2, 3), initializer("vl", []int64{2}, 4, 9), // scales 1, 1
			initializer("gs", []int64{2}, 1, 1), initializer("vs", []int64{2}, 4, 16), // scales 1/2, 1/4
			initializer("beta", []int64{2}, 0, 0), initializer("mean", []int64{2}, 0, 0),
		},
	}
	m, err := onnx.Parse(mustMarshal(t, &onnxpb.ModelProto{Graph: g}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := onnx.NewGraph(m.Graph())
	if err != nil {
		t.Fatal(err)
	}
	layers, err := kernel.Depthwise(m, v, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || layers[0].Name != "large" || layers[0].Small != "small" {
		t.Fatalf("layers %+v", layers)
	}
	want := []float32{1, 1, 1, 1, 6, 1, 1, 1, 1, 2, 2, 2, 2, 2 + 5, 2, 2, 2, 2}
	for i, w := range layers[0].Weights {
		if math.Abs(float64(w-want[i])) > 1e-6 {
			t.Fatalf("merged kernel %v, want %v", layers[0].Weights, want)
		}
	}
	// unmerged: the large branch as stored, the small one not listed
	layers, err = kernel.Depthwise(m, v, 1, false)
	if err != nil || len(layers) != 1 || layers[0].Weights[4] != 1 {
		t.Fatalf("unmerged: %v %+v", err, layers)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
