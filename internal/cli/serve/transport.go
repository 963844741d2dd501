package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/rest"
)

// transport is one protocol a serve command runs over the shared stack.
// An HTTP transport sets mount: its routes go on the spine of the one HTTP
// listener (--addr), behind the shared middleware, /stats and /metrics. A
// transport with listeners of its own (gRPC) sets start. `serve all` is the
// list of every transport; `serve <protocol>` a list of one.
type transport struct {
	// name labels the listening line and errors ("rest server: ...").
	name string
	// limit are the path prefixes of the HTTP listener whose requests
	// --rate-limit applies to (mount transports).
	limit []string
	// mount puts the transport's routes on the HTTP listener's spine.
	mount func(sp *server.Spine, d server.Deps) error
	// start opens the transport's own listeners, prints their addresses
	// and returns what serves them until ctx ends.
	start func(ctx context.Context, out printer, d server.Deps) (server.Runner, error)
}

// printer prints a line to the command's stdout.
type printer func(format string, args ...any)

// restTransport is the REST API on the HTTP listener.
func restTransport(sf *ServerFlags) transport {
	return transport{
		name:  "rest",
		limit: []string{"/api/"},
		mount: func(sp *server.Spine, d server.Deps) error {
			d.Logger = d.Logger.With("server", "rest")
			rest.New(sp, d, rest.Options{MaxAge: sf.MaxAge, BodyLimit: sf.BodyLimit, MaxResponse: sf.MaxResponse})
			return nil
		},
	}
}

// serveSpec is what serveTransports runs.
type serveSpec struct {
	// flags are the shared server flags.
	flags *ServerFlags
	// io are the command's streams.
	io *iostreams.IOStreams
	// addr is the HTTP listener's --addr (used when a transport mounts).
	addr string
	// transports run in this order; errors are reported in this order.
	transports []transport
	// ready, when set, is called with the HTTP listener's URL ("" when no
	// transport mounts) once every listener is bound.
	ready func(httpURL string)
}

// serveTransports builds the stack, mounts the HTTP transports on one
// spine and listener, starts the others, serves until ctx is canceled (or
// one server fails), stops them all within --shutdown-timeout, then drains
// the stack.
func serveTransports(ctx context.Context, spec serveSpec) error {
	sf := spec.flags
	st, log, err := sf.StartStack(ctx, spec.io.ErrOut)
	if err != nil {
		return err
	}
	out := printer(printTo(spec.io.Out))
	d := st.Deps()
	d.Logger = log
	paceGC(sf, log)

	var runners []server.Named
	// stopStarted stops what already runs when a later listener fails.
	stopStarted := func() {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_ = server.RunAll(cctx, sf.ShutdownTimeout, runners...)
	}
	fail := func(err error) error {
		stopStarted()
		_ = sf.CloseStack(ctx, st, log, sf.ShutdownTimeout)
		return err
	}

	httpURL := ""
	if h, name, err := openHTTP(sf, st.Stats, d, log, spec); err != nil {
		return fail(err)
	} else if h != nil {
		runners = append(runners, server.Named{Name: name, Runner: h})
		httpURL = h.URL()
		out("loadrig %s listening on %s\n", name, httpURL)
	}
	for _, t := range spec.transports {
		if t.start == nil {
			continue
		}
		r, err := t.start(ctx, out, d)
		if err != nil {
			return fail(err)
		}
		runners = append(runners, server.Named{Name: t.name, Runner: r})
	}
	if spec.ready != nil {
		spec.ready(httpURL)
	}
	// One deadline for the whole stop: the servers get --shutdown-timeout
	// from the moment ctx ends, the drain what is left of it.
	var stopAt atomic.Int64
	stop := context.AfterFunc(ctx, func() { stopAt.Store(time.Now().UnixNano()) })
	defer stop()
	runErr := server.RunAll(ctx, sf.ShutdownTimeout, runners...)
	left := sf.ShutdownTimeout
	if at := stopAt.Load(); at != 0 {
		left -= time.Since(time.Unix(0, at))
	}
	closeErr := sf.CloseStack(ctx, st, log, left)
	if closeErr != nil {
		closeErr = fmt.Errorf("draining the server stack: %w", closeErr)
	}
	return errors.Join(runErr, closeErr)
}

// paceGC applies --gc-headroom unless the environment sets the garbage
// collector itself (GOGC, GOMEMLIMIT: the runtime already applied those).
func paceGC(sf *ServerFlags, log *slog.Logger) {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if sf.Getenv != nil && sf.Getenv(k) != "" {
			log.Debug("garbage collector paced by the environment; --gc-headroom not applied", "env", k)
			return
		}
	}
	if server.PaceGC(sf.GCHeadroom) {
		log.Debug("garbage collector headroom", "bytes", sf.GCHeadroom)
	}
}

// openHTTP mounts the HTTP transports of spec on one spine and binds the
// HTTP listener; nil when no transport mounts. The listener is named after
// the first HTTP transport.
func openHTTP(sf *ServerFlags, stats func() map[string]any, d server.Deps, log *slog.Logger, spec serveSpec) (*server.HTTP, string, error) {
	var limit []string
	name := ""
	for _, t := range spec.transports {
		if t.mount != nil {
			limit = append(limit, t.limit...)
			if name == "" {
				name = t.name
			}
		}
	}
	if name == "" {
		return nil, "", nil
	}
	conns := &server.ConnStats{}
	sp := server.NewSpine(server.SpineOptions{
		Logger: log.With("server", name), Limiter: d.Limiter, LimitPrefixes: limit,
		Stats: stats, Conns: conns, Pprof: sf.Pprof,
	})
	for _, t := range spec.transports {
		if t.mount != nil {
			if err := t.mount(sp, d); err != nil {
				return nil, "", err
			}
		}
	}
	h := server.NewHTTP(server.HTTPOptions{Name: name, Addr: spec.addr, Handler: sp, Logger: log, Conns: conns, MaxConns: sf.MaxConns})
	if err := h.Open(); err != nil {
		return nil, "", err
	}
	return h, name, nil
}
