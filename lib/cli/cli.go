// Package cli holds what every lk tool's main shares: the exit convention
// (a one-line "tool: message" on stderr and status 1, never a panic trace),
// list-valued flags, and opening inputs.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/lk-robustness/lk/lib/stream"
)

// Main runs a tool's run function with the process's arguments and streams
// and exits with its status. Each explainer may add to run's error the
// flag that resolves it (libraries word their errors without flags).
//
// With LK_CPUPROFILE=FILE set, a Go CPU profile of the run is written there.
func Main(name string, run func(args []string, stdin io.Reader, stdout, stderr io.Writer) error, explain ...Explainer) {
	if p := os.Getenv("LK_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
		}
	}
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	for _, e := range explain {
		err = e(err)
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(os.Stderr, "%s: %v\nRun '%s -h' for usage.\n", name, err, name)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

type usageError struct{ error }

// IsUsage reports whether err is a command-line mistake (exit status 2).
func IsUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// Usage marks err as a command-line mistake (exit status 2).
func Usage(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Parse parses args into fs, allowing flags after positional arguments
// (lk-data SRC --limit 10), and turns flag errors into usage errors (the
// flag package has already printed the message). "--" ends the flags.
func Parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// Floats is a comma-separated list of numbers as a flag value.
type Floats []float32

func (f *Floats) String() string {
	return join(*f, func(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) })
}

// Set parses "0.485,0.456,0.406".
func (f *Floats) Set(v string) error {
	return split(v, f, "a finite number", func(p string) (float32, error) {
		x, err := finite(p, 32)
		return float32(x), err
	})
}

// finite parses a number a user typed. NaN and the infinities parse as
// floats but no lk flag means them: a NaN budget, width or threshold
// would silently disable what it sets, so they are refused here, the one
// place every float flag is parsed.
func finite(p string, bits int) (float64, error) {
	x, err := strconv.ParseFloat(p, bits)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%q is not finite", p)
	}
	return x, nil
}

// Float is a single finite number as a flag value (see FloatVar).
type Float struct{ p *float64 }

// FloatVar defines a float flag that refuses NaN and infinities, as
// fs.Float64Var does otherwise.
func FloatVar(fs *flag.FlagSet, p *float64, name string, value float64, usage string) {
	*p = value
	fs.Var(Float{p}, name, usage)
}

func (f Float) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

// Set parses one finite number.
func (f Float) Set(v string) error {
	x, err := finite(strings.TrimSpace(v), 64)
	if err != nil {
		return fmt.Errorf("%q is not a finite number", v)
	}
	*f.p = x
	return nil
}

// Numbers is a comma-separated list of numbers as a flag value, read as
// float64 exactly as typed (0.1 is 0.1, not float32's 0.10000000149): the
// values of condition columns and budgets.
type Numbers []float64

func (f *Numbers) String() string {
	return join(*f, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) })
}

// Set parses "0.002,0.004".
func (f *Numbers) Set(v string) error {
	return split(v, f, "a finite number", func(p string) (float64, error) { return finite(p, 64) })
}

// Ints is a comma-separated list of whole numbers as a flag value.
type Ints []int

func (f *Ints) String() string { return join(*f, strconv.Itoa) }

// Set parses "1,2,5".
func (f *Ints) Set(v string) error { return split(v, f, "a whole number", strconv.Atoi) }

// split parses the comma-separated items of v into *dst, naming an item
// that is not what (a number, a whole number).
func split[T any, L ~[]T](v string, dst *L, what string, parse func(string) (T, error)) error {
	*dst = nil
	for _, p := range strings.Split(v, ",") {
		x, err := parse(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("%q is not %s", p, what)
		}
		*dst = append(*dst, x)
	}
	return nil
}

// join formats a list's items, comma-separated.
func join[T any](vals []T, format func(T) string) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = format(v)
	}
	return strings.Join(s, ",")
}

// Strings is a comma-separated list of names as a flag value.
type Strings []string

func (s *Strings) String() string { return strings.Join(*s, ",") }

// Set parses "a,b,c". A name given twice is an error: in a list of
// conditions it would write every row twice.
func (s *Strings) Set(v string) error {
	*s = nil
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if seen[p] {
				return fmt.Errorf("%q is given twice", p)
			}
			seen[p] = true
			*s = append(*s, p)
		}
	}
	return nil
}

// Distinct returns an error naming the first value of vals given twice:
// for lists of conditions (budgets, bands, ratios), where a repeat would
// write every row twice.
func Distinct[T comparable](vals []T) error {
	seen := map[T]bool{}
	for _, v := range vals {
		if seen[v] {
			return fmt.Errorf("%v is given twice", v)
		}
		seen[v] = true
	}
	return nil
}

// Inputs opens each named file as an Arrow stream, or stdin when there are
// none (or the name is "-"), and calls fn for each in order.
func Inputs(names []string, stdin io.Reader, fn func(r *stream.Reader) error) error {
	if len(names) == 0 {
		names = []string{"-"}
	}
	for _, n := range names {
		if err := input(n, stdin, fn); err != nil {
			return err
		}
	}
	return nil
}

