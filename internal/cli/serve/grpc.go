package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
)

// Default addresses of the gRPC server and its admin HTTP listener.
const (
	DefaultGRPCAddr  = "127.0.0.1:9090"
	DefaultAdminAddr = "127.0.0.1:9091"
)

// GRPCFlags are the flags of the gRPC server beyond ServerFlags, shared by
// `serve grpc` and `serve all`.
type GRPCFlags struct {
	// AdminAddr is --admin-addr: HOST:PORT of the admin HTTP listener
	// (/stats, /metrics, /healthz, and /debug/pprof with --pprof). Default
	// DefaultAdminAddr; "off" disables it.
	AdminAddr string
	// PriceTicker is --price-ticker: change a random product's price this
	// often, so WatchPrices streams have something to push. Default 0: off.
	PriceTicker time.Duration
	// Accounting is --grpc-accounting: stats-handler (connections, calls,
	// messages and payload bytes through a grpc stats.Handler) or listener
	// (connections at the listener, no per-call cost). Default
	// stats-handler.
	Accounting string
	// Reflection is --reflection: serve gRPC server reflection (ghz and
	// grpcurl need it). Default true.
	Reflection bool
}

func (g *GRPCFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.AdminAddr, "admin-addr", DefaultAdminAddr, `HOST:PORT of the gRPC server's admin HTTP listener (/stats, /metrics, /healthz); "off" disables it`)
	fs.DurationVar(&g.PriceTicker, "price-ticker", 0, "change a random product's price this often, pushed to WatchPrices streams (0: off)")
	fs.BoolVar(&g.Reflection, "reflection", true, "serve gRPC server reflection (ghz and grpcurl need it); --reflection=false turns it off")
	fs.StringVar(&g.Accounting, "grpc-accounting", "stats-handler", "gRPC connection and call accounting: stats-handler (also counts messages) or listener (no per-call cost)")
}

func (g *GRPCFlags) validate() error {
	if g.AdminAddr != "off" {
		if _, err := server.NormalizeAddr(g.AdminAddr); err != nil {
			return cmdutil.FlagErrorf("--admin-addr: %v", err)
		}
	}
	if g.Accounting != "stats-handler" && g.Accounting != "listener" {
		return cmdutil.FlagErrorf("--grpc-accounting %q: use stats-handler or listener", g.Accounting)
	}
	if g.PriceTicker < 0 {
		return cmdutil.FlagErrorf("--price-ticker must not be negative (got %v)", g.PriceTicker)
	}
	return nil
}

// GRPCOptions are the inputs of `loadrig serve grpc`.
type GRPCOptions struct {
	// IO are the injected streams: bound addresses go to Out, logs to ErrOut.
	IO *iostreams.IOStreams
	// Addr is --addr: HOST:PORT of the gRPC listener. Default
	// DefaultGRPCAddr; port 0 picks a free port (the real one is printed).
	Addr string
	// GRPCFlags are --admin-addr and --price-ticker.
	GRPCFlags
	// ServerFlags are the shared server flags; --body-limit is the gRPC
	// maximum receive message size.
	ServerFlags
	// Ready, when set, is called with the bound gRPC address and the admin
	// URL ("" when off) once both listen.
	Ready func(addr, adminURL string)
}

// NewCmdServeGRPC returns `loadrig serve grpc`. runF replaces the run
// function in tests; nil runs GRPCRun.
func NewCmdServeGRPC(f *cmdutil.Factory, runF func(*GRPCOptions) error) *cobra.Command {
	opts := &GRPCOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "grpc",
		Short: "Run the gRPC reference server",
		Long: `Run the gRPC reference server, loadrig.v1.ShopService, over the same store and
cache stack as serve rest (the same flags):

  GetProduct     unary            one product (pad_bytes adds filler for payload sweeps)
  ListProducts   server streaming one message per product of a page
  UploadReviews  client streaming many reviews in, one summary out
  WatchPrices    bidi streaming   subscribe to product ids, receive price changes

Streamed messages carry a sent_at timestamp; WatchPrices acknowledges each
subscription message and echoes its sent_at, so per-message latency can be
measured. Server reflection (v1 and v1alpha) and grpc.health.v1 are on, so
grpcurl, ghz and grpc-health-probe work unchanged; x-request-id is echoed and
x-cache reports the cache status in the response header metadata. --body-limit
is the largest request message (ResourceExhausted beyond it). /stats and
/metrics are on the admin HTTP listener (--admin-addr).`,
		Example: `  # LRU cache; gRPC on 127.0.0.1:9090, admin on 127.0.0.1:9091
  loadrig serve grpc --cache lru

  # something for WatchPrices to push: a price change every 10 ms
  loadrig serve grpc --price-ticker 10ms

  # then, in another terminal
  loadrig load grpc --plaintext --call loadrig.v1.ShopService/GetProduct \
    --data '{"id": {{zipf 1.1 1 1000}}}' --rate 1000 127.0.0.1:9090
  grpcurl -plaintext -d '{"id": 1}' 127.0.0.1:9090 loadrig.v1.ShopService/GetProduct`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateFlags(&opts.ServerFlags, &opts.GRPCFlags, addrFlag{"--addr", opts.Addr}); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return GRPCRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultGRPCAddr, "HOST:PORT to listen on (port 0: any free port; the bound address is printed)")
	opts.GRPCFlags.addFlags(cmd.Flags())
	opts.ServerFlags.AddFlags(cmd.Flags())
	opts.ServerFlags.Getenv = f.Getenv
	return cmd
}

