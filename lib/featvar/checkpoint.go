package featvar

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/stream"
)

// The statistics of a long run are checkpointed, so that a killed run
// resumes where its last checkpoint was: the state of every layer's
// statistic after the first Rows images, and a running hash of those
// images' keys, which a resumed run recomputes to be sure it is given the
// same stream. Sums are float64 and JSON keeps float64 exactly, so the
// resumed table is the uninterrupted run's, byte for byte.
type checkpoint struct {
	Run   string      `json:"run"`   // what the run computes (SameRun's view of its metadata)
	Rows  int64       `json:"rows"`  // images consumed
	Keys  string      `json:"keys"`  // running hash of their keys
	Stats []statState `json:"stats"` // per layer
}

type statState struct {
	N          int64     `json:"n"`
	Sum        float64   `json:"sum"`
	GroupSum   []float64 `json:"group_sum,omitempty"`
	GroupN     int       `json:"group_n"`
	Groups     int       `json:"groups"`
	GroupTotal float64   `json:"group_total"`
	C          int       `json:"c"`
	P          int       `json:"p"`
}

func (s *Stat) state() statState {
	return statState{N: s.n, Sum: s.sum, GroupSum: append([]float64(nil), s.groupSum...), GroupN: s.groupN,
		Groups: s.groups, GroupTotal: s.groupTotal, C: s.c, P: s.p}
}

func (s *Stat) restore(st statState) {
	s.n, s.sum, s.groupSum, s.groupN, s.groups, s.groupTotal, s.c, s.p =
		st.N, st.Sum, st.GroupSum, st.GroupN, st.Groups, st.GroupTotal, st.C, st.P
}

// keyChain is the running hash of the keys of the images consumed.
type keyChain [16]byte

func (k keyChain) add(h stream.RowKey) keyChain {
	f := fnv.New128a()
	f.Write(k[:])
	f.Write(h[:])
	var out keyChain
	f.Sum(out[:0])
	return out
}

func (k keyChain) String() string { return fmt.Sprintf("%x", k[:]) }

// runID is what a checkpoint must match: the input's metadata, its
// provenance whole (the images it was made from), and the options that
// change the result.
func runID(in *arrow.Schema, what string) string {
	return stream.WithMeta(in.Metadata(), "lk.featvar", what).String()
}

// loadCheckpoint reads path; a missing file is no checkpoint.
func loadCheckpoint(path, run string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %v (not an lk-featvar checkpoint?)", path, err)
	}
	if c.Run != run {
		return nil, fmt.Errorf("checkpoint %s was written by another run (different model, flags or input); write to a new file", path)
	}
	return &c, nil
}

// save writes the checkpoint atomically: a kill while saving leaves the
// previous one.
func (c *checkpoint) save(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing checkpoint: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing checkpoint: %v", err)
	}
	return nil
}
