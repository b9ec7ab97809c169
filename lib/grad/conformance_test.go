package grad

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx"
	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
	"github.com/lk-robustness/lk/lib/ort"
	"github.com/lk-robustness/lk/lib/testutil"
)

// onnxNodeTests is where Debian's libonnx-testdata installs the node tests
// of the ONNX project's backend test suite: one model per operator
// variant, with inputs and expected outputs.
const onnxNodeTests = "/usr/share/libonnx-testdata/data/node"

var noRule = regexp.MustCompile(`lk cannot differentiate (\w+)`)

// TestONNXNodeSuite differentiates every node test of the ONNX project's
// suite whose first input and first output are float32 and connected, with
// respect to that input, at the suite's own input values (the others are
// fixed at theirs), and compares with finite differences of the model run
// as exported. A gradient that is built and disagrees is a wrong number
// and fails the test; a missing rule is counted, by operator.
func TestONNXNodeSuite(t *testing.T) {
	testutil.ORT(t)
	dirs, err := os.ReadDir(onnxNodeTests)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the ONNX backend test suite is missing (.ci/run installs Debian's libonnx-testdata): %v", err)
		}
		t.Skipf("skipped: the ONNX backend test suite is not installed (Debian: apt-get install libonnx-testdata): %v", err)
	}
	nodeSuite(t, onnxNodeTests, dirs, 0.95)
}

// NewNodeSuiteEnv names a folder holding a newer node suite (opsets to 22:
// onnx 1.17's, which `python3 -m onnx.backend.test.cmd_tools generate-data
// -o DIR` writes into DIR/node; testdata/modern/make.sh says how to get
// onnx 1.17 on Debian). Debian bookworm's libonnx-testdata stops at
// opset 17.
const NewNodeSuiteEnv = "LK_ONNX_NODE_TESTS"

// TestONNXNewNodeSuite is TestONNXNodeSuite over the suite that
// $LK_ONNX_NODE_TESTS names, when it names one.
func TestONNXNewNodeSuite(t *testing.T) {
	dir := os.Getenv(NewNodeSuiteEnv)
	if dir == "" {
		t.Skipf("skipped: $%s names no newer ONNX node suite (onnx 1.17's: python3 -m onnx.backend.test.cmd_tools generate-data -o DIR, then %s=DIR/node)", NewNodeSuiteEnv, NewNodeSuiteEnv)
	}
	testutil.ORT(t)
	dirs, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("$%s: %v", NewNodeSuiteEnv, err)
	}
	nodeSuite(t, dir, dirs, 0.95)
}

// nodeSuite checks the gradients of the node tests in root and fails
// below the fraction built and matched, or on any wrong gradient.
func nodeSuite(t *testing.T, root string, dirs []os.DirEntry, least float64) {
	var tried, matched int
	var unrunnable []string
	refused := map[string][]string{}
	var wrong []string
	for _, d := range dirs {
		dir := filepath.Join(root, d.Name())
		fwd, x, shape, ok := nodeTest(t, dir)
		if !ok {
			continue
		}
		y := fwd.Graph().GetOutput()[0].GetName()
		// a model ONNX Runtime cannot run has no finite differences to
		// check a gradient against (nor would lk run it): counted apart
		if s, err := ort.NewSession(fwd.Path, fwd.Graph().GetInput()[0].GetName(), []string{y}, ort.Options{Threads: 1}); err != nil {
			unrunnable = append(unrunnable, d.Name())
			continue
		} else {
			s.Close()
		}
		err := checkGrad(t, fwd, fwd.Path, fwd.Graph().GetInput()[0].GetName(), y, shape, shape, x)
		var mm *mismatch
		switch {
		case err != nil && strings.Contains(err.Error(), "through differentiable ops"):
			continue // nothing differentiable connects them
		case err == nil:
			tried++
			matched++
		case errors.As(err, &mm):
			tried++
			wrong = append(wrong, d.Name()+": "+err.Error())
		default:
			tried++
			why := "other: " + err.Error()
			if m := noRule.FindStringSubmatch(err.Error()); m != nil {
				why = m[1]
			}
			refused[why] = append(refused[why], d.Name())
		}
	}
	var lines []string
	for why, names := range refused {
		lines = append(lines, fmt.Sprintf("  %-28s %3d  %s", why, len(names), strings.Join(names, " ")))
	}
	sort.Strings(lines)
	t.Logf("ONNX node tests with a float input connected to a float output that ONNX Runtime %s runs: %d; gradient built and matched: %d (%.1f%%); built and wrong: %d; not built: %d\n%s\nnot run by ONNX Runtime (no finite differences to check against): %d  %s",
		ort.Version(), tried, matched, 100*float64(matched)/float64(max(tried, 1)), len(wrong), tried-matched-len(wrong), strings.Join(lines, "\n"),
		len(unrunnable), strings.Join(unrunnable, " "))
	for _, w := range wrong {
		t.Errorf("wrong gradient: %s", w)
	}
	if float64(matched) < least*float64(tried) {
		t.Errorf("%d of %d gradients built and matched, under %.0f%%", matched, tried, 100*least)
	}
}

// nodeTest loads a node test for differentiation: its model with every
// graph input but the first turned into an initializer holding the suite's
// value (saved beside as the forward model), the first input's values and
// shape. ok is false when the test does not fit (no float32 first input or
// output, no data).
func nodeTest(t *testing.T, dir string) (*onnx.Model, []float32, []int64, bool) {
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, nil, nil, false
	}
	g := m.Graph()
	inits := map[string]bool{}
	for _, in := range g.GetInitializer() {
		inits[in.GetName()] = true
	}
	var inputs []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !inits[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) == 0 || len(g.GetOutput()) == 0 || !isFloat(inputs[0]) || !isFloat(g.GetOutput()[0]) {
		return nil, nil, nil, false
	}
	data := filepath.Join(dir, "test_data_set_0")
	var x []float32
	var shape []int64
	c := m.Clone()
	cg := c.Graph()
	cg.Input = []*onnxpb.ValueInfoProto{inputs[0]}
	for k, in := range inputs {
		raw, err := os.ReadFile(filepath.Join(data, fmt.Sprintf("input_%d.pb", k)))
		if err != nil {
			return nil, nil, nil, false
		}
		tp := &onnxpb.TensorProto{}
		if err := proto.Unmarshal(raw, tp); err != nil {
			return nil, nil, nil, false
		}
		if k == 0 {
			if x, err = m.Float32s(tp); err != nil {
				return nil, nil, nil, false
			}
			shape = tp.GetDims()
			continue
		}
		tp.Name = proto.String(in.GetName())
		cg.Initializer = append(cg.Initializer, tp)
	}
	if len(x) == 0 {
		return nil, nil, nil, false
	}
	path := filepath.Join(t.TempDir(), "fwd.onnx")
	if err := c.Save(path); err != nil {
		return nil, nil, nil, false
	}
	fwd, err := onnx.Load(path)
	if err != nil {
		return nil, nil, nil, false
	}
	return fwd, x, shape, true
}

func isFloat(v *onnxpb.ValueInfoProto) bool {
	return v.GetType().GetTensorType().GetElemType() == int32(onnxpb.TensorProto_FLOAT)
}
