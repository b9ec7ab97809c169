// Package stream is the one place that defines lk's stream contract: the
// Arrow schemas of image, prediction and table streams, the schema metadata
// keys, and the reading and writing rules every tool keeps.
//
// The contract in prose is in docs/STREAMS.md; this file is its executable
// form. Images travel as float32 CHW pixels in [0,1], never normalised, so
// that occlusion, noise, corruption and attack budgets are all in pixel
// units; normalisation belongs to the model and happens in lk-infer.
package stream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
)

// Column names of the contract.
const (
	ColID     = "id"     // utf8, stable across a pipeline
	ColLabel  = "label"  // int32, class index in the stream's label space, -1 when unknown
	ColImage  = "image"  // FixedSizeList<float32>[C*H*W], CHW, pixels in [0,1]
	ColLogits = "logits" // FixedSizeList<float32>[K]
	ColModel  = "model"  // utf8, the model that produced the logits
	ColMetric = "metric" // utf8, table streams
	ColValue  = "value"  // float64, table streams
	ColCount  = "n"      // int64, table streams: rows the value was computed from
)

// Schema metadata keys.
const (
	MetaShape      = "lk.shape"       // "C,H,W" of the image column
	MetaLayout     = "lk.layout"      // always "CHW"
	MetaPixels     = "lk.pixels"      // always "[0,1]": unnormalised pixel space
	MetaLabelSpace = "lk.label_space" // e.g. "imagenet-1k", "fashion-mnist", "folders"
	MetaClasses    = "lk.classes"     // comma-separated class names, when known
	MetaRows       = "lk.rows"        // expected number of rows, when the producer knows it
	MetaSkipped    = "lk.skipped"     // images skipped by --skip-bad
	MetaProvenance = "lk.provenance"  // JSON array of Step, oldest first
	MetaKind       = "lk.kind"        // "images", "predictions" or "table"
	// MetaClassGroups are the ImageNet class groups of a class-mapped
	// dataset (lk-data --class-map; imagenet.ClassGroups' form): a
	// prediction is right when it falls in the group of the label.
	MetaClassGroups = "lk.class_groups"
	// MetaModelLabelSpace is the label space of the model that made the
	// logits (sidecar label_space).
	MetaModelLabelSpace = "lk.model_label_space"
	// MetaModelClasses are the names of the model's classes in output
	// order (sidecar classes), as a JSON array of strings: names may hold
	// any character.
	MetaModelClasses = "lk.model_classes"
)

// Stream kinds, the value of MetaKind.
const (
	KindImages      = "images"
	KindPredictions = "predictions"
	KindTable       = "table"
)

// DefaultBatchRows is the number of rows per record batch that producers
// write: small enough that memory stays flat, large enough that per-batch
// overhead is negligible.
const DefaultBatchRows = 32

// Version is the toolkit version recorded in provenance.
const Version = "0.1.0"

// Shape is the C x H x W shape of an image column.
type Shape struct{ C, H, W int }

// Size is the number of float32 values of one image.
func (s Shape) Size() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// ParseShape reads "C,H,W" (the metadata form) or "CxHxW".
func ParseShape(v string) (Shape, error) {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == 'x' })
	if len(parts) != 3 {
		return Shape{}, fmt.Errorf("shape %q: want C,H,W", v)
	}
	var d [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return Shape{}, fmt.Errorf("shape %q: %q is not a positive integer", v, p)
		}
		d[i] = n
	}
	return Shape{d[0], d[1], d[2]}, nil
}

func (s Shape) meta() string { return fmt.Sprintf("%d,%d,%d", s.C, s.H, s.W) }

