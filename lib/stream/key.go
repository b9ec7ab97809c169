package stream

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// The vocabulary of condition columns: a column a tool appends when it
// writes each image once per condition. Every one of them is part of the
// row key (MetaKey), so that a sweep's rows stay distinct however the
// streams are cut, resumed and read together. Tools take the names from
// here, never as string literals.
const (
	ColCorruption   = "corruption"   // utf8, lk-corrupt and ImageNet-C trees
	ColSeverity     = "severity"     // int64, 1-5
	ColPerturbation = "perturbation" // utf8, ImageNet-P sequences
	ColFrame        = "frame"        // int64, a sequence's frame
	ColAttack       = "attack"       // utf8, lk-attack
	ColEps          = "eps"          // float64, attack budget
	ColSteps        = "steps"        // int64, attack iterations
	ColDropMode     = "drop_mode"    // utf8, lk-occlude
	ColDropRatio    = "drop_ratio"   // float64, lk-occlude
	ColFreq         = "freq"         // float64, lk-fft-noise's band
	ColFU           = "fu"           // int64, Fourier heat map row frequency
	ColFV           = "fv"           // int64, Fourier heat map column frequency
	ColRendition    = "rendition"    // utf8, lk-render
	ColVariant      = "variant"      // utf8, ImageNet-9 backgrounds
	ColDropN        = "drop_n"       // utf8, lk-lesion's blocks dropped (sidecar column)
	ColSample       = "sample"       // utf8, lk-lesion's sample (sidecar column)
)

// Columns that describe a row but do not identify it.
const (
	ColSeq        = "seq"        // utf8, the id of the image a sequence comes from
	ColDifficulty = "difficulty" // int64, ImageNet-P's difficulty
	ColSaliency   = "saliency"   // fixed_size_list<float32>, per-patch saliency
	ColBrokenBy   = "broken_by"  // utf8, lk-attack: the attack that broke the image, none or clean
	ColTexture    = "texture"    // int64, cue-conflict images: the texture's class, in the label's space (the label is the shape's)
)

var descriptive = map[string]bool{ColSeq: true, ColDifficulty: true, ColSaliency: true, ColBrokenBy: true, ColTexture: true}

// IsDescriptive reports whether a column of that name describes a row
// without identifying it, and so is never part of the row key.
func IsDescriptive(name string) bool { return descriptive[name] }

// The values of ColBrokenBy besides the attacks' names: images no attack
// broke, and images the model misclassified before any attack.
const (
	NotBroken = "none"
	Clean     = "clean"
)

// Stages are the attacks lk-attack runs in turn for an attack column's
// value, each on the images the ones before left correctly classified,
// and so the names ColBrokenBy takes; nil for attacks that write no
// broken_by. autoattack is AutoAttack's standard sequence: APGD-CE,
// APGD-T, FAB-T and Square.
func Stages(attack string) []string {
	switch attack {
	case "apgd-ce", "apgd-t", "fab-t", "square":
		return []string{attack}
	case "autoattack":
		return []string{"apgd-ce", "apgd-t", "fab-t", "square"}
	}
	return nil
}

var conditions = map[string]bool{}

func init() {
	for _, c := range []string{ColCorruption, ColSeverity, ColPerturbation, ColFrame, ColAttack, ColEps, ColSteps,
		ColDropMode, ColDropRatio, ColFreq, ColFU, ColFV, ColRendition, ColVariant, ColDropN, ColSample, ColModel} {
		conditions[c] = true
	}
}

// IsCondition reports whether a column of that name is a condition, and
// so part of the row key: the vocabulary above and model (a prediction
// stream of several models has one row per image and model).
func IsCondition(name string) bool { return conditions[name] }

// Schema metadata keys of the row key and of derived columns.
const (
	// MetaKey lists the key columns, comma-separated: id, then each
	// condition column in the order tools appended them. A key is unique
	// within a stream.
	MetaKey = "lk.key"
	// MetaDerived lists the columns computed from the pixels (logits, the
	// model that made them, saliency): a tool that changes the image
	// drops them, since they would describe the old pixels.
	MetaDerived = "lk.derived"
)

