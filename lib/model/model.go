// Package model reads a model's sidecar config (NAME.json next to
// NAME.onnx, in the spirit of timm's pretrained_cfg) and applies the model's
// input normalisation. Streams carry [0,1] pixels; this package is the only
// place where they are normalised.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lk-robustness/lk/lib/stream"
)

// Config is a model's sidecar config. Unknown JSON keys are ignored.
type Config struct {
	Name       string    `json:"name,omitempty"`
	Input      string    `json:"input,omitempty"`      // graph input name; empty: the model's only input
	Output     string    `json:"output,omitempty"`     // graph output name; empty: the model's first output
	InputSize  []int     `json:"input_size,omitempty"` // C,H,W
	Mean       []float32 `json:"mean,omitempty"`
	Std        []float32 `json:"std,omitempty"`
	NumClasses int       `json:"num_classes,omitempty"`
	// InputScale multiplies the [0,1] pixels before mean and std (which
	// are then in its units): 255 for a model fed 0-255 values.
	InputScale float64 `json:"input_scale,omitempty"`
	// ChannelOrder is "rgb" (the default) or "bgr" (Caffe and OpenCV
	// exports): the order the model's input channels and mean/std are in.
	ChannelOrder string `json:"channel_order,omitempty"`
	// ClassOffset drops the first classes of the output: 1 for a
	// 1001-class ImageNet head whose class 0 is background (TF-slim and
	// some Keras exports), so that class k+1 is the label space's k.
	ClassOffset int    `json:"class_offset,omitempty"`
	LabelSpace  string `json:"label_space,omitempty"`
	// Classes are the names of the model's classes in output order (after
	// class_offset), for people reading predictions (lk-top).
	Classes       []string `json:"classes,omitempty"`
	Interpolation string   `json:"interpolation,omitempty"`
	CropPct       float64  `json:"crop_pct,omitempty"`
	// Columns are constant utf8 columns lk-infer appends to every row, so
	// that streams of model variants stay apart when read together (a
	// lesioned model's drop count and sample: lk-lesion writes them).
	Columns map[string]string `json:"columns,omitempty"`
}

