// Package ort loads the ONNX Runtime shared library and runs ONNX models on
// float32 batches. Every tool that runs a model goes through it, so the
// library is found, and its absence is explained, in one place.
package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibEnv names the environment variable that points at libonnxruntime.so.
const LibEnv = "LK_ORT_LIB"

// LibVersion is the ONNX Runtime release lk is built and tested against.
const LibVersion = "1.24.1"

// defaultRel is where `make deps` puts the library, relative to the folder
// holding the lk binaries (bin/..).
const defaultRel = "../.deps/onnxruntime-" + LibVersion + "/libonnxruntime.so.1"

// LibraryPath returns the ONNX Runtime library to load: $LK_ORT_LIB, else the
// copy `make deps` fetched next to the binaries. The error says exactly what
// to do when neither exists.
func LibraryPath() (string, error) {
	var tried []string
	if p := os.Getenv(LibEnv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s: no such file; point it at libonnxruntime.so.1 (ONNX Runtime %s) or unset it and run `make deps` in the lk checkout", LibEnv, p, LibVersion)
	}
	tried = append(tried, "$"+LibEnv+" (unset)")
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), defaultRel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, filepath.Clean(p))
		}
	}
	return "", fmt.Errorf("ONNX Runtime %s library not found (looked at %s): run `make deps` in the lk checkout, or set %s=/path/to/libonnxruntime.so.1",
		LibVersion, strings.Join(tried, ", "), LibEnv)
}

var (
	initOnce sync.Once
	initErr  error
)

// Init loads the library and creates the ONNX Runtime environment, once per
// process.
func Init() error {
	initOnce.Do(func() {
		var p string
		if p, initErr = LibraryPath(); initErr != nil {
			return
		}
		ort.SetSharedLibraryPath(p)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			initErr = fmt.Errorf("loading ONNX Runtime from %s: %v", p, err)
			return
		}
		if v := ort.GetVersion(); !strings.HasPrefix(v, "1.") {
			initErr = fmt.Errorf("%s reports ONNX Runtime version %q; lk needs %s", p, v, LibVersion)
		}
	})
	return initErr
}

// Version is the loaded library's version string.
func Version() string { return ort.GetVersion() }

// Options configure a Session.
type Options struct {
	Threads  int    // intra-op threads; 0 lets ONNX Runtime choose
	Provider string // "cpu" (default) or "cuda"
	Device   int    // CUDA device id
	// NoOptimize turns ONNX Runtime's graph optimisations off: for a
	// session that runs once (probing shapes), where they cost more than
	// they save.
	NoOptimize bool
}

// Session runs one model: float32 input of shape [batch, ...] to float32
// outputs. One session per process; Run is not safe for concurrent use.
type Session struct {
	s       *ort.DynamicAdvancedSession
	path    string
	inNames []string
	outName []string
}

// NewSession opens the model at path with the named input and outputs.
func NewSession(path, input string, outputs []string, o Options) (*Session, error) {
	return NewMultiSession(path, []string{input}, outputs, o)
}

// NewMultiSession opens the model at path with several named inputs (a
// gradient model's pixels and labels), for RunInputs.
func NewMultiSession(path string, inputs, outputs []string, o Options) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	// errors come back to the caller, who names the model and what it was
	// doing; ONNX Runtime's own log line on stderr would only repeat them
	if err := so.SetLogSeverityLevel(ort.LoggingLevelFatal); err != nil {
		return nil, err
	}
	if o.Threads > 0 {
		if err := so.SetIntraOpNumThreads(o.Threads); err != nil {
			return nil, err
		}
		if err := so.SetInterOpNumThreads(1); err != nil {
			return nil, err
		}
	}
	if o.NoOptimize {
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
			return nil, err
		}
	}
	switch o.Provider {
	case "", "cpu":
	case "cuda":
		if err := appendCUDA(so, o.Device); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("execution provider %q: want cpu or cuda", o.Provider)
	}
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", path, err)
	}
	return &Session{s: s, path: path, inNames: inputs, outName: outputs}, nil
}