// Key returns the key columns of schema: its lk.key, or for a stream
// without one (written before the key existed, or by another program),
// id and every condition column it has.
func Key(schema *arrow.Schema) []string {
	if v, ok := schema.Metadata().GetValue(MetaKey); ok && v != "" {
		return strings.Split(v, ",")
	}
	key := []string{ColID}
	for _, f := range schema.Fields() {
		if IsCondition(f.Name) {
			key = append(key, f.Name)
		}
	}
	return key
}

// Derived returns the columns of schema computed from its pixels: its
// lk.derived, plus logits and model wherever they are (also in streams
// that predate lk.derived).
func Derived(schema *arrow.Schema) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] && schema.HasField(n) {
			seen[n] = true
			out = append(out, n)
		}
	}
	if v, ok := schema.Metadata().GetValue(MetaDerived); ok && v != "" {
		for _, n := range strings.Split(v, ",") {
			add(n)
		}
	}
	add(ColModel)
	add(ColLogits)
	return out
}

// Keyer computes the key of a row of records of one schema. It reuses
// one hash and buffer, so it is not safe for concurrent use.
type Keyer struct {
	Names []string
	cols  []int
	h     hash.Hash
	buf   []byte
}

// NewKeyer locates the key columns of schema and checks that each is a
// utf8, integer or floating-point column.
func NewKeyer(schema *arrow.Schema) (*Keyer, error) {
	return keyer(schema, Key(schema))
}

func keyer(schema *arrow.Schema, names []string) (*Keyer, error) {
	k := &Keyer{Names: names}
	for _, n := range names {
		idx := schema.FieldIndices(n)
		if len(idx) != 1 {
			return nil, fmt.Errorf("key column %q (%s %s): the stream has %d columns of that name", n, MetaKey, strings.Join(names, ","), len(idx))
		}
		switch schema.Field(idx[0]).Type.ID() {
		case arrow.STRING, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64:
		default:
			return nil, fmt.Errorf("key column %q is %s; key columns are utf8, integers or floats", n, schema.Field(idx[0]).Type)
		}
		k.cols = append(k.cols, idx[0])
	}
	return k, nil
}

// Prefix is a keyer over the first n key columns.
func (k *Keyer) Prefix(n int) *Keyer { return &Keyer{Names: k.Names[:n], cols: k.cols[:n]} }

// Values returns row i's key values as text (numbers in their shortest
// form), for messages.
func (k *Keyer) Values(rec arrow.Record, i int) []string {
	out := make([]string, len(k.cols))
	for j, c := range k.cols {
		out[j] = cellText(rec.Column(c), i)
	}
	return out
}

// Describe is row i's key for a message: id "x", corruption "fog", ...
func (k *Keyer) Describe(rec arrow.Record, i int) string {
	var parts []string
	for j, v := range k.Values(rec, i) {
		if j == 0 && k.Names[0] == ColID {
			parts = append(parts, fmt.Sprintf("id %q", v))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s", k.Names[j], v))
		}
	}
	return strings.Join(parts, ", ")
}

// RowKey is a 128-bit hash of row i's key: equal keys give equal hashes,
// and two different keys among billions of rows collide with probability
// below 1e-20, so sets of keys cost 16 bytes a row, not the key's text.
type RowKey [16]byte

// Hash returns row i's key hash.
func (k *Keyer) Hash(rec arrow.Record, i int) RowKey {
	if k.h == nil {
		k.h = fnv.New128a()
	}
	// each value's length, then its text: one write of one reused buffer
	k.buf = k.buf[:0]
	for _, c := range k.cols {
		v := cellText(rec.Column(c), i)
		k.buf = binary.LittleEndian.AppendUint64(k.buf, uint64(len(v)))
		k.buf = append(k.buf, v...)
	}
	k.h.Reset()
	k.h.Write(k.buf)
	var out RowKey
	k.h.Sum(out[:0])
	return out
}

func cellText(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "\x00null"
	}
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10)
	case *array.Float32:
		return strconv.FormatFloat(float64(c.Value(i)), 'g', -1, 32)
	case *array.Float64:
		v := c.Value(i)
		if v == 0 {
			v = 0 // -0 and 0 are one condition
		}
		if math.IsNaN(v) {
			return "NaN"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return a.ValueStr(i)
}