// Step is one tool's entry in a stream's provenance.
type Step struct {
	Tool    string            `json:"tool"`
	Version string            `json:"version"`
	Args    []string          `json:"args,omitempty"`
	Seed    *int64            `json:"seed,omitempty"`
	Model   string            `json:"model,omitempty"`
	SHA256  string            `json:"model_sha256,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// With returns s with what a library adds to the step its main built
// (the tool and its command line): the model's path and sha256 (when
// path is not empty) and extras.
func (s Step) With(path, sha string, extra map[string]string) Step {
	if path != "" {
		s.Model, s.SHA256 = path, sha
	}
	s.Extra = extra
	return s
}

// Provenance decodes the provenance steps of a schema's metadata.
func Provenance(md arrow.Metadata) ([]Step, error) {
	v, ok := md.GetValue(MetaProvenance)
	if !ok || v == "" {
		return nil, nil
	}
	var steps []Step
	if err := json.Unmarshal([]byte(v), &steps); err != nil {
		return nil, fmt.Errorf("metadata %s: %v", MetaProvenance, err)
	}
	return steps, nil
}

// WithMeta returns md with the given key/value pairs set (replacing any
// earlier value of the same key), keeping every other key: the pass-through
// rule for metadata.
func WithMeta(md arrow.Metadata, kv ...string) arrow.Metadata {
	if len(kv)%2 != 0 {
		panic("stream.WithMeta: odd number of arguments")
	}
	set := map[string]string{}
	var order []string
	for i := 0; i < len(kv); i += 2 {
		if _, dup := set[kv[i]]; !dup {
			order = append(order, kv[i])
		}
		set[kv[i]] = kv[i+1]
	}
	var keys, vals []string
	for i, k := range md.Keys() {
		if _, replaced := set[k]; replaced {
			continue
		}
		keys = append(keys, k)
		vals = append(vals, md.Values()[i])
	}
	for _, k := range order {
		keys = append(keys, k)
		vals = append(vals, set[k])
	}
	return arrow.NewMetadata(keys, vals)
}

// AddStep appends a provenance step to md.
func AddStep(md arrow.Metadata, s Step) (arrow.Metadata, error) {
	steps, err := Provenance(md)
	if err != nil {
		return md, err
	}
	if s.Version == "" {
		s.Version = Version
	}
	return setProvenance(md, append(steps, s))
}

func setProvenance(md arrow.Metadata, steps []Step) (arrow.Metadata, error) {
	b, err := json.Marshal(steps)
	if err != nil {
		return md, err
	}
	return WithMeta(md, MetaProvenance, string(b)), nil
}

// ImageField is the image column for the given shape.
func ImageField(s Shape) arrow.Field {
	return arrow.Field{Name: ColImage, Type: arrow.FixedSizeListOf(int32(s.Size()), arrow.PrimitiveTypes.Float32)}
}

// ImageSchema is the schema of an image stream: id, label, image, then any
// extra columns (conditions such as corruption or severity), its key id
// and the extra columns.
func ImageSchema(s Shape, md arrow.Metadata, extra ...arrow.Field) *arrow.Schema {
	fields := []arrow.Field{
		{Name: ColID, Type: arrow.BinaryTypes.String},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int32},
		ImageField(s),
	}
	fields = append(fields, extra...)
	// what a producer adds to each image (a layout's corruption and
	// severity, a tag) tells rows apart: all of it is key, but for the
	// columns that only describe a row (a sequence's seq, a cue-conflict
	// image's texture)
	key := []string{ColID}
	for _, f := range extra {
		if !IsDescriptive(f.Name) {
			key = append(key, f.Name)
		}
	}
	md = WithoutMeta(md, MetaDerived, MetaModelLabelSpace, MetaModelClasses)
	md = WithMeta(md, MetaKind, KindImages, MetaShape, s.meta(), MetaLayout, "CHW", MetaPixels, "[0,1]")
	md = keyMeta(md, key)
	return arrow.NewSchema(fields, &md)
}

// ImageColumns locates the contract columns of an image stream and checks
// their types and the shape metadata. Errors say what was found and what
// was expected.
type ImageColumns struct {
	ID, Label, Image int
	Shape            Shape
}

// Images validates schema as an image stream.
func Images(schema *arrow.Schema) (ImageColumns, error) {
	var c ImageColumns
	var err error
	if c.ID, err = column(schema, ColID, arrow.STRING); err != nil {
		return c, err
	}
	if c.Label, err = column(schema, ColLabel, arrow.INT32); err != nil {
		return c, err
	}
	if c.Image, err = column(schema, ColImage, arrow.FIXED_SIZE_LIST); err != nil {
		return c, err
	}
	md := schema.Metadata()
	v, ok := md.GetValue(MetaShape)
	if !ok {
		return c, fmt.Errorf("schema metadata has no %s: not an lk image stream (was it written by lk-data?)", MetaShape)
	}
	if c.Shape, err = ParseShape(v); err != nil {
		return c, fmt.Errorf("schema metadata %s: %v", MetaShape, err)
	}
	if l, ok := md.GetValue(MetaLayout); ok && l != "CHW" {
		return c, fmt.Errorf("schema metadata %s is %q; lk streams are CHW", MetaLayout, l)
	}
	ft := schema.Field(c.Image).Type.(*arrow.FixedSizeListType)
	if ft.Elem().ID() != arrow.FLOAT32 {
		return c, fmt.Errorf("column %s holds %s values, want float32", ColImage, ft.Elem())
	}
	if int(ft.Len()) != c.Shape.Size() {
		return c, fmt.Errorf("column %s has %d values per row but %s says %s (%d values)",
			ColImage, ft.Len(), MetaShape, c.Shape, c.Shape.Size())
	}
	return c, nil
}

// Logits locates the logits column of a prediction stream and returns the
// number of classes.
func Logits(schema *arrow.Schema) (col, classes int, err error) {
	if col, err = column(schema, ColLogits, arrow.FIXED_SIZE_LIST); err != nil {
		return 0, 0, fmt.Errorf("%v (is this the output of lk-infer?)", err)
	}
	ft := schema.Field(col).Type.(*arrow.FixedSizeListType)
	if ft.Elem().ID() != arrow.FLOAT32 {
		return 0, 0, fmt.Errorf("column %s holds %s values, want float32", ColLogits, ft.Elem())
	}
	return col, int(ft.Len()), nil
}

// LogitsField is the logits column for k classes.
func LogitsField(k int) arrow.Field {
	return arrow.Field{Name: ColLogits, Type: arrow.FixedSizeListOf(int32(k), arrow.PrimitiveTypes.Float32)}
}

func column(schema *arrow.Schema, name string, want arrow.Type) (int, error) {
	idx := schema.FieldIndices(name)
	if len(idx) == 0 {
		return -1, fmt.Errorf("stream has no column %q (columns: %s)", name, columnNames(schema))
	}
	if len(idx) > 1 {
		return -1, fmt.Errorf("stream has %d columns named %q", len(idx), name)
	}
	if got := schema.Field(idx[0]).Type.ID(); got != want {
		return -1, fmt.Errorf("column %q is %s, want %s", name, schema.Field(idx[0]).Type, typeName(want))
	}
	return idx[0], nil
}

func typeName(t arrow.Type) string {
	switch t {
	case arrow.STRING:
		return "utf8"
	case arrow.INT32:
		return "int32"
	case arrow.FIXED_SIZE_LIST:
		return "fixed_size_list<float32>"
	}
	return t.String()
}

func columnNames(schema *arrow.Schema) string {
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// Append returns schema with extra fields appended and metadata md, its
// key (lk.key) extended by every appended condition column (IsCondition):
// a tool that writes each row once per condition keeps keys unique. It
// refuses a field whose name the schema already has, since a tool must
// never silently replace a column it did not make.
func Append(schema *arrow.Schema, md arrow.Metadata, extra ...arrow.Field) (*arrow.Schema, error) {
	fields := append([]arrow.Field{}, schema.Fields()...)
	key := Key(schema)
	for _, f := range extra {
		if schema.HasField(f.Name) {
			return nil, fmt.Errorf("input already has a column %q; this tool adds it and will not overwrite it", f.Name)
		}
		fields = append(fields, f)
		if IsCondition(f.Name) {
			key = append(key, f.Name)
		}
	}
	md = keyMeta(md, key)
	return arrow.NewSchema(fields, &md), nil
}

// MarkDerived returns md with names added to lk.derived: columns computed
// from the pixels, which a tool that changes the pixels drops.
func MarkDerived(md arrow.Metadata, names ...string) arrow.Metadata {
	var all []string
	if v, ok := md.GetValue(MetaDerived); ok && v != "" {
		all = strings.Split(v, ",")
	}
	return WithMeta(md, MetaDerived, strings.Join(append(all, names...), ","))
}

// TableSchema is the schema of a long-form table stream: one utf8 column
// per grouping column, then metric, value and n.
func TableSchema(by []string, md arrow.Metadata) *arrow.Schema {
	var fields []arrow.Field
	for _, b := range by {
		fields = append(fields, arrow.Field{Name: b, Type: arrow.BinaryTypes.String})
	}
	fields = append(fields,
		arrow.Field{Name: ColMetric, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: ColValue, Type: arrow.PrimitiveTypes.Float64},
		arrow.Field{Name: ColCount, Type: arrow.PrimitiveTypes.Int64})
	md = TableMeta(md)
	return arrow.NewSchema(fields, &md)
}

// TableMeta is the metadata of a table made from a stream with metadata
// md: kind table, and without the keys that describe images and rows
// (shape, layout, pixel range, row count, row key, derived columns).
// Every table writer applies it, so the rule is kept in one place.
func TableMeta(md arrow.Metadata) arrow.Metadata {
	md = WithoutMeta(md, MetaShape, MetaLayout, MetaPixels, MetaRows, MetaKey, MetaDerived)
	return WithMeta(md, MetaKind, KindTable)
}

// WithoutMeta returns md without the given keys: a tool whose output no
// longer has the property a key describes (a table has no image shape)
// drops it.
func WithoutMeta(md arrow.Metadata, keys ...string) arrow.Metadata {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var ks, vs []string
	for i, k := range md.Keys() {
		if !drop[k] {
			ks = append(ks, k)
			vs = append(vs, md.Values()[i])
		}
	}
	return arrow.NewMetadata(ks, vs)
}
