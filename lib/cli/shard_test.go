package cli

import (
	"strings"
	"testing"
)

func TestShard(t *testing.T) {
	slurm := func(id, lo, hi, cnt string) map[string]string {
		return map[string]string{"SLURM_ARRAY_TASK_ID": id, "SLURM_ARRAY_TASK_MIN": lo, "SLURM_ARRAY_TASK_MAX": hi,
			"SLURM_ARRAY_TASK_COUNT": cnt, "SLURM_ARRAY_TASK_STEP": "1"}
	}
	cases := []struct {
		v    string
		env  map[string]string
		k, n int
		err  string
	}{
		{"2/8", nil, 2, 8, ""},
		{"8/8", nil, 0, 0, "want k/n"},
		{"1/2x", nil, 0, 0, "want k/n"},
		{"auto", slurm("3", "0", "3", "4"), 3, 4, ""},
		{"auto", slurm("1", "1", "4", "4"), 0, 4, ""}, // --array=1-4
		{"auto/4", slurm("2", "0", "3", "4"), 2, 4, ""},
		{"auto/8", slurm("2", "0", "3", "4"), 0, 0, "has 4 tasks"},
		{"auto", map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "4", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_STEP": "2"}, 0, 0, "contiguous"},
		{"auto/5", map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, 5, ""},
		{"auto", map[string]string{"JOB_COMPLETION_INDEX": "4"}, 0, 0, "give --shard auto/N"},
		{"auto/3", map[string]string{"JOB_COMPLETION_INDEX": "4"}, 0, 0, "not below 3"},
		{"auto", nil, 0, 0, "neither SLURM_ARRAY_TASK_ID"},
	}
	for _, c := range cases {
		k, n, _, err := Shard(c.v, func(name string) string { return c.env[name] })
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %v: err %v, want %q", c.v, c.env, err, c.err)
			}
			continue
		}
		if err != nil || k != c.k || n != c.n {
			t.Errorf("%s %v: %d/%d %v, want %d/%d", c.v, c.env, k, n, err, c.k, c.n)
		}
	}
}
