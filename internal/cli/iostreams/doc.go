// Package iostreams carries a command's standard streams and what is known
// about them (is stdout a terminal, may we use colour), so commands never
// touch os.Stdout directly and tests run them against buffers
// (iostreams.Test). Terminal detection uses golang.org/x/term.
package iostreams
