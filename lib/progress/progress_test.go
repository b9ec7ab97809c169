package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	var b bytes.Buffer
	m := New(&b, "lk-infer", "images", 1000)
	clock := m.start
	m.now = func() time.Time { return clock }
	m.Add(100) // before the 10 s interval: silent
	clock = clock.Add(10 * time.Second)
	m.Add(150) // 250 in 10 s: 25/s, 750 left: ETA 30 s
	clock = clock.Add(5 * time.Second)
	m.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"lk-infer: 250/1000 images (25%), 25.0 images/s, ETA 0:30",
		"lk-infer: 250 images, 16.7 images/s, 0:15",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", b.String(), strings.Join(want, "\n"))
	}
}

func TestNilWriterIsSilent(t *testing.T) {
	m := New(nil, "x", "images", 0)
	m.Add(5)
	m.Done()
}

// A total learnt after the start gives the ETA from then on.
func TestSetTotal(t *testing.T) {
	var b bytes.Buffer
	m := New(&b, "lk-corrupt sequences", "images", 0)
	clock := m.start
	m.now = func() time.Time { return clock }
	m.SetTotal(400)
	clock = clock.Add(10 * time.Second)
	m.Add(100)
	if want := "lk-corrupt sequences: 100/400 images (25%), 10.0 images/s, ETA 0:30\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
