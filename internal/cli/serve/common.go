package serve

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
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

// printTo returns a Printf to w, the form startGRPC and openREST print the
// bound addresses through.
func printTo(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
}

// openREST builds the REST handler over st with the shared flags, binds
// addr and prints the bound URL through out, so `serve rest` and
// `serve all` start the same REST server. The caller runs it and, when
// openREST fails, closes the stack.
func openREST(out func(format string, args ...any), sf *ServerFlags, st *stack.Stack, log *slog.Logger, addr string) (*server.HTTP, error) {
	conns := &server.ConnStats{}
	h := rest.NewHandler(rest.Deps{
		Catalog: st.Catalog, Auth: st.Auth, Limiter: st.Limiter, Logger: log.With("server", "rest"),
		Stats: st.Stats, Conns: conns, Responses: st.Responses(), MaxAge: sf.MaxAge, BodyLimit: sf.BodyLimit, Pprof: sf.Pprof,
	})
	srv := server.NewHTTP(server.HTTPOptions{Name: "rest", Addr: addr, Handler: h, Logger: log, Conns: conns})
	if err := srv.Open(); err != nil {
		return nil, err
	}
	out("loadrig rest listening on %s\n", srv.URL())
	return srv, nil
}

// runError is the result of a one-server serve command: the server's error
// (named after it) if it failed, else the stack's drain error, else nil.
func runError(name string, runErr, closeErr error) error {
	if runErr != nil {
		return fmt.Errorf("%s server: %w", name, runErr)
	}
	if closeErr != nil {
		return fmt.Errorf("draining the server stack: %w", closeErr)
	}
	return nil
}
