package iostreams

import (
	"os"
	"testing"
)

func TestSystemNonTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := System(os.Stdin, f, f, func(string) string { return "" })
	if s.IsTTY || s.IsErrTTY || s.ColorEnabled || s.ShowProgress() {
		t.Fatalf("a regular file is not a terminal: %+v", s)
	}
}

func TestTestBuffers(t *testing.T) {
	s, _, out, errOut := Test()
	s.Out.Write([]byte("o"))
	s.ErrOut.Write([]byte("e"))
	if out.String() != "o" || errOut.String() != "e" || s.IsTTY {
		t.Fatalf("got %q %q %+v", out, errOut, s)
	}
}
