package grad

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// dlrDef is the DLR loss as Croce and Hein (2020) define it, in float64:
// untargeted -(z_y - max_{i!=y} z_i)/(z_pi1 - z_pi3), targeted
// -(z_y - z_t)/(z_pi1 - (z_pi3 + z_pi4)/2).
func dlrDef(z []float64, y, t int) float64 {
	s := append([]float64(nil), z...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	if t < 0 {
		other := math.Inf(-1)
		for i, v := range z {
			if i != y {
				other = max(other, v)
			}
		}
		return -(z[y] - other) / (s[0] - s[2] + 1e-12)
	}
	return -(z[y] - z[t]) / (s[0] - (s[2]+s[3])/2 + 1e-12)
}

// The DLR objectives (and FAB's margin) of a model whose logits are its pixels equal the
// definition, and their gradients its finite differences, on fixed
// logits: the true class first, second and last, and a target that is
// itself among the top four.
func TestDLRMatchesDefinition(t *testing.T) {
	testutil.ORT(t)
	const k = 10
	g := &onnxpb.GraphProto{Name: proto.String("identity")}
	g.Input = []*onnxpb.ValueInfoProto{tensorInfo("x", onnxpb.TensorProto_FLOAT, -1, 1, 1, k)}
	g.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}
	onnx.AddNode(g, "Flatten", "flat", []string{"x"}, []string{"y"})
	m := &onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}}
	logits := [][]float32{
		{0.9, 0.1, 0.5, -0.3, 0.7, 0.2, -0.8, 0.05, 0.3, 0.6},  // y = 0 is the largest
		{0.2, 0.8, 0.95, -0.3, 0.1, 0.4, 0.0, 0.65, -0.5, 0.3}, // y = 1 second
		{0.3, 0.1, 0.5, 0.25, 0.7, 0.2, 0.9, 0.05, 0.45, -0.6}, // y = 9 last
	}
	labels := []int64{0, 1, 9}
	targets := []int64{4, 2, 4} // top-4 classes for rows 0 and 2, the top class for row 1
	n := len(labels)
	px := make([]float32, 0, n*k)
	for _, r := range logits {
		px = append(px, r...)
	}
	def := func(obj Objective, z []float64, y, t int) float64 {
		if obj == Margin {
			return z[t] - z[y] // FAB's: the target's logit minus the true one
		}
		return dlrDef(z, y, t)
	}
	for _, obj := range []Objective{DLR, DLRTargeted, Margin} {
		gm, err := Build(m, Options{Input: "x", Output: "y", C: 1, H: 1, W: k, Mean: []float32{0}, Std: []float32{1}, Objective: obj, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "dlr.onnx")
		if err := gm.Save(path); err != nil {
			t.Fatal(err)
		}
		ins := []string{Pixels, Label}
		if obj.Targeted() {
			ins = append(ins, Target)
		}
		s, err := ort.NewMultiSession(path, ins, []string{"y", Loss, Grad}, ort.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		sess := Session{S: s, C: 1, H: 1, W: k, Classes: k, Objective: obj}
		z, loss, gr := make([]float32, n*k), make([]float32, n), make([]float32, n*k)
		if err := sess.Eval(z, loss, gr, px, labels, targets, n); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for i := 0; i < n; i++ {
			row := make([]float64, k)
			for j := range row {
				row[j] = float64(px[i*k+j])
			}
			tg := -1
			if obj.Targeted() {
				tg = int(targets[i])
			}
			want := def(obj, row, int(labels[i]), tg)
			if math.Abs(float64(loss[i])-want) > 1e-5 {
				t.Errorf("objective %d row %d: loss %g, definition %g", obj, i, loss[i], want)
			}
			for j := range row {
				const h = 1e-6
				save := row[j]
				row[j] = save + h
				fp := def(obj, row, int(labels[i]), tg)
				row[j] = save - h
				fm := def(obj, row, int(labels[i]), tg)
				row[j] = save
				fd := (fp - fm) / (2 * h)
				if math.Abs(float64(gr[i*k+j])-fd) > 1e-4*max(1, math.Abs(fd)) {
					t.Errorf("objective %d row %d class %d: gradient %g, finite difference %g", obj, i, j, gr[i*k+j], fd)
				}
			}
		}
	}
}
