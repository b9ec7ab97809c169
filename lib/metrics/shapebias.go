package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/lk-robustness/lk/lib/imagenet"
	"github.com/lk-robustness/lk/lib/stream"
	"github.com/lk-robustness/lk/lib/vec"
)

// Metric names of ShapeBias's rows: percentages of all images, as
// model-vs-human's fraction-correct-shape and -texture, and the shape
// bias, shape / (shape + texture) decisions; conflicts counts the images
// whose shape and texture classes differ.
const (
	ShapeMatch   = "shape_match"
	TextureMatch = "texture_match"
	ShapeBiasPct = "shape_bias"
	Conflicts    = "conflicts"
)

// ShapeBias scores cue-conflict images (Geirhos et al. 2019) as
// bethgelab/model-vs-human does: a model's decision among the 16
// categories is the category whose ImageNet classes have the largest mean
// softmax probability (for 1000-class logits; otherwise the model's own
// classes are the categories), images whose shape and texture classes
// agree are left out of the counts but not of the denominator, and the
// shape bias is the share of shape decisions among shape and texture
// decisions. The label is the shape's class, column texture the
// texture's.
type ShapeBias struct {
	By     []string
	groups map[string]*sbGroup
	skip   int64
	units  *Units // non-nil: keep each row for Resample
	kept   []sbRow
}

type sbGroup struct {
	key                          []string
	n, conflicts, shape, texture float64
}

// sbRow is one scored cue-conflict image, kept for resampling: whether
// its cues conflict and whether the decision matched the shape or the
// texture.
type sbRow struct {
	g                        *sbGroup
	unit                     int32
	conflict, shape, texture bool
}

func (g *sbGroup) add(r sbRow, w float64) {
	g.n += w
	if !r.conflict {
		return
	}
	g.conflicts += w
	if r.shape {
		g.shape += w
	}
	if r.texture {
		g.texture += w
	}
}

// KeepRows keeps each row (its unit in u) for Resample.
func (s *ShapeBias) KeepRows(u *Units) { s.units = u }

// resampled is the accumulator had each unit u been scored w[u] times.
func (s *ShapeBias) resampled(w []float64) *ShapeBias {
	b := &ShapeBias{By: s.By, groups: map[string]*sbGroup{}, skip: s.skip}
	fresh := map[*sbGroup]*sbGroup{}
	for k, g := range s.groups {
		ng := &sbGroup{key: g.key}
		b.groups[k], fresh[g] = ng, ng
	}
	for _, r := range s.kept {
		if w[r.unit] != 0 {
			fresh[r.g].add(r, w[r.unit])
		}
	}
	return b
}

// NewShapeBias groups by the named columns.
func NewShapeBias(by []string) *ShapeBias { return &ShapeBias{By: by, groups: map[string]*sbGroup{}} }

// Decision16 is model-vs-human's decision for 1000-class logits: the
// position in imagenet.Categories16 of the category with the largest mean
// softmax probability over its classes (the first of equal ones).
func Decision16(logits []float32) int {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var z float64
	for _, v := range logits {
		z += vec.Exp(float64(v) - m)
	}
	best, bestP := 0, math.Inf(-1)
	for c, idx := range imagenet.Category16Indices {
		var p float64
		for _, i := range idx {
			p += vec.Exp(float64(logits[i])-m) / z
		}
		if p /= float64(len(idx)); p > bestP {
			best, bestP = c, p
		}
	}
	return best
}

// Add accumulates one record batch of a prediction stream of cue-conflict
// images.
func (s *ShapeBias) Add(rec arrow.Record, name string) error {
	schema := rec.Schema()
	vals, k, labels, err := labelled(rec, name, "shape bias needs the shapes' classes")
	if err != nil {
		return err
	}
	ti := schema.FieldIndices(stream.ColTexture)
	if len(ti) != 1 || schema.Field(ti[0]).Type.ID() != arrow.INT64 {
		return &GroupColumnError{Stream: name, Column: stream.ColTexture, Have: fieldNames(schema)}
	}
	textures := rec.Column(ti[0]).(*array.Int64)
	classes, space := k, "the model's classes"
	if k == 1000 {
		classes, space = len(imagenet.Categories16), "the 16 categories ("+strings.Join(imagenet.Categories16, " ")+")"
	}
	ids, err := unitIDs(rec, name, s.units != nil)
	if err != nil {
		return err
	}
	rowName := rowNamer(rec)
	bycols, err := byColumns(rec, s.By, name)
	if err != nil {
		return err
	}
	key := make([]string, len(s.By))
	for i := 0; i < int(rec.NumRows()); i++ {
		shape, tex := int(labels.Value(i)), int(textures.Value(i))
		if labels.IsNull(i) || shape == -1 {
			s.skip++
			continue
		}
		if shape < 0 || shape >= classes || textures.IsNull(i) || tex < 0 || tex >= classes {
			return fmt.Errorf("%s: %s: shape %d, texture %d: want classes of %s", name, rowName(i), shape, textures.Value(i), space)
		}
		row := vals[i*k : (i+1)*k]
		if err := finite(row, name, rowName(i)); err != nil {
			return err
		}
		d := top1(row, nil)
		if k == 1000 {
			d = Decision16(row)
		}
		groupKey(key, bycols, i)
		ks := strings.Join(key, "\x00")
		g, ok := s.groups[ks]
		if !ok {
			g = &sbGroup{key: append([]string{}, key...)}
			s.groups[ks] = g
		}
		r := sbRow{g: g, conflict: shape != tex}
		r.shape, r.texture = r.conflict && d == shape, r.conflict && d == tex
		g.add(r, 1)
		if s.units != nil {
			r.unit = s.units.of(ids.Value(i))
			s.kept = append(s.kept, r)
		}
	}
	return nil
}

// Unlabelled is the number of rows skipped for having label -1.
func (s *ShapeBias) Unlabelled() int64 { return s.skip }

// Rows returns per group the shape and texture matches (percent of all
// its images), the shape bias (percent; none, with a note, when no
// decision matched either cue) and the number of cue conflicts.
func (s *ShapeBias) Rows() (rows []Row, notes []string, err error) {
	if len(s.groups) == 0 {
		return nil, nil, fmt.Errorf("no labelled rows to score")
	}
	gs := make([]*sbGroup, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(gs[i].key, gs[j].key) })
	for _, g := range gs {
		n, N := g.n, int64(g.n)
		if n == 0 {
			continue // a resample without this group's images
		}
		rows = append(rows,
			Row{Group: g.key, Metric: ShapeMatch, Value: 100 * g.shape / n, N: N},
			Row{Group: g.key, Metric: TextureMatch, Value: 100 * g.texture / n, N: N},
			Row{Group: g.key, Metric: Conflicts, Value: g.conflicts, N: N})
		if g.shape+g.texture > 0 {
			rows = append(rows, Row{Group: g.key, Metric: ShapeBiasPct, Value: 100 * g.shape / (g.shape + g.texture), N: N})
		} else {
			notes = append(notes, fmt.Sprintf("%s: no decision matched the shape or the texture: no shape bias", groupName(s.By, g.key)))
		}
	}
	return rows, notes, nil
}
