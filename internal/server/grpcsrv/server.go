package grpcsrv

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/server"
)

// Defaults of Options.
const (
	// DefaultMaxRecvMsgSize is the largest request message accepted (4 MiB,
	// grpc-go's own default, stated explicitly so it is a visible choice).
	DefaultMaxRecvMsgSize = 4 << 20
	// DefaultMaxSendMsgSize is the largest response message sent (16 MiB:
	// room for a 1 MiB payload sweep with headroom).
	DefaultMaxSendMsgSize = 16 << 20
	// DefaultMaxPadBytes caps GetProductRequest.pad_bytes and
	// ListProductsRequest.pad_bytes (4 MiB).
	DefaultMaxPadBytes = 4 << 20
	// DefaultMaxConcurrentStreams caps the concurrent calls per
	// connection.
	DefaultMaxConcurrentStreams = 1000
	// DefaultMaxStreamMessages caps the messages per client stream.
	DefaultMaxStreamMessages = 1000
	// DefaultMaxWatchIDs caps the ids of one WatchPrices subscription.
	DefaultMaxWatchIDs = 1000
	// KeepaliveMinTime is the shortest client ping interval the server
	// tolerates before it answers with GOAWAY(too_many_pings). loadrig's own
	// client pings every 30 s at most (load/grpcdrv), well above it.
	KeepaliveMinTime = 10 * time.Second
)

// Options configures a Server.
type Options struct {
	// Addr is HOST:PORT Run binds when the server is not open yet. Default
	// server.DefaultAddr (127.0.0.1:0).
	Addr string
	// Catalog is the data stack (store, usually behind a cache strategy).
	// Required.
	Catalog domain.Catalog
	// Auth issues (Login) and verifies the bearer tokens writes need, from
	// "authorization: Bearer" metadata. Default: server.NewJWT with a
	// random per-process key.
	Auth server.Authenticator
	// Login checks email and password for the Login call. Default:
	// Catalog, when it implements domain.Authenticator.
	Login domain.Authenticator
	// Feed delivers price changes to WatchPrices. Default: a new feed of its
	// own (then only PriceTicker publishes to it); share one with the REST
	// server so its PATCHes reach gRPC watchers.
	Feed *domain.Feed
	// Logger receives lifecycle logs, and one debug line per call, all with
	// server=grpc. Default: discard.
	Logger *slog.Logger
	// Conns receives connection accounting from the stats.Handler. Default:
	// a new ConnStats, available from Conns().
	Conns *server.ConnStats
	// RequestIDs generates ids for calls that bring no valid x-request-id.
	// Default: server.NewRequestIDs().
	RequestIDs *server.RequestIDs
	// MaxRecvMsgSize is the largest request message accepted; larger ones
	// fail with ResourceExhausted. Default DefaultMaxRecvMsgSize (4 MiB).
	MaxRecvMsgSize int
	// MaxSendMsgSize is the largest response message. Default
	// DefaultMaxSendMsgSize (16 MiB).
	MaxSendMsgSize int
	// MaxPadBytes caps the pad_bytes a request may ask for; more is
	// InvalidArgument. Default DefaultMaxPadBytes (4 MiB).
	MaxPadBytes int
	// ListenerAccounting counts connections at the listener and calls in
	// the observe interceptors instead of through a grpc stats.Handler.
	// With a stats.Handler installed, grpc-go allocates and timestamps
	// about seven stats events per call (measured: +20 allocations, ~1.5
	// KB per unary call, client and server in one process); the listener
	// costs nothing per call, like the REST server's ConnState hook, which
	// matters when the two servers are compared. The per-message counts
	// ("messages", "bytes") exist only with the stats.Handler. Default
	// false: the stats.Handler.
	ListenerAccounting bool
	// Limiter limits ShopService calls per client IP, as the REST server
	// limits /api/ requests. Default nil: no limit.
	Limiter server.Limiter
	// ExtraStats adds sections to /stats (for example "store" and "cache"
	// from the stack). Default: none.
	ExtraStats func() map[string]any
	// MaxConcurrentStreams caps the concurrent calls of one connection.
	// Default DefaultMaxConcurrentStreams (1000).
	MaxConcurrentStreams uint32
	// MaxStreamMessages caps the messages a client may send on one stream
	// (UploadReviews reviews, WatchPrices subscription messages); past it
	// the call ends with ResourceExhausted. Default
	// DefaultMaxStreamMessages (1000).
	MaxStreamMessages int
	// MaxWatchIDs caps the product ids of one WatchPrices subscription;
	// past it the call ends with ResourceExhausted. Default
	// DefaultMaxWatchIDs (1000).
	MaxWatchIDs int
	// NoReflection turns server reflection off (ghz and grpcurl need it,
	// so it is on by default). Default false.
	NoReflection bool
	// ServerOptions are appended to the server's own grpc.ServerOptions
	// (for example TLS credentials). Default: none.
	ServerOptions []grpc.ServerOption
}

// Server is the reference gRPC server with an explicit lifecycle: Open (or
// Serve) binds and serves in the background, Addr reports the real address,
// Shutdown drains within a deadline, Close stops at once.
type Server struct {
	opts   Options
	gs     *grpc.Server
	health *health.Server
	acct   *accounting
	svc    *shopService
	lim    *limiter // nil without Options.Limiter
	recov  *recovery

	mu      sync.Mutex
	ln      net.Listener
	done    chan struct{}
	serveEr error
}

