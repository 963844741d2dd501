package iostreams

import (
	"bytes"
	"io"

	"golang.org/x/term"
)

// IOStreams are the streams of one invocation.
type IOStreams struct {
	In     io.Reader // standard input
	Out    io.Writer // standard output: results, summaries, machine output
	ErrOut io.Writer // standard error: progress, warnings, errors

	// IsTTY is true when Out is a terminal. Live progress and colour depend
	// on it: a summary piped into a file stays plain.
	IsTTY bool
	// IsErrTTY is true when ErrOut is a terminal (progress is drawn there).
	IsErrTTY bool
	// ColorEnabled is true when Out is a terminal, NO_COLOR is unset and
	// TERM is not "dumb".
	ColorEnabled bool
}

// fder is what *os.File offers for terminal detection.
type fder interface{ Fd() uintptr }

func isTerminal(w any) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// System returns IOStreams over the given streams, detecting terminals on
// those that are files. getenv is consulted for NO_COLOR and TERM.
func System(in io.Reader, out, errOut io.Writer, getenv func(string) string) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut, IsTTY: isTerminal(out), IsErrTTY: isTerminal(errOut)}
	s.ColorEnabled = s.IsTTY && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	return s
}

// ShowProgress reports whether live progress may be drawn: both stdout and
// stderr are terminals. A run whose output is piped or redirected stays silent.
func (s *IOStreams) ShowProgress() bool { return s.IsTTY && s.IsErrTTY }

// Test returns IOStreams over in-memory buffers (not terminals), and the
// buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}