// ColumnNames are the keys of Columns, sorted.
func (c Config) ColumnNames() []string {
	var ks []string
	for k := range c.Columns {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ImageNet's normalisation, the default for models without a sidecar.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// SidecarPath is NAME.json for NAME.onnx.
func SidecarPath(modelPath string) string {
	return strings.TrimSuffix(modelPath, filepath.Ext(modelPath)) + ".json"
}

// Load reads the sidecar of modelPath if it exists. Without one, the config
// has only the name (the file's base name); callers fill the rest from
// flags and from the graph.
func Load(modelPath string) (Config, bool, error) {
	var c Config
	if _, err := os.Stat(modelPath); err != nil {
		return c, false, fmt.Errorf("model %s: no such file", modelPath)
	}
	side := SidecarPath(modelPath)
	b, err := os.ReadFile(side)
	if errors.Is(err, os.ErrNotExist) {
		c.Name = strings.TrimSuffix(filepath.Base(modelPath), filepath.Ext(modelPath))
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		return c, false, fmt.Errorf("sidecar %s: %v", side, err)
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(modelPath), filepath.Ext(modelPath))
	}
	return c, true, c.check(side)
}

func (c Config) check(where string) error {
	if len(c.InputSize) != 0 && len(c.InputSize) != 3 {
		return fmt.Errorf("%s: input_size has %d values, want C,H,W", where, len(c.InputSize))
	}
	for _, s := range c.Std {
		if s <= 0 {
			return fmt.Errorf("%s: std %v: every value must be positive", where, c.Std)
		}
	}
	if c.InputScale < 0 || math.IsNaN(c.InputScale) || math.IsInf(c.InputScale, 0) {
		return fmt.Errorf("%s: input_scale %v: want a positive number (255 for 0-255 inputs)", where, c.InputScale)
	}
	switch c.ChannelOrder {
	case "", "rgb", "bgr":
	default:
		return fmt.Errorf("%s: channel_order %q: want \"rgb\" or \"bgr\"", where, c.ChannelOrder)
	}
	if c.ClassOffset < 0 {
		return fmt.Errorf("%s: class_offset %d: want the number of leading classes to drop (1 for a background class)", where, c.ClassOffset)
	}
	return nil
}

// Shape is the config's input size as a stream shape (zero when unknown).
func (c Config) Shape() stream.Shape {
	if len(c.InputSize) != 3 {
		return stream.Shape{}
	}
	return stream.Shape{C: c.InputSize[0], H: c.InputSize[1], W: c.InputSize[2]}
}

// Normalizer maps [0,1] CHW pixels to the model's input: (x - mean[c]) /
// std[c], reading channel C-1-c instead of c for a BGR model.
type Normalizer struct {
	Mean, Std []float32 // per model channel, in [0,1] units
	BGR       bool      // the model's channels are the stream's reversed
	plane     int
}

// Normalizer is the config's normalisation for images of shape s: its
// mean and std (the caller's where given), in the units of input_scale,
// and its channel order.
func (c Config) Normalizer(modelPath string, mean, std []float32, s stream.Shape) (*Normalizer, error) {
	mean, std, err := c.Normalisation(modelPath, mean, std)
	if err != nil {
		return nil, err
	}
	n, err := NewNormalizer(mean, std, s)
	if err != nil {
		return nil, fmt.Errorf("model %s: %v", modelPath, err)
	}
	if c.InputScale > 0 && c.InputScale != 1 { // (x*k - m)/s = (x - m/k)/(s/k)
		k := float32(c.InputScale)
		for i := range n.Mean {
			n.Mean[i] /= k
			n.Std[i] /= k
		}
	}
	if n.BGR = c.ChannelOrder == "bgr"; n.BGR && s.C != 3 {
		return nil, fmt.Errorf("model %s: channel_order bgr needs 3 channels, the input has %d", modelPath, s.C)
	}
	return n, nil
}

// NewNormalizer checks mean and std against the channel count.
func NewNormalizer(mean, std []float32, s stream.Shape) (*Normalizer, error) {
	expand := func(v []float32, what string) ([]float32, error) {
		switch len(v) {
		case s.C:
			return append([]float32(nil), v...), nil
		case 1:
			r := make([]float32, s.C)
			for i := range r {
				r[i] = v[0]
			}
			return r, nil
		}
		return nil, fmt.Errorf("%s has %d values but the image has %d channels", what, len(v), s.C)
	}
	m, err := expand(mean, "mean")
	if err != nil {
		return nil, err
	}
	sd, err := expand(std, "std")
	if err != nil {
		return nil, err
	}
	return &Normalizer{Mean: m, Std: sd, plane: s.H * s.W}, nil
}

// Apply writes the normalised images of src (any number of whole images)
// into dst, which must be as long as src.
func (n *Normalizer) Apply(dst, src []float32) {
	ch := len(n.Mean)
	for i := 0; i < len(src); i += n.plane {
		c := (i / n.plane) % ch
		m, s := n.Mean[c], n.Std[c]
		from := i
		if n.BGR {
			from += (ch - 1 - 2*c) * n.plane
		}
		d, x := dst[i:i+n.plane], src[from:from+n.plane]
		for j, v := range x {
			d[j] = (v - m) / s
		}
	}
}

// FileSHA256 is the hex sha256 of a file, recorded in stream provenance.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Normalisation is the config's mean and std, each overridden by the
// caller's value when given (non-nil).
func (c Config) Normalisation(modelPath string, mean, std []float32) ([]float32, []float32, error) {
	if mean == nil {
		mean = c.Mean
	}
	if std == nil {
		std = c.Std
	}
	if mean == nil || std == nil {
		return nil, nil, &NoNormalisationError{Model: modelPath}
	}
	return mean, std, nil
}

// NoNormalisationError is a model whose mean and std neither its sidecar
// nor the caller gives: images cannot be normalised without a guess.
type NoNormalisationError struct{ Model string }

func (e *NoNormalisationError) Error() string {
	return fmt.Sprintf("model %s: no mean/std: give them in the sidecar %s (ImageNet models: mean 0.485,0.456,0.406, std 0.229,0.224,0.225)",
		e.Model, SidecarPath(e.Model))
}

// SymbolicSizeError is a model whose image input has a symbolic height,
// width or channel count and no input size from the sidecar or caller.
type SymbolicSizeError struct{ Model, Input string }

func (e *SymbolicSizeError) Error() string {
	return fmt.Sprintf("model %s: input %s has a symbolic size; give input_size [C, H, W] in the sidecar %s",
		e.Model, e.Input, SidecarPath(e.Model))
}

// ImageSizeError is an image stream whose images are not the size the
// model takes.
type ImageSizeError struct {
	Input, Model string
	Got, Want    stream.Shape
}

func (e *ImageSizeError) Error() string {
	return fmt.Sprintf("%s: column image is %s, the model %s expects %s", e.Input, e.Got, e.Model, e.Want)
}

// NonFiniteError is a NaN or infinite value in a model's output or
// gradient: a broken export or weights, which would otherwise become a
// silently wrong prediction or an attack that changes nothing.
type NonFiniteError struct {
	What  string  // "logits", "gradient", ...
	Row   int     // the image within the batch
	Value float32 // the first bad value
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("non-finite %s (%v) for image %d of the batch", e.What, e.Value, e.Row)
}

// CheckFinite returns a *NonFiniteError for the first NaN or infinite
// value of vals, rows of per values each.
func CheckFinite(vals []float32, per int, what string) error {
	for i, v := range vals {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return &NonFiniteError{What: what, Row: i / max(per, 1), Value: v}
		}
	}
	return nil
}

// AtRow rewrites a *NonFiniteError in err to name the row's id (id maps
// the batch row to it) and the model; other errors pass unchanged.
func AtRow(err error, model string, id func(row int) string) error {
	var nf *NonFiniteError
	if errors.As(err, &nf) {
		return fmt.Errorf("model %s gave non-finite %s (%v) for row id %q", model, nf.What, nf.Value, id(nf.Row))
	}
	return err
}

// WriteSidecar writes c as the sidecar JSON at path (SidecarPath of a
// model), the form Load reads.
func WriteSidecar(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
