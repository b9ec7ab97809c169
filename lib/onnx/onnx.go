// Package onnx reads, inspects and writes ONNX models as data: weights for
// kernel analysis, extra outputs for feature maps, bypassed blocks for
// lesion studies. Models are untrusted input: sizes are checked against the
// file before anything is allocated, external data may not point outside
// the model's folder, and a malformed file is an error, never a crash.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// MaxModelBytes is the largest model file Load reads: protobuf messages
// stop at 2 GiB; bigger weights belong in external data files.
const MaxModelBytes = 2<<30 - 1

// Model is a loaded ONNX model.
type Model struct {
	Proto *onnxpb.ModelProto
	Path  string // the file it was loaded from
	dir   string
}

// Load reads and parses the model at path.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("model %s: %d bytes, over protobuf's 2 GiB limit (large weights must be in external data files)", path, st.Size())
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("model %s: %v", path, err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", path, err)
	}
	m.Path, m.dir = path, filepath.Dir(path)
	return m, nil
}

// Parse decodes a serialised model (external data, if any, is resolved
// relative to the current folder) and expands its model-local functions.
// The model's weights are slices of data, which must not change while the
// model is in use.
func Parse(data []byte) (*Model, error) {
	mp, err := decode(data)
	if err != nil {
		return nil, err
	}
	if mp.Graph == nil {
		return nil, errors.New("not an ONNX model: no graph")
	}
	// one view of every model: its local functions expanded (Inline)
	if err := Inline(mp); err != nil {
		return nil, fmt.Errorf("expanding its model-local functions: %v", err)
	}
	return &Model{Proto: mp, dir: "."}, nil
}

// Graph is the model's main graph.
func (m *Model) Graph() *onnxpb.GraphProto { return m.Proto.GetGraph() }

// Opset is the model's default-domain opset version.
func (m *Model) Opset() int64 {
	for _, o := range m.Proto.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			return o.GetVersion()
		}
	}
	return 0
}

// Initializer returns the graph initializer named name.
func (m *Model) Initializer(name string) *onnxpb.TensorProto {
	for _, t := range m.Graph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// elemSize is the byte size of one element of an ONNX data type, or 0 for
// types lk does not decode.
func elemSize(dt int32) int {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 4
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		return 2
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
		return 8
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		return 1
	}
	return 0
}

// NumElements is the product of a tensor's dims, or an error when a dim is
// negative or the product overflows.
func NumElements(t *onnxpb.TensorProto) (int, error) {
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 {
			return 0, fmt.Errorf("tensor %q: negative dimension %d", t.GetName(), d)
		}
		if d > 0 && n > math.MaxInt32*int64(64)/d {
			return 0, fmt.Errorf("tensor %q: dims %v are absurdly large", t.GetName(), t.GetDims())
		}
		n *= d
	}
	return int(n), nil
}

// externalInfo reads a tensor's external_data entries.
func externalInfo(t *onnxpb.TensorProto) (loc string, off, length int64, err error) {
	length = -1
	for _, kv := range t.GetExternalData() {
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			if off, err = strconv.ParseInt(kv.GetValue(), 10, 64); err != nil || off < 0 {
				return "", 0, 0, fmt.Errorf("tensor %q: bad external data offset %q", t.GetName(), kv.GetValue())
			}
		case "length":
			if length, err = strconv.ParseInt(kv.GetValue(), 10, 64); err != nil || length < 0 {
				return "", 0, 0, fmt.Errorf("tensor %q: bad external data length %q", t.GetName(), kv.GetValue())
			}
		}
	}
	if loc == "" {
		return "", 0, 0, fmt.Errorf("tensor %q: external data without a location", t.GetName())
	}
	return loc, off, length, nil
}

// safeJoin resolves an external-data location inside dir, refusing
// absolute paths and anything that climbs out of the model's folder.
func safeJoin(dir, loc string) (string, error) {
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.Contains(loc, "\\") {
		return "", fmt.Errorf("external data location %q is absolute; only files in the model's folder are read", loc)
	}
	clean := filepath.Clean(loc)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("external data location %q points outside the model's folder", loc)
	}
	return filepath.Join(dir, clean), nil
}

