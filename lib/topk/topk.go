// Package topk lists, for every row of a prediction stream, the model's k
// most probable classes with their names and softmax probabilities: what
// a model answered for each image, readable on a terminal or as a table
// stream, without Python.
package topk

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/table"
	"github.com/lk-robustness/lk/lib/vec"
)

// Columns lk-top adds after the input's key columns.
const (
	ColLabelName = "label_name" // the label's class name ("" when unknown)
	ColRank      = "rank"       // 1 for the most probable class
	ColClass     = "class"      // the class index in the model's output
	ColName      = "name"       // the class's name ("" when no names are known)
	ColProb      = "prob"       // softmax probability over all the model's classes
)

// Options say how many classes to list and where names come from.
type Options struct {
	K      int
	Names  []string // given names (--names), one per class; nil: from the stream
	Format string   // a table.Formats value
}

// Names are the class names for a model of k classes whose predictions
// carry metadata md, with where they come from (for a note), in the order
// of trust: the names given, the sidecar's classes (lk.model_classes),
// ImageNet-1k's when the model's label space is imagenet-1k or it has
// 1000 classes and no label space, and the stream's own classes
// (lk.classes) when there are k of them. None of these: nil.
func Names(md arrow.Metadata, k int, given []string, givenFrom string) ([]string, string, error) {
	if given != nil {
		if len(given) != k {
			return nil, "", fmt.Errorf("%s has %d class names; the model has %d classes", givenFrom, len(given), k)
		}
		return given, givenFrom, nil
	}
	if v, ok := md.GetValue(stream.MetaModelClasses); ok {
		var names []string
		if err := json.Unmarshal([]byte(v), &names); err != nil || len(names) != k {
			return nil, "", fmt.Errorf("metadata %s: want a JSON array of %d class names (the sidecar's classes), got %.80q", stream.MetaModelClasses, k, v)
		}
		return names, "the sidecar's classes", nil
	}
	space, _ := md.GetValue(stream.MetaModelLabelSpace)
	switch {
	case space == "imagenet-1k" && k == len(imagenet.Names):
		return imagenet.Names, "ImageNet-1k's (the sidecar's label_space)", nil
	case space == "" && k == len(imagenet.Names):
		return imagenet.Names, "ImageNet-1k's, as the model has 1000 classes and no label_space (give --names if it is another set)", nil
	}
	if v, ok := md.GetValue(stream.MetaClasses); ok && space == "" {
		if names := splitClasses(v); len(names) == k {
			ls, _ := md.GetValue(stream.MetaLabelSpace)
			return names, fmt.Sprintf("the images' classes (label space %s), as the model has as many and no label_space", ls), nil
		}
	}
	return nil, "", nil
}

func splitClasses(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return out
}

// Ranked are the indices of the k largest logits, largest first, ties to
// the lower index (as every lk measure's argmax), and the softmax
// probability of each over all classes, computed in float64.
func Ranked(logits []float32, k int) (idx []int, prob []float64) {
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
	m := float64(logits[order[0]])
	var z float64
	for _, v := range logits {
		z += vec.Exp(float64(v) - m)
	}
	idx = order[:min(k, len(order))]
	for _, i := range idx {
		prob = append(prob, vec.Exp(float64(logits[i])-m)/z)
	}
	return idx, prob
}

// Writer turns prediction streams into one top-k table.
type Writer struct {
	o       Options
	out     *table.Stream
	key     []string // the first input's key columns
	names   []string
	k       int // classes listed per row, min(o.K, classes)
	classes int // the first input's number of classes
	Notes   []string
}

// NewWriter starts the table on w.
func NewWriter(o Options) *Writer { return &Writer{o: o} }

