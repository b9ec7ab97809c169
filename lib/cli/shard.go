package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard reads a --shard value: "k/n" (k from 0), or "auto", which takes
// the shard from the job scheduler: a Slurm job array's task
// (SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT
// tasks), or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, whose count
// must be given as "auto/N". getenv is os.Getenv outside tests. It returns
// where the shard came from, for a note on stderr.
func Shard(v string, getenv func(string) string) (k, n int, from string, err error) {
	auto, count, isAuto := strings.Cut(v, "/")
	if auto != "auto" {
		if _, err := fmt.Sscanf(v, "%d/%d", &k, &n); err != nil || n < 1 || k < 0 || k >= n || fmt.Sprintf("%d/%d", k, n) != v {
			return 0, 0, "", fmt.Errorf("%q: want k/n with 0 <= k < n (e.g. 0/4), auto (a Slurm job array) or auto/N (a Kubernetes Indexed Job of N)", v)
		}
		return k, n, "", nil
	}
	want := 0
	if isAuto {
		if want, err = strconv.Atoi(count); err != nil || want < 1 {
			return 0, 0, "", fmt.Errorf("%q: want auto/N with N the number of shards", v)
		}
	}
	num := func(name string) (int, bool, error) {
		s := getenv(name)
		if s == "" {
			return 0, false, nil
		}
		x, err := strconv.Atoi(s)
		if err != nil || x < 0 {
			return 0, true, fmt.Errorf("%s=%q is not a whole number", name, s)
		}
		return x, true, nil
	}
	id, slurm, err := num("SLURM_ARRAY_TASK_ID")
	if err != nil {
		return 0, 0, "", err
	}
	if slurm {
		lo, _, err1 := num("SLURM_ARRAY_TASK_MIN")
		hi, okHi, err2 := num("SLURM_ARRAY_TASK_MAX")
		cnt, okCnt, err3 := num("SLURM_ARRAY_TASK_COUNT")
		step, okStep, err4 := num("SLURM_ARRAY_TASK_STEP")
		for _, e := range []error{err1, err2, err3, err4} {
			if e != nil {
				return 0, 0, "", e
			}
		}
		if !okCnt || !okHi {
			return 0, 0, "", fmt.Errorf("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT or _MAX is not")
		}
		// --array=0-7 or 1-8 are shards; --array=0,2,5 or 0-8:2 would
		// leave gaps in the partition
		if (okStep && step != 1) || hi-lo+1 != cnt {
			return 0, 0, "", fmt.Errorf("--shard auto: the job array %d-%d has %d tasks (step %d); shards need a contiguous array such as --array=0-%d", lo, hi, cnt, step, cnt-1)
		}
		k, n = id-lo, cnt
		if want > 0 && want != n {
			return 0, 0, "", fmt.Errorf("--shard %s: the Slurm job array has %d tasks", v, n)
		}
		return k, n, fmt.Sprintf("SLURM_ARRAY_TASK_ID %d of the array %d-%d", id, lo, hi), nil
	}
	idx, k8s, err := num("JOB_COMPLETION_INDEX")
	if err != nil {
		return 0, 0, "", err
	}
	if k8s {
		if want == 0 {
			return 0, 0, "", fmt.Errorf("--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the job's completions are not known; give --shard auto/N")
		}
		if idx >= want {
			return 0, 0, "", fmt.Errorf("--shard %s: JOB_COMPLETION_INDEX is %d, not below %d", v, idx, want)
		}
		return idx, want, fmt.Sprintf("JOB_COMPLETION_INDEX %d", idx), nil
	}
	return 0, 0, "", fmt.Errorf("--shard %s: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set", v)
}