// grpcStack is a running gRPC server and its admin listener.
type grpcStack struct {
	srv   *grpcsrv.Server
	admin *server.HTTP // nil when off
}

// grpcTransport is the gRPC server on its own listener (addr), with its
// admin listener; started is set to it once it listens.
func grpcTransport(sf *ServerFlags, gf *GRPCFlags, addr string, started **grpcStack) transport {
	return transport{
		name: "grpc",
		start: func(ctx context.Context, out printer, d server.Deps) (server.Runner, error) {
			g, err := startGRPC(ctx, out, d, sf, gf, addr)
			if err != nil {
				return nil, err
			}
			*started = g
			return g, nil
		},
	}
}

// startGRPC builds the gRPC server over the shared deps, binds addr and the
// admin listener, prints both addresses and starts the price ticker.
func startGRPC(ctx context.Context, out printer, d server.Deps, sf *ServerFlags, gf *GRPCFlags, addr string) (*grpcStack, error) {
	log := d.Logger
	srv, err := grpcsrv.New(grpcsrv.Options{
		Catalog:        d.Catalog,
		Auth:           d.Auth,
		Login:          d.Login,
		Feed:           d.Feed,
		Logger:         log,
		Limiter:        d.Limiter,
		MaxRecvMsgSize: int(min(sf.BodyLimit, 1<<30)),
		ExtraStats:     d.Stats,

		ListenerAccounting: gf.Accounting == "listener",
		NoReflection:       !gf.Reflection,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Open(addr); err != nil {
		return nil, err
	}
	g := &grpcStack{srv: srv}
	out("loadrig grpc listening on %s\n", srv.Addr())
	if gf.AdminAddr != "off" {
		var h http.Handler = srv.AdminHandler()
		if sf.Pprof {
			// Never /debug/pprof/cmdline: the command line may carry
			// secrets.
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			mux.Handle("/", h)
			h = mux
		}
		g.admin = server.NewHTTP(server.HTTPOptions{Name: "grpc-admin", Addr: gf.AdminAddr, Handler: h, Logger: log})
		if err := g.admin.Open(); err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("--admin-addr: %w", err)
		}
		out("loadrig grpc admin listening on %s\n", g.admin.URL())
	}
	if gf.PriceTicker > 0 {
		go func() {
			// The stack's cache layer publishes every acknowledged update
			// to the feed, so the ticker does not publish itself.
			if err := grpcsrv.PriceTicker(ctx, d.Catalog, nil, gf.PriceTicker, uint64(sf.Stack.Seed), log); err != nil {
				log.Error("price ticker stopped", "err", err)
			}
		}()
	}
	return g, nil
}

func (g *grpcStack) adminURL() string {
	if g.admin == nil {
		return ""
	}
	return g.admin.URL()
}

// Run serves until ctx is done, then stops gracefully within grace (one
// deadline for both): the gRPC server (GracefulStop, then Stop at the
// deadline) and the admin listener at once (server.Runner).
func (g *grpcStack) Run(ctx context.Context, grace time.Duration) error {
	select {
	case <-g.srv.Done():
		err := g.srv.Err()
		if g.admin != nil {
			_ = g.admin.Close()
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	var aerr error
	adminDone := make(chan struct{})
	go func() {
		defer close(adminDone)
		if g.admin != nil {
			aerr = g.admin.Shutdown(sctx)
		}
	}()
	err := g.srv.Shutdown(sctx)
	<-adminDone
	if errors.Is(err, context.DeadlineExceeded) {
		// Long-lived streams (WatchPrices) were cut at the deadline: that
		// is the designed end of a graceful stop, not a failure.
		err = nil
	}
	if err == nil {
		err = aerr
	}
	return err
}

// GRPCRun runs the gRPC server until ctx is canceled, then shuts down
// gracefully: calls first, then the write-behind backlog.
func GRPCRun(ctx context.Context, opts *GRPCOptions) error {
	var g *grpcStack
	return serveTransports(ctx, serveSpec{
		flags: &opts.ServerFlags, io: opts.IO,
		transports: []transport{grpcTransport(&opts.ServerFlags, &opts.GRPCFlags, opts.Addr, &g)},
		ready: func(string) {
			if opts.Ready != nil {
				opts.Ready(g.srv.Addr().String(), g.adminURL())
			}
		},
	})
}
