package stream

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeBytes is the kernel buffer asked for a pipe lk reads or writes: the
// most an unprivileged process may set by default (/proc/sys/fs/pipe-max-size).
// Image records are megabytes; with the default 64 KiB every record
// crosses the pipe in hundreds of read and write calls.
const pipeBytes = 1 << 20

// widenPipe enlarges v's kernel buffer when v is a pipe; anything else, or
// a refusal, leaves it as it is (the size changes only speed).
func widenPipe(v any) {
	f, ok := v.(*os.File)
	if !ok {
		return
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeBytes)
}
