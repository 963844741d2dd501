package serve

import (
	"fmt"
	"io"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/server"
)

// addrFlag is a HOST:PORT flag to check: its name, as the error says it,
// and its value.
type addrFlag struct{ name, value string }

// validateFlags checks a serve command's flags as usage errors (exit 2), in
// the order every serve command reports them: the shared server flags, then
// each listen address, then the gRPC flags (gf nil: the command has none).
// Commands differ only in which addresses and flag groups they have.
func validateFlags(sf *ServerFlags, gf *GRPCFlags, addrs ...addrFlag) error {
	if err := sf.Validate(); err != nil {
		return err
	}
	for _, a := range addrs {
		if _, err := server.NormalizeAddr(a.value); err != nil {
			return cmdutil.FlagErrorf("%s: %v", a.name, err)
		}
	}
	if gf != nil {
		return gf.validate()
	}
	return nil
}

// printTo returns a Printf to w, the form the transports print their
// bound addresses through.
func printTo(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
}