// New builds the server and registers the ShopService, reflection and
// health services. It does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Catalog == nil {
		return nil, errors.New("grpcsrv: Options.Catalog is nil")
	}
	if opts.Feed == nil {
		opts.Feed = domain.NewFeed()
	}
	if opts.Auth == nil {
		opts.Auth = server.NewJWT(server.JWTOptions{})
	}
	if opts.Login == nil {
		opts.Login, _ = opts.Catalog.(domain.Authenticator)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("server", "grpc")
	if opts.Conns == nil {
		opts.Conns = &server.ConnStats{}
	}
	if opts.RequestIDs == nil {
		opts.RequestIDs = server.NewRequestIDs()
	}
	if opts.MaxRecvMsgSize <= 0 {
		opts.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if opts.MaxSendMsgSize <= 0 {
		opts.MaxSendMsgSize = DefaultMaxSendMsgSize
	}
	if opts.MaxPadBytes <= 0 {
		opts.MaxPadBytes = DefaultMaxPadBytes
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if opts.MaxStreamMessages <= 0 {
		opts.MaxStreamMessages = DefaultMaxStreamMessages
	}
	if opts.MaxWatchIDs <= 0 {
		opts.MaxWatchIDs = DefaultMaxWatchIDs
	}
	s := &Server{opts: opts, done: make(chan struct{}), recov: &recovery{log: opts.Logger}}
	s.acct = newAccounting(opts.Conns, pb.ShopService_ServiceDesc, opts.ListenerAccounting)
	s.svc = &shopService{cat: opts.Catalog, feed: opts.Feed, maxPad: opts.MaxPadBytes, log: opts.Logger,
		maxMsgs: opts.MaxStreamMessages, maxIDs: opts.MaxWatchIDs, auth: opts.Auth, login: opts.Login}

	so := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(opts.MaxSendMsgSize),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    time.Minute,
			Timeout: 20 * time.Second,
		}),
	}
	if !opts.ListenerAccounting {
		so = append(so, grpc.StatsHandler(s.acct))
	}
	unary := []grpc.UnaryServerInterceptor{requestIDUnary(opts.RequestIDs), observeUnary(s.acct, opts.Logger)}
	stream := []grpc.StreamServerInterceptor{requestIDStream(opts.RequestIDs), observeStream(s.acct, opts.Logger)}
	if opts.Limiter != nil {
		s.lim = &limiter{l: opts.Limiter, log: opts.Logger}
		unary = append(unary, s.lim.unary)
		stream = append(stream, s.lim.stream)
	}
	unary = append(unary, cacheUnary(s.acct), s.recov.unary)
	stream = append(stream, cacheStream(s.acct), s.recov.stream)
	so = append(so, grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	s.gs = grpc.NewServer(append(so, opts.ServerOptions...)...)
	pb.RegisterShopServiceServer(s.gs, s.svc)
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.ShopService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s.gs, s.health)
	if !opts.NoReflection {
		reflection.Register(s.gs)
	}
	return s, nil
}

// GRPC is the underlying grpc.Server, for registering more services before
// serving.
func (s *Server) GRPC() *grpc.Server { return s.gs }

// Feed is the feed WatchPrices reads from.
func (s *Server) Feed() *domain.Feed { return s.opts.Feed }

// Conns is the server's connection accounting.
func (s *Server) Conns() *server.ConnStats { return s.opts.Conns }

// Open binds addr (default 127.0.0.1:0, see server.Listen) and serves in the
// background.
func (s *Server) Open(addr string) error {
	ln, err := server.Listen(addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on an open listener (for example a bufconn listener in tests)
// in the background. The server owns ln afterwards.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("grpcsrv: already serving")
	}
	s.ln = ln
	go func() {
		err := s.gs.Serve(countingListener{Listener: ln, a: s.acct})
		if errors.Is(err, grpc.ErrServerStopped) {
			err = nil
		}
		s.mu.Lock()
		s.serveEr = err
		s.mu.Unlock()
		close(s.done)
	}()
	s.opts.Logger.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the bound address; nil before Open or Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Done is closed when the server has stopped serving.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the error that stopped serving (nil after a clean stop). Valid
// once Done is closed.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveEr
}

func (s *Server) serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln != nil
}

// Shutdown marks the health service NOT_SERVING, stops accepting new calls
// and waits for running ones (GracefulStop). When ctx ends first, the
// remaining calls and connections are cut (Stop) and ctx's error is
// returned. Long-lived streams such as WatchPrices end when Stop cancels
// them, so give the deadline the patience you want them to have.
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(stopped)
	}()
	var err error
	select {
	case <-stopped:
	case <-ctx.Done():
		err = ctx.Err()
		s.opts.Logger.Warn("shutdown deadline passed; stopping", "err", err)
		s.gs.Stop()
		<-stopped
	}
	if s.serving() {
		<-s.done
	}
	return err
}

// Close stops at once: every call is cancelled and every connection closed.
func (s *Server) Close() error {
	s.health.Shutdown()
	s.gs.Stop()
	if s.serving() {
		<-s.done
	}
	return nil
}

// Run serves until ctx is done or serving fails, then shuts down within
// grace (server.Runner). It opens Options.Addr first unless the server is
// already serving.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	if !s.serving() {
		if err := s.Open(s.opts.Addr); err != nil {
			return err
		}
	}
	select {
	case <-s.done:
		return s.Err()
	case <-ctx.Done():
	}
	s.opts.Logger.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return s.Shutdown(sctx)
}
