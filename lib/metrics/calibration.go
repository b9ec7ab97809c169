package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/imagenet"
)

// Calibration constants: ECEBins equal-width confidence bins (Guo et al.
// 2017), and RMSBinSize predictions per adaptive bin, as hendrycks'
// calib_err (natural-adv-examples, outlier-exposure) bins them.
const (
	ECEBins    = 15
	RMSBinSize = 100
)

// Metric names of Calibration's rows, all in percent.
const (
	Confidence = "confidence" // mean maximum softmax probability
	ECE        = "ece"
	RMSCalib   = "rms_calibration_error"
	// reliability rows, one per bin (grouping column ColBin)
	BinLower = "lower"
	BinUpper = "upper"
	BinAcc   = "accuracy"
)

// ColBin is the reliability table's bin column: 1 to ECEBins, lowest
// confidence first.
const ColBin = "bin"

// Calibration accumulates, per group, each labelled prediction's
// confidence (its maximum softmax probability, over the subset's classes
// when there is one) and whether its top-1 class is the label.
type Calibration struct {
	By         []string
	Subset     *imagenet.Subset
	groups     map[string]*calGroup
	unlabelled int64
	units      *Units // non-nil: keep each row's unit for Resample
}

type calGroup struct {
	key     []string
	conf    []float64
	correct []bool
	unit    []int32 // per row, when kept for resampling
}

// NewCalibration groups by the named columns; subset may be nil.
func NewCalibration(by []string, subset *imagenet.Subset) *Calibration {
	return &Calibration{By: by, Subset: subset, groups: map[string]*calGroup{}}
}

// Add accumulates one record batch of a prediction stream.
func (c *Calibration) Add(rec arrow.Record, name string) error {
	vals, k, labels, err := labelled(rec, name, "calibration needs labels")
	if err != nil {
		return err
	}
	if c.Subset != nil && k <= c.Subset.Indices[len(c.Subset.Indices)-1] {
		return fmt.Errorf("%s: the %s subset needs ImageNet-1k logits, but the stream has %d classes", name, c.Subset.Name, k)
	}
	ids, err := unitIDs(rec, name, c.units != nil)
	if err != nil {
		return err
	}
	rowName := rowNamer(rec)
	bycols, err := byColumns(rec, c.By, name)
	if err != nil {
		return err
	}
	var idx []int
	if c.Subset != nil {
		idx = c.Subset.Indices
	}
	key := make([]string, len(c.By))
	for i := 0; i < int(rec.NumRows()); i++ {
		label := int(labels.Value(i))
		if labels.IsNull(i) || label == -1 {
			c.unlabelled++
			continue
		}
		if label < 0 || label >= k {
			return fmt.Errorf("%s: %s: label %d is outside the model's %d classes", name, rowName(i), label, k)
		}
		row := vals[i*k : (i+1)*k]
		if err := finite(row, name, rowName(i)); err != nil {
			return err
		}
		target := label
		if c.Subset != nil {
			pos, ok := c.Subset.Position(label)
			if !ok {
				return fmt.Errorf("%s: %s: label %d (%s) is not one of the %s classes", name, rowName(i), label, imagenet.WNIDs[label], c.Subset.Name)
			}
			target = pos
		}
		groupKey(key, bycols, i)
		ks := strings.Join(key, "\x00")
		g, ok := c.groups[ks]
		if !ok {
			g = &calGroup{key: append([]string{}, key...)}
			c.groups[ks] = g
		}
		g.conf = append(g.conf, msp(row, idx))
		g.correct = append(g.correct, top1(row, idx) == target)
		if c.units != nil {
			g.unit = append(g.unit, c.units.of(ids.Value(i)))
		}
	}
	return nil
}

// KeepRows keeps each row's unit (in u) for Resample.
func (c *Calibration) KeepRows(u *Units) { c.units = u }

// resampled is the accumulator had each unit u been scored w[u] times:
// rows repeated, as a bootstrap sample holds them.
func (c *Calibration) resampled(w []float64) *Calibration {
	b := *c
	b.groups = map[string]*calGroup{}
	for k, g := range c.groups {
		ng := &calGroup{key: g.key}
		repeat(g.unit, w, func(i int) {
			ng.conf, ng.correct = append(ng.conf, g.conf[i]), append(ng.correct, g.correct[i])
		})
		if len(ng.conf) > 0 {
			b.groups[k] = ng
		}
	}
	return &b
}

// top1 is the position in idx (all classes when nil) of the largest
// logit, the first of equal ones.
func top1(row []float32, idx []int) int {
	n, at := len(row), func(p int) float32 { return row[p] }
	if idx != nil {
		n, at = len(idx), func(p int) float32 { return row[idx[p]] }
	}
	best := 0
	for p := 1; p < n; p++ {
		if at(p) > at(best) {
			best = p
		}
	}
	return best
}

// Unlabelled is the number of rows skipped for having label -1.
func (c *Calibration) Unlabelled() int64 { return c.unlabelled }

func (c *Calibration) sorted() []*calGroup {
	gs := make([]*calGroup, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return lessKey(gs[i].key, gs[j].key) })
	return gs
}