// RawBytes returns a tensor's data as stored bytes (little-endian, one
// element after another), from raw_data or from an external data file.
// Typed fields (float_data, ...) are not raw bytes: use Float32s.
func (m *Model) RawBytes(t *onnxpb.TensorProto) ([]byte, error) {
	n, err := NumElements(t)
	if err != nil {
		return nil, err
	}
	es := elemSize(t.GetDataType())
	if es == 0 {
		return nil, fmt.Errorf("tensor %q: data type %s is not supported", t.GetName(), onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	want := int64(n) * int64(es)
	if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
		if int64(len(t.GetRawData())) != want {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, dims %v need %d", t.GetName(), len(t.GetRawData()), t.GetDims(), want)
		}
		return t.GetRawData(), nil
	}
	loc, off, length, err := externalInfo(t)
	if err != nil {
		return nil, err
	}
	p, err := safeJoin(m.dir, loc)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.GetName(), err)
	}
	if length < 0 {
		length = want
	}
	if length != want {
		return nil, fmt.Errorf("tensor %q: external data length %d, dims %v need %d bytes", t.GetName(), length, t.GetDims(), want)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %v", t.GetName(), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if off+length > st.Size() {
		return nil, fmt.Errorf("tensor %q: external data %s[%d:%d] is past the end of the file (%d bytes)", t.GetName(), loc, off, off+length, st.Size())
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("tensor %q: reading %s: %v", t.GetName(), loc, err)
	}
	return buf, nil
}