func input(name string, stdin io.Reader, fn func(r *stream.Reader) error) error {
	in, label := stdin, "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in, label = f, name
	} else if stream.IsTerminal(stdin) {
		return Usage("no input: stdin is a terminal; pipe an Arrow stream in or name files")
	}
	r, err := stream.NewReader(in, label)
	if err != nil {
		return err
	}
	defer r.Release()
	return fn(r)
}

// Recorded is the command line as provenance records it: the flags that
// were set, in a fixed order, and the positional arguments. Flags that
// change only speed or logging (perf) are left out, so that the same
// computation writes the same bytes however it was tuned; so are --out and
// --resume, which say where the bytes go.
func Recorded(fs *flag.FlagSet, perf ...string) []string {
	skip := map[string]bool{"out": true, "resume": true}
	for _, p := range perf {
		skip[p] = true
	}
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if !skip[f.Name] {
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	return append(out, fs.Args()...)
}

// Step is the tool's provenance step as its main knows it: the tool's
// name (the flag set's) and the recorded command line (Recorded). A
// library adds what only it knows (the model's hash, seeds, extras).
func Step(fs *flag.FlagSet, perf ...string) stream.Step {
	return stream.Step{Tool: fs.Name(), Args: Recorded(fs, perf...)}
}

// Shape is a C,H,W size as a flag value (zero when not given).
type Shape struct{ stream.Shape }

func (s *Shape) String() string {
	if s.Size() == 0 {
		return ""
	}
	return fmt.Sprintf("%d,%d,%d", s.C, s.H, s.W)
}

// Set parses "C,H,W".
func (s *Shape) Set(v string) error {
	sh, err := stream.ParseShape(v)
	if err != nil {
		return err
	}
	s.Shape = sh
	return nil
}

// InputSize registers the --input-size flag every model-reading tool takes.
func InputSize(fs *flag.FlagSet) *Shape {
	s := &Shape{}
	fs.Var(s, "input-size", "model input `C,H,W`, overriding the sidecar (needed when the graph's are symbolic)")
	return s
}

// Out is the --out and --resume flags of a tool that writes a stream.
type Out struct {
	Path   string
	Resume bool
}

// OutFlags registers --out and --resume.
func OutFlags(fs *flag.FlagSet) *Out {
	o := &Out{}
	fs.StringVar(&o.Path, "out", "", "write the stream to this `file` instead of stdout")
	fs.BoolVar(&o.Resume, "resume", false, "with --out: continue an interrupted run's file: its complete record batches are kept, the rows with their keys not computed again")
	return o
}

// Options checks the flags and returns where the stream goes: the file,
// or stdout when it is not a terminal; notes go to stderr.
// Options are the output's for a tool that reads inputs (its positional
// arguments) or stdin: --out may be none of them.
func (o *Out) Options(stdin io.Reader, stdout, stderr io.Writer, inputs []string) (stream.OutputOptions, error) {
	if o.Resume && o.Path == "" {
		return stream.OutputOptions{}, Usage("--resume needs --out FILE (a pipe cannot be resumed)")
	}
	if o.Path == "" {
		if err := stream.RefuseTerminal(stdout); err != nil {
			return stream.OutputOptions{}, err
		}
	}
	return stream.OutputOptions{Path: o.Path, Resume: o.Resume, W: stdout, Log: stderr, Inputs: inputs, Stdin: stdin}, nil
}

// IntSet reads a list of whole numbers and ranges, "0-7" or "1,3,5-9", as
// a set (labels to keep, severities, blocks). A number given twice is an
// error.
func IntSet(v string) (map[int32]bool, error) {
	set := map[int32]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi := part, part
		if i := strings.Index(part, "-"); i > 0 {
			lo, hi = part[:i], part[i+1:]
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%q: want numbers like 0-7 or 1,3,5-9", part)
		}
		for l := a; l <= b; l++ {
			if set[int32(l)] {
				return nil, fmt.Errorf("%d is given twice", l)
			}
			set[int32(l)] = true
		}
	}
	return set, nil
}

// Choose checks a list of names against the known ones; "all" alone is
// every known name.
func Choose(given, known []string) ([]string, error) {
	if len(given) == 1 && given[0] == "all" {
		return known, nil
	}
	for _, n := range given {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("%q is not one of %s (or all)", n, strings.Join(known, ", "))
		}
	}
	return given, nil
}

// NewFlags is a tool's flag set: errors and -h go to stderr, -h prints the
// usage line(s) and then the flags.
func NewFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// Progress is where a tool reports progress: stderr, or nowhere with -q.
func Progress(quiet bool, stderr io.Writer) io.Writer {
	if quiet {
		return nil
	}
	return stderr
}

// OneInput refuses more than one input file, for tools that write one
// stream per input.
func OneInput(fs *flag.FlagSet) error {
	if fs.NArg() > 1 {
		return Usage("one input stream at a time (got %d files); run the tool once per file", fs.NArg())
	}
	return nil
}

// Prefixed is w with prefix before every write: a library's log lines
// (one write each) under the tool's name.
func Prefixed(w io.Writer, prefix string) io.Writer { return prefixWriter{w, prefix} }

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}
