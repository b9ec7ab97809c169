package cli

import "flag"

// Runtime is where and how a tool runs its model, from the flags every
// tool that runs one shares: --batch (images per model run), --threads,
// --provider and --device.
type Runtime struct {
	Batch    int
	Threads  int
	Provider string
	Device   int
	batch    bool // --batch is this Runtime's
}

// RuntimeFlags registers the runtime flags on fs; --batch only when batch
// (its default) is positive, with batchUsage as its help.
func RuntimeFlags(fs *flag.FlagSet, batch int, batchUsage string) *Runtime {
	r := &Runtime{batch: batch > 0}
	if batch > 0 {
		fs.IntVar(&r.Batch, "batch", batch, batchUsage)
	}
	fs.IntVar(&r.Threads, "threads", 0, "ONNX Runtime intra-op threads (0: all cores)")
	fs.StringVar(&r.Provider, "provider", "cpu", "execution provider: cpu, or cuda (a GPU build of ONNX Runtime: make deps-gpu)")
	fs.IntVar(&r.Device, "device", 0, "with --provider cuda: the CUDA device, numbered from 0")
	return r
}

// Check validates the flags' values.
func (r *Runtime) Check() error {
	if r.batch && r.Batch <= 0 {
		return Usage("--batch %d: want a positive number", r.Batch)
	}
	if r.Threads < 0 {
		return Usage("--threads %d: want 0 (all cores) or a positive number", r.Threads)
	}
	switch r.Provider {
	case "cpu", "cuda":
	default:
		return Usage("--provider %q: want cpu or cuda", r.Provider)
	}
	if r.Device < 0 {
		return Usage("--device %d: want a CUDA device number (0, 1, ...)", r.Device)
	}
	if r.Device > 0 && r.Provider != "cuda" {
		return Usage("--device %d needs --provider cuda", r.Device)
	}
	return nil
}
