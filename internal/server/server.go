package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultAddr is where servers listen when no address is given: loopback
// only, on a port the kernel picks.
const DefaultAddr = "127.0.0.1:0"

// Listen opens a TCP listener on addr. An empty addr means DefaultAddr, and
// an address without a host (":8080") binds 127.0.0.1 rather than every
// interface, so nothing is exposed beyond the machine unless a host is named.
func Listen(addr string) (net.Listener, error) {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// NormalizeAddr validates addr as HOST:PORT and fills in the defaults that
// Listen applies.
func NormalizeAddr(addr string) (string, error) {
	if addr == "" {
		return DefaultAddr, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q is not HOST:PORT (for example 127.0.0.1:8080)", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// HTTPOptions configures an HTTP server's lifecycle.
type HTTPOptions struct {
	// Name labels log lines, e.g. "rest". Default "http".
	Name string
	// Addr is HOST:PORT to bind. Default DefaultAddr (127.0.0.1:0).
	Addr string
	// Handler serves requests. Required.
	Handler http.Handler
	// Logger receives lifecycle logs and net/http's own error log. Default:
	// discard.
	Logger *slog.Logger
	// Conns receives connection accounting through ConnState. Default: a new
	// ConnStats, available from Conns().
	Conns *ConnStats
	// ReadHeaderTimeout bounds how long a client may take to send headers
	// (slowloris protection). Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. Default 2m.
	IdleTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included. Default
	// DefaultReadTimeout (30s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. A long-lived response (SSE,
	// a long poll) or a hijacked connection clears it itself with
	// http.NewResponseController(w).SetWriteDeadline(time.Time{}).
	// Default DefaultWriteTimeout (60s).
	WriteTimeout time.Duration
	// MaxHeaderBytes caps request headers; past it net/http answers 431.
	// Default DefaultMaxHeaderBytes (64 KiB).
	MaxHeaderBytes int
	// MaxConns caps open connections: at the cap a new connection gets a
	// 503 and is closed. Default DefaultMaxConns (10,000); negative: no
	// cap.
	MaxConns int
}

// Defaults of HTTPOptions: every HTTP server is bounded in time, header
// size and connections.
const (
	DefaultReadTimeout    = 30 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxConns       = 10_000
)

// HTTP is an HTTP server with an explicit lifecycle: Open binds and starts
// serving, URL reports the real address (so :0 works), Shutdown drains within
// a deadline, Close stops at once.
type HTTP struct {
	opts  HTTPOptions
	srv   *http.Server
	ln    net.Listener
	conns *ConnStats

	done    chan struct{}
	mu      sync.Mutex // guards srv, ln, serveEr
	serveEr error
}

// NewHTTP returns an unopened server.
func NewHTTP(opts HTTPOptions) *HTTP {
	if opts.Name == "" {
		opts.Name = "http"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Conns == nil {
		opts.Conns = &ConnStats{}
	}
	if opts.ReadHeaderTimeout == 0 {
		opts.ReadHeaderTimeout = 10 * time.Second
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxHeaderBytes == 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = DefaultMaxConns
	}
	return &HTTP{opts: opts, conns: opts.Conns, done: make(chan struct{})}
}

// Open binds the address and starts serving in the background.
func (s *HTTP) Open() error {
	if s.opts.Handler == nil {
		return errors.New("server: HTTPOptions.Handler is nil")
	}
	ln, err := Listen(s.opts.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve starts serving on an already open listener (tests pass one from
// httptest or a bufconn-like transport). The server owns ln afterwards.
func (s *HTTP) Serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("server: already open")
	}
	s.ln = ln
	cl := &capListener{Listener: ln, max: int64(s.opts.MaxConns), stats: s.conns, log: s.opts.Logger}
	cl.watch.tick = watchTick(min(s.opts.ReadHeaderTimeout, s.opts.ReadTimeout, s.opts.WriteTimeout, s.opts.IdleTimeout))
	ln = cl
	s.srv = &http.Server{
		Handler:           s.opts.Handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		IdleTimeout:       s.opts.IdleTimeout,
		ConnState:         s.conns.ConnState,
		ConnContext:       ConnScope,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	srv := s.srv
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.mu.Lock()
		s.serveEr = err
		s.mu.Unlock()
		close(s.done)
	}()
	s.opts.Logger.Info("listening", "server", s.opts.Name, "url", "http://"+ln.Addr().String())
	return nil
}

// Addr is the bound address; nil before Open.
func (s *HTTP) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL is the base URL of the running server, e.g. http://127.0.0.1:43121.
func (s *HTTP) URL() string {
	a := s.Addr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

func (s *HTTP) server() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Conns is the server's connection accounting.
func (s *HTTP) Conns() *ConnStats { return s.conns }

// Done is closed when the server has stopped serving.
func (s *HTTP) Done() <-chan struct{} { return s.done }

// Err is the error that stopped serving (nil after a clean shutdown). Valid
// once Done is closed.
func (s *HTTP) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveEr
}

// Shutdown stops accepting connections and waits for in-flight requests to
// finish. When ctx ends first, the remaining connections are closed
// forcibly and ctx's error is returned.
func (s *HTTP) Shutdown(ctx context.Context) error {
	srv := s.server()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		s.opts.Logger.Warn("shutdown deadline passed; closing connections", "server", s.opts.Name, "err", err)
		_ = srv.Close()
	}
	<-s.done
	return err
}

// Close stops the server at once, dropping in-flight requests.
func (s *HTTP) Close() error {
	srv := s.server()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-s.done
	return err
}

// Run serves until ctx is done or serving fails, then shuts down gracefully
// within grace. It returns the serving error, or the shutdown error when the
// drain did not finish in time.
func (s *HTTP) Run(ctx context.Context, grace time.Duration) error {
	if s.server() == nil {
		if err := s.Open(); err != nil {
			return err
		}
	}
	select {
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
	}
	s.opts.Logger.Info("shutting down", "server", s.opts.Name, "grace", grace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return s.Shutdown(sctx)
}