// binOf is the equal-width bin ((b-1)/ECEBins, b/ECEBins] holding
// confidence p, numbered from 1, with the bounds k * (1/ECEBins) as
// numpy's linspace makes them (so that a confidence on a bound falls
// where the reference implementations put it).
func binOf(p float64) int {
	const step = 1.0 / ECEBins
	b := min(max(int(math.Ceil(p*ECEBins)), 1), ECEBins)
	for b > 1 && p <= float64(b-1)*step {
		b--
	}
	for b < ECEBins && p > float64(b)*step {
		b++
	}
	return b
}

// Rows returns per group the top-1 accuracy, the mean confidence, the
// expected calibration error over ECEBins equal-width bins, sum over bins
// of |B|/n |accuracy(B) - confidence(B)|, and the RMS calibration error
// with adaptive bins (RMSError); notes say which groups are too small
// for the latter.
func (c *Calibration) Rows() (rows []Row, notes []string, err error) {
	if len(c.groups) == 0 {
		return nil, nil, fmt.Errorf("no labelled rows to score")
	}
	for _, g := range c.sorted() {
		n := float64(len(g.conf))
		var acc, conf float64
		var bins [ECEBins]struct{ n, correct, conf float64 }
		for i, p := range g.conf {
			b := &bins[binOf(p)-1]
			b.n++
			b.conf += p
			conf += p
			if g.correct[i] {
				b.correct++
				acc++
			}
		}
		var ece float64
		for _, b := range bins {
			if b.n > 0 {
				ece += b.n / n * math.Abs(b.correct/b.n-b.conf/b.n)
			}
		}
		N := int64(len(g.conf))
		rows = append(rows,
			Row{Group: g.key, Metric: Top1, Value: 100 * acc / n, N: N},
			Row{Group: g.key, Metric: Confidence, Value: 100 * conf / n, N: N},
			Row{Group: g.key, Metric: ECE, Value: 100 * ece, N: N})
		if rms, ok := RMSError(g.conf, g.correct); ok {
			rows = append(rows, Row{Group: g.key, Metric: RMSCalib, Value: 100 * rms, N: N})
		} else {
			notes = append(notes, fmt.Sprintf("%s: %d predictions; the RMS calibration error needs at least %d (bins of %d, the last left out)",
				groupName(c.By, g.key), N, 2*RMSBinSize, RMSBinSize))
		}
	}
	return rows, notes, nil
}

// RMSError is the RMS calibration error as hendrycks' calib_err (p "2",
// beta 100) computes it, the number robustness papers report for
// ImageNet-O: predictions sorted by confidence (stably), cut into bins of
// RMSBinSize with the remainder joined to the last, and
// sqrt(sum over bins of |B|/n (confidence(B) - accuracy(B))^2), where the
// last bin (the most confident predictions) is left out of the sum, as
// calib_err's loop leaves it, while n counts every prediction. ok is
// false below two bins, where calib_err fails or returns 0.
func RMSError(conf []float64, correct []bool) (rms float64, ok bool) {
	n := len(conf)
	bins := n / RMSBinSize
	if bins < 2 {
		return 0, false
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return conf[order[a]] < conf[order[b]] })
	var sum float64
	for b := 0; b < bins-1; b++ { // the last bin is left out
		var p, a float64
		for _, i := range order[b*RMSBinSize : (b+1)*RMSBinSize] {
			p += conf[i]
			if correct[i] {
				a++
			}
		}
		d := (p - a) / RMSBinSize
		sum += RMSBinSize / float64(n) * d * d
	}
	return math.Sqrt(sum), true
}

// ReliabilityRows returns the reliability diagram per group: for each of
// the ECEBins bins its bounds, the mean confidence and the accuracy of its
// predictions (empty for an empty bin), and its count as N.
func (c *Calibration) ReliabilityRows() ([]Row, error) {
	if len(c.groups) == 0 {
		return nil, fmt.Errorf("no labelled rows to score")
	}
	var rows []Row
	for _, g := range c.sorted() {
		var bins [ECEBins]struct {
			n       int64
			correct float64
			conf    float64
		}
		for i, p := range g.conf {
			b := &bins[binOf(p)-1]
			b.n++
			b.conf += p
			if g.correct[i] {
				b.correct++
			}
		}
		for k, b := range bins {
			key := append(append([]string{}, g.key...), strconv.Itoa(k+1))
			rows = append(rows,
				Row{Group: key, Metric: BinLower, Value: 100 * float64(k) / ECEBins, N: b.n},
				Row{Group: key, Metric: BinUpper, Value: 100 * float64(k+1) / ECEBins, N: b.n})
			if b.n > 0 {
				rows = append(rows,
					Row{Group: key, Metric: Confidence, Value: 100 * b.conf / float64(b.n), N: b.n},
					Row{Group: key, Metric: BinAcc, Value: 100 * b.correct / float64(b.n), N: b.n})
			}
		}
	}
	return rows, nil
}

// groupName names a group in notes: "all" without grouping columns.
func groupName(by, key []string) string {
	if len(by) == 0 {
		return "all predictions"
	}
	parts := make([]string, len(by))
	for i := range by {
		parts[i] = by[i] + "=" + key[i]
	}
	return strings.Join(parts, ", ")
}
