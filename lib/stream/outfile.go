package stream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The one rule for a file a tool writes (--out, -o), whatever it holds:
//
//   - it is not one of the tool's inputs (named or on stdin): writing it
//     would destroy what is being read;
//   - a symbolic link is followed, so that its target gets the new bytes;
//   - a device or a FIFO (/dev/full, a named pipe) is written into as it
//     is, never replaced;
//   - a regular file that a whole write replaces appears whole or not at
//     all (a temporary file beside the target, renamed over it);
//   - a regular file written in place (a stream, resumable) is locked
//     for the run: a second writer is refused while the first holds it.

// SameFileError is an output that is one of the tool's inputs.
type SameFileError struct{ Out, In string }

func (e *SameFileError) Error() string {
	return fmt.Sprintf("%s is also the input %s: writing it would destroy what is being read; write to another file", e.Out, e.In)
}

// CheckNotInput refuses out when it is the same file as one of inputs
// or as stdin (when stdin is a file). A missing out is no input.
func CheckNotInput(out string, inputs []string, stdin io.Reader) error {
	ost, err := os.Stat(out)
	if err != nil {
		return nil
	}
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		if ist, err := os.Stat(in); err == nil && os.SameFile(ost, ist) {
			return &SameFileError{Out: out, In: in}
		}
	}
	if f, ok := stdin.(*os.File); ok {
		if ist, err := f.Stat(); err == nil && os.SameFile(ost, ist) {
			return &SameFileError{Out: out, In: "on stdin"}
		}
	}
	return nil
}

// resolve follows out's symbolic links to the file they name (which
// may not exist yet).
func resolve(out string) (string, error) {
	p, err := filepath.EvalSymlinks(out)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	// a dangling link: its target is created
	if target, lerr := os.Readlink(out); lerr == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(out), target)
		}
		return target, nil
	}
	return out, nil
}

// special reports whether path exists and is not a regular file (a
// device, a FIFO, a socket).
func special(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.Mode().IsRegular()
}

// WriteFileAtomic writes what write produces to out under the one rule:
// into a special file as it is, else through a temporary file in the
// target's folder renamed over the (link-resolved) target. It says what
// it did to out in the error when it fails.
func WriteFileAtomic(out string, inputs []string, stdin io.Reader, write func(io.Writer) error) error {
	if err := CheckNotInput(out, inputs, stdin); err != nil {
		return err
	}
	target, err := resolve(out)
	if err != nil {
		return fmt.Errorf("%s: %v", out, err)
	}
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder; name a file", out)
	}
	if special(target) {
		f, err := os.OpenFile(target, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %v", out, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %v", out, err)
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".lk-*.tmp")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %v (in its folder %s)", out, err, filepath.Dir(target))
	}
	tmp := f.Name()
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %v", out, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %v", out, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// LockedError is an output another run is writing.
type LockedError struct{ Path string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is being written by another run (it holds the file's lock); wait for it, or write to another file", e.Path)
}

// openInPlace opens out for a stream written in place: a regular file
// locked for the run (truncated unless resume), or a special file as it
// is (resume refused: nothing there can be continued).
func openInPlace(out string, resume bool) (*os.File, error) {
	target, err := resolve(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", out, err)
	}
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a folder; name a file", out)
	}
	if special(target) {
		if resume {
			return nil, fmt.Errorf("--resume %s: not a regular file, so nothing in it can be continued", out)
		}
		return os.OpenFile(target, os.O_WRONLY, 0)
	}
	f, err := os.OpenFile(target, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	// the lock first, the truncation after: a second writer must not
	// empty the first one's file before it is refused
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: out}
		}
		return nil, fmt.Errorf("locking %s: %v", out, err)
	}
	if !resume {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}