// Float32s decodes a float32 or float16 tensor, from raw_data, the typed
// fields or external data.
func (m *Model) Float32s(t *onnxpb.TensorProto) ([]float32, error) {
	n, err := NumElements(t)
	if err != nil {
		return nil, err
	}
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		if len(t.GetFloatData()) > 0 {
			if len(t.GetFloatData()) != n {
				return nil, fmt.Errorf("tensor %q: float_data has %d values, dims %v need %d", t.GetName(), len(t.GetFloatData()), t.GetDims(), n)
			}
			return append([]float32{}, t.GetFloatData()...), nil
		}
		b, err := m.RawBytes(t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case onnxpb.TensorProto_FLOAT16:
		// sizes are checked against the data before allocating
		if len(t.GetInt32Data()) > 0 { // float16 bits, one per int32
			if len(t.GetInt32Data()) != n {
				return nil, fmt.Errorf("tensor %q: int32_data has %d values, dims %v need %d", t.GetName(), len(t.GetInt32Data()), t.GetDims(), n)
			}
			out := make([]float32, n)
			for i, v := range t.GetInt32Data() {
				out[i] = Float16(uint16(v))
			}
			return out, nil
		}
		b, err := m.RawBytes(t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = Float16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q is %s, want float or float16", t.GetName(), dt)
}

// Float16 converts IEEE half-precision bits to float32.
func Float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: value = frac * 2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Save writes the model to path. Tensors kept in external data are
// written into one data file next to it (NAME.onnx.data), so the saved
// model never refers back to the folder it came from.
func (m *Model) Save(path string) error {
	out := m.shallow()
	var ext []*onnxpb.TensorProto
	for i, t := range out.GetGraph().GetInitializer() {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
			// a private copy, whose location is rewritten below (it holds no data)
			c := proto.Clone(t).(*onnxpb.TensorProto)
			out.Graph.Initializer[i] = c
			ext = append(ext, c)
		}
	}
	if len(ext) > 0 {
		dataName := filepath.Base(path) + ".data"
		df, err := os.Create(filepath.Join(filepath.Dir(path), dataName))
		if err != nil {
			return err
		}
		var off int64
		for _, t := range ext {
			b, err := m.RawBytes(t)
			if err != nil {
				df.Close()
				return err
			}
			if _, err := df.Write(b); err != nil {
				df.Close()
				return err
			}
			t.ExternalData = []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(dataName)},
				{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
				{Key: proto.String("length"), Value: proto.String(strconv.Itoa(len(b)))},
			}
			off += int64(len(b))
		}
		if err := df.Close(); err != nil {
			return err
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(out)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// IO describes a graph input or output: name, element type and dims (-1
// where symbolic).
type IO struct {
	Name  string
	DType string // "float", "float16", "int64", ...
	Dims  []int64
}

func (x IO) String() string {
	var d []string
	for _, v := range x.Dims {
		if v < 0 {
			d = append(d, "?")
		} else {
			d = append(d, strconv.FormatInt(v, 10))
		}
	}
	return fmt.Sprintf("%s %s[%s]", x.Name, x.DType, strings.Join(d, ","))
}

// IO lists the graph's real inputs (initializers excluded) and outputs,
// read from the file without starting ONNX Runtime.
func (m *Model) IO() (in, out []IO) {
	g := m.Graph()
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	conv := func(vi *onnxpb.ValueInfoProto) IO {
		x := IO{Name: vi.GetName(), DType: "unknown"}
		if tt := vi.GetType().GetTensorType(); tt != nil {
			x.DType = strings.ToLower(onnxpb.TensorProto_DataType(tt.GetElemType()).String())
			x.Dims, _ = valueDims(vi)
		}
		return x
	}
	for _, vi := range g.GetInput() {
		if !inits[vi.GetName()] {
			in = append(in, conv(vi))
		}
	}
	for _, vi := range g.GetOutput() {
		out = append(out, conv(vi))
	}
	return in, out
}

// Clone returns a copy of m for edits that must leave m as it was: the
// graph, nodes and attributes are copied, the initializer tensors are
// shared (weights are hundreds of megabytes), so an edit may add, drop or
// replace initializers but must not change one in place. External data
// resolves from m's folder.
func (m *Model) Clone() *Model {
	return &Model{Proto: m.shallow(), Path: m.Path, dir: m.dir}
}

// shallow copies the model proto except the initializer tensors, which the
// copy's own slice shares.
func (m *Model) shallow() *onnxpb.ModelProto {
	g := m.Proto.GetGraph()
	if g == nil {
		return proto.Clone(m.Proto).(*onnxpb.ModelProto)
	}
	inits := g.Initializer
	g.Initializer = nil
	out := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	g.Initializer = inits
	out.Graph.Initializer = append([]*onnxpb.TensorProto(nil), inits...)
	return out
}

// Int64s decodes an int64 or int32 tensor (shapes, axes, indices), from
// raw_data or the typed fields.
func (m *Model) Int64s(t *onnxpb.TensorProto) ([]int64, error) {
	n, err := NumElements(t)
	if err != nil {
		return nil, err
	}
	switch dt := onnxpb.TensorProto_DataType(t.GetDataType()); dt {
	case onnxpb.TensorProto_INT64:
		if len(t.GetInt64Data()) > 0 {
			if len(t.GetInt64Data()) != n {
				return nil, fmt.Errorf("tensor %q: int64_data has %d values, dims %v need %d", t.GetName(), len(t.GetInt64Data()), t.GetDims(), n)
			}
			return append([]int64{}, t.GetInt64Data()...), nil
		}
		b, err := m.RawBytes(t)
		if err != nil {
			return nil, err
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out, nil
	case onnxpb.TensorProto_INT32:
		if len(t.GetInt32Data()) > 0 {
			if len(t.GetInt32Data()) != n {
				return nil, fmt.Errorf("tensor %q: int32_data has %d values, dims %v need %d", t.GetName(), len(t.GetInt32Data()), t.GetDims(), n)
			}
			out := make([]int64, n)
			for i, v := range t.GetInt32Data() {
				out[i] = int64(v)
			}
			return out, nil
		}
		b, err := m.RawBytes(t)
		if err != nil {
			return nil, err
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("tensor %q is %s, want int64 or int32", t.GetName(), dt)
	}
}