// Add writes the rows of r to w (the same w every call); every input
// must have the first one's key columns and number of classes. givenFrom
// names where Options.Names came from, for errors and notes.
func (t *Writer) Add(r *stream.Reader, w io.Writer, givenFrom string) error {
	s := r.Schema()
	lcol, k, err := stream.Logits(s)
	if err != nil {
		return fmt.Errorf("%s: %v (lk-top reads predictions: lk-infer's output)", r.Name(), err)
	}
	key := stream.Key(s)
	var keyCols []int
	for _, name := range key {
		i := s.FieldIndices(name)
		if len(i) != 1 {
			return fmt.Errorf("%s: key column %s (lk.key) is missing", r.Name(), name)
		}
		keyCols = append(keyCols, i[0])
	}
	lab := s.FieldIndices(stream.ColLabel)
	if len(lab) != 1 || s.Field(lab[0]).Type.ID() != arrow.INT32 {
		return fmt.Errorf("%s: no int32 column label", r.Name())
	}
	if t.out == nil {
		names, from, err := Names(s.Metadata(), k, t.o.Names, givenFrom)
		if err != nil {
			return fmt.Errorf("%s: %v", r.Name(), err)
		}
		t.names, t.key, t.k, t.classes = names, key, min(t.o.K, k), k
		switch {
		case names == nil:
			t.Notes = append(t.Notes, fmt.Sprintf("no class names known for the %d classes: the name column is empty (give --names FILE, or classes in the model's sidecar)", k))
		default:
			t.Notes = append(t.Notes, "class names: "+from)
		}
		if t.k < t.o.K {
			t.Notes = append(t.Notes, fmt.Sprintf("-k %d: the model has %d classes, all listed", t.o.K, k))
		}
		var cols []table.Column
		for _, name := range key {
			cols = append(cols, table.Column{Name: name, Type: table.String})
		}
		cols = append(cols, table.Column{Name: stream.ColLabel, Type: table.Int}, table.Column{Name: ColLabelName, Type: table.String},
			table.Column{Name: ColRank, Type: table.Int}, table.Column{Name: ColClass, Type: table.Int},
			table.Column{Name: ColName, Type: table.String}, table.Column{Name: ColProb, Type: table.Float})
		md := arrow.NewMetadata(nil, nil)
		if v, ok := s.Metadata().GetValue(stream.MetaProvenance); ok {
			md = stream.WithMeta(md, stream.MetaProvenance, v)
		}
		t.out = table.NewStream(w, t.o.Format, md, cols...)
	} else if !slices.Equal(key, t.key) || k != t.classes {
		return fmt.Errorf("%s: key columns %v and %d classes; the first input has %v and %d: give lk-top one kind of stream at a time", r.Name(), key, k, t.key, t.classes)
	}
	for r.Next() {
		rec := r.Record()
		vals, _, err := stream.Float32Rows(rec.Column(lcol))
		if err != nil {
			return fmt.Errorf("%s: %v", r.Name(), err)
		}
		labels := rec.Column(lab[0]).(*array.Int32)
		for i := 0; i < int(rec.NumRows()); i++ {
			row := vals[i*k : (i+1)*k]
			keyVals := make([]any, len(keyCols))
			for j, c := range keyCols {
				keyVals[j] = rec.Column(c).ValueStr(i)
			}
			for _, v := range row {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("%s: row %s: logit %v: the model gave a non-finite output", r.Name(), keyVals[0], v)
				}
			}
			label := int(labels.Value(i))
			if labels.IsNull(i) {
				label = -1
			}
			labelName := ""
			if label >= 0 && label < len(t.names) {
				labelName = t.names[label]
			}
			idx, prob := Ranked(row, t.k)
			for rank, c := range idx {
				name := ""
				if t.names != nil {
					name = t.names[c]
				}
				t.out.Add(append(append([]any{}, keyVals...), label, labelName, rank+1, c, name, prob[rank])...)
			}
		}
		if err := t.out.Flush(); err != nil {
			return err
		}
	}
	return r.Err()
}

// Close ends the table.
func (t *Writer) Close() error {
	if t.out == nil {
		return nil
	}
	return t.out.Close()
}
