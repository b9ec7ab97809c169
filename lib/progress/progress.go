// Package progress reports throughput and ETA on stderr. Streams own
// stdout, so progress never goes there. On a terminal the line is redrawn
// once a second; in a log file a line is written every ten seconds.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/lk-robustness/lk/lib/stream"
)

// Meter counts items and prints their rate.
type Meter struct {
	w          io.Writer
	name, unit string
	total      int64
	n          int64
	start      time.Time
	last       time.Time
	every      time.Duration
	tty        bool
	now        func() time.Time
}

// New starts a meter; total <= 0 means unknown (no ETA). A nil w disables it.
func New(w io.Writer, name, unit string, total int64) *Meter {
	m := &Meter{w: w, name: name, unit: unit, total: total, now: time.Now, every: 10 * time.Second}
	if stream.IsTerminal(w) {
		m.tty, m.every = true, time.Second
	}
	m.start = m.now()
	m.last = m.start
	return m
}

// Add counts n more items and prints when due.
func (m *Meter) Add(n int) {
	if m == nil || m.w == nil {
		return
	}
	m.n += int64(n)
	if t := m.now(); t.Sub(m.last) >= m.every {
		m.last = t
		m.print(false)
	}
}

// SetTotal sets the count expected, once it is known (0: unknown).
func (m *Meter) SetTotal(total int64) {
	if m != nil {
		m.total = total
	}
}

// Done prints the final line.
func (m *Meter) Done() {
	if m == nil || m.w == nil {
		return
	}
	m.print(true)
}

func (m *Meter) print(final bool) {
	el := m.now().Sub(m.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(m.n) / el
	}
	line := fmt.Sprintf("%s: %d %s, %.1f %s/s, %s", m.name, m.n, m.unit, rate, m.unit, fmtDur(el))
	if m.total > 0 && !final {
		line = fmt.Sprintf("%s: %d/%d %s (%.0f%%), %.1f %s/s", m.name, m.n, m.total, m.unit, 100*float64(m.n)/float64(m.total), rate, m.unit)
		if rate > 0 {
			line += ", ETA " + fmtDur(float64(m.total-m.n)/rate)
		}
	}
	switch {
	case m.tty && final:
		fmt.Fprintf(m.w, "\r%s\x1b[K\n", line)
	case m.tty:
		fmt.Fprintf(m.w, "\r%s\x1b[K", line)
	default:
		fmt.Fprintln(m.w, line)
	}
}

func fmtDur(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	h, mnt, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, mnt, sec)
	}
	return fmt.Sprintf("%d:%02d", mnt, sec)
}