// Run evaluates the model on in (shape inShape, row-major) and writes each
// output into the matching slice of outs, whose lengths must equal the
// output sizes (outShapes give their shapes).
func (s *Session) Run(in []float32, inShape []int64, outs [][]float32, outShapes [][]int64) error {
	x, err := ort.NewTensor(ort.NewShape(inShape...), in)
	if err != nil {
		return fmt.Errorf("input %s: %v", s.inNames[0], err)
	}
	defer x.Destroy()
	vals := make([]ort.Value, len(outs))
	for i := range outs {
		t, err := ort.NewTensor(ort.NewShape(outShapes[i]...), outs[i])
		if err != nil {
			return fmt.Errorf("output %s: %v", s.outName[i], err)
		}
		defer t.Destroy()
		vals[i] = t
	}
	if err := s.s.Run([]ort.Value{x}, vals); err != nil {
		return fmt.Errorf("model %s: %v", s.path, err)
	}
	return nil
}

// Input is one input tensor of RunInputs: Float or Int data.
type Input struct {
	Float []float32
	Int   []int64
	Shape []int64
}

// RunInputs evaluates a model with several inputs, in the order the
// session named them, writing each output into the matching slice of outs.
func (s *Session) RunInputs(ins []Input, outs [][]float32, outShapes [][]int64) error {
	vals := make([]ort.Value, len(ins))
	for i, in := range ins {
		var v ort.Value
		var err error
		if in.Int != nil {
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Int)
		} else {
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Float)
		}
		if err != nil {
			return fmt.Errorf("input %s: %v", s.inNames[i], err)
		}
		defer v.Destroy()
		vals[i] = v
	}
	ovals := make([]ort.Value, len(outs))
	for i := range outs {
		t, err := ort.NewTensor(ort.NewShape(outShapes[i]...), outs[i])
		if err != nil {
			return fmt.Errorf("output %s: %v", s.outName[i], err)
		}
		defer t.Destroy()
		ovals[i] = t
	}
	if err := s.s.Run(vals, ovals); err != nil {
		return fmt.Errorf("model %s: %v", s.path, err)
	}
	return nil
}

// Close frees the session.
func (s *Session) Close() error { return s.s.Destroy() }

// Tensor is an output whose shape was not known before the run.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// RunAlloc evaluates the model on in and returns every output, letting
// ONNX Runtime size them: for intermediate values whose shapes the graph
// does not record. The data is copied out of ONNX Runtime's buffers.
func (s *Session) RunAlloc(in []float32, inShape []int64) ([]Tensor, error) {
	x, err := ort.NewTensor(ort.NewShape(inShape...), in)
	if err != nil {
		return nil, fmt.Errorf("input %s: %v", s.inNames[0], err)
	}
	defer x.Destroy()
	vals := make([]ort.Value, len(s.outName))
	if err := s.s.Run([]ort.Value{x}, vals); err != nil {
		return nil, fmt.Errorf("model %s: %v", s.path, err)
	}
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	out := make([]Tensor, len(vals))
	for i, v := range vals {
		if v == nil {
			return nil, fmt.Errorf("model %s: no value for output %s", s.path, s.outName[i])
		}
		t, ok := v.(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("model %s: output %s is %v, not a float32 tensor", s.path, s.outName[i], v.GetONNXType())
		}
		out[i] = Tensor{Shape: t.GetShape(), Data: append([]float32(nil), t.GetData()...)}
	}
	return out, nil
}

// ShapesInts evaluates the model on in and returns the shape of every
// output, whatever its element type, and the values of the int64 ones
// (nil for others): what shape computations inside a graph produce.
func (s *Session) ShapesInts(in []float32, inShape []int64) ([][]int64, [][]int64, error) {
	x, err := ort.NewTensor(ort.NewShape(inShape...), in)
	if err != nil {
		return nil, nil, fmt.Errorf("input %s: %v", s.inNames[0], err)
	}
	defer x.Destroy()
	vals := make([]ort.Value, len(s.outName))
	if err := s.s.Run([]ort.Value{x}, vals); err != nil {
		return nil, nil, fmt.Errorf("model %s: %v", s.path, err)
	}
	out := make([][]int64, len(vals))
	ints := make([][]int64, len(vals))
	for i, v := range vals {
		if v == nil {
			return nil, nil, fmt.Errorf("model %s: no value for output %s", s.path, s.outName[i])
		}
		out[i] = v.GetShape()
		if t, ok := v.(*ort.Tensor[int64]); ok {
			ints[i] = append([]int64{}, t.GetData()...)
		}
		v.Destroy()
	}
	return out, ints, nil
}