// ExtendKey returns md with lk.key set to schema's key followed by names
// (those not already in it): for columns that tell rows apart without
// being in the vocabulary, such as a sidecar's constant columns.
func ExtendKey(schema *arrow.Schema, md arrow.Metadata, names ...string) arrow.Metadata {
	key := Key(schema)
	for _, n := range names {
		if !slices.Contains(key, n) {
			key = append(key, n)
		}
	}
	return keyMeta(md, key)
}

// keyMeta returns md with lk.key set to key.
func keyMeta(md arrow.Metadata, key []string) arrow.Metadata {
	return WithMeta(md, MetaKey, strings.Join(key, ","))
}

// Invalidate returns schema without its derived columns (Derived), for a
// tool that changes the pixels: the kept columns' indices in schema and
// the dropped names (to say on stderr); see Without.
func Invalidate(schema *arrow.Schema) (*arrow.Schema, []int, []string) {
	drop := Derived(schema)
	out, keep := Without(schema, schema.Metadata(), drop...)
	return out, keep, drop
}

// Without returns schema without the named columns, under metadata md
// made to agree: the names gone from lk.key and lk.derived, and without
// logits the kind images again and no model label space. It also returns
// the kept columns' indices in schema.
func Without(schema *arrow.Schema, md arrow.Metadata, names ...string) (*arrow.Schema, []int) {
	gone := map[string]bool{}
	for _, d := range names {
		gone[d] = true
	}
	var fields []arrow.Field
	var keep []int
	for i, f := range schema.Fields() {
		if !gone[f.Name] {
			fields = append(fields, f)
			keep = append(keep, i)
		}
	}
	var key []string
	for _, k := range Key(schema) {
		if !gone[k] {
			key = append(key, k)
		}
	}
	md = keyMeta(md, key)
	if v, ok := md.GetValue(MetaDerived); ok {
		var left []string
		for _, d := range strings.Split(v, ",") {
			if d != "" && !gone[d] {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			md = WithoutMeta(md, MetaDerived)
		} else {
			md = WithMeta(md, MetaDerived, strings.Join(left, ","))
		}
	}
	if gone[ColLogits] {
		md = WithoutMeta(md, MetaModelLabelSpace, MetaModelClasses)
		md = WithMeta(md, MetaKind, KindImages)
	}
	return arrow.NewSchema(fields, &md), keep
}

// Project returns rec's columns at keep, under schema.
func Project(schema *arrow.Schema, rec arrow.Record, keep []int) arrow.Record {
	cols := make([]arrow.Array, len(keep))
	for j, i := range keep {
		cols[j] = rec.Column(i)
	}
	return array.NewRecord(schema, cols, rec.NumRows())
}

// Unique checks that no key occurs twice across the streams read through
// it: the same file given twice, or overlapping shards, would otherwise
// count rows twice.
type Unique struct {
	seen  map[RowKey]int32 // key -> index of the stream in names
	names []string
	keyer *Keyer // of the current stream
}

// NewUnique returns an empty checker.
func NewUnique() *Unique {
	return &Unique{seen: map[RowKey]int32{}}
}

// Start begins the next stream, named name in errors, with schema.
func (u *Unique) Start(name string, schema *arrow.Schema) error {
	k, err := NewKeyer(schema)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	u.names = append(u.names, name)
	u.keyer = k
	return nil
}

// Add records the keys of rec, a record of the stream last started, and
// returns an error naming the first key already seen and both streams.
func (u *Unique) Add(rec arrow.Record) error {
	k, at := u.keyer, int32(len(u.names)-1)
	name := u.names[at]
	for i := 0; i < int(rec.NumRows()); i++ {
		h := k.Hash(rec, i)
		if first, dup := u.seen[h]; dup {
			where := fmt.Sprintf("in %s (input %d) and again in %s (input %d)", u.names[first], first+1, name, at+1)
			if first == at {
				where = "twice in " + name
			}
			return &DuplicateError{fmt.Sprintf("duplicate row key (%s) %s: a file read twice, overlapping shards, or a sweep with a repeated condition would count it twice", k.Describe(rec, i), where)}
		}
		u.seen[h] = at
	}
	return nil
}

// DuplicateError is a key seen twice.
type DuplicateError struct{ msg string }

func (e *DuplicateError) Error() string { return e.msg }
