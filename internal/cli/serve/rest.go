package serve

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

// DefaultRESTAddr is where `serve rest` listens by default.
const DefaultRESTAddr = "127.0.0.1:8080"

// RESTOptions are the inputs of `loadrig serve rest`.
type RESTOptions struct {
	// IO are the injected streams: the bound address goes to Out, logs to
	// ErrOut.
	IO *iostreams.IOStreams
	// Addr is --addr: HOST:PORT to bind. Default DefaultRESTAddr; port 0
	// picks a free port (the real one is printed).
	Addr string
	// ServerFlags are the shared server flags.
	ServerFlags
	// Ready, when set, is called with the base URL once the server is
	// listening (tests use it instead of parsing stdout).
	Ready func(url string)
}

// NewCmdServeREST returns `loadrig serve rest`. runF replaces the run
// function in tests; nil runs RESTRun.
func NewCmdServeREST(f *cmdutil.Factory, runF func(*RESTOptions) error) *cobra.Command {
	opts := &RESTOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "rest",
		Short: "Run the REST reference server",
		Long: `Run the REST reference server: JSON over HTTP with strong ETags, conditional
GETs answered without a store read when the cache knows the version,
X-Cache and X-Request-ID on every response, /healthz, /stats, /metrics.

Routes: GET /api/products (offset, limit, category), GET /api/products/{id},
GET /api/products/{id}/reviews, GET /api/users/{id}, GET /api/users/{id}/orders,
GET /api/orders/{id}, POST /api/orders, PATCH /api/products/{id},
DELETE /api/products/{id}, POST /api/login. Writes need
"Authorization: Bearer <token>" from POST /api/login
({"email": "user1@example.com", "password": "loadrig"}).`,
		Example: `  # an LRU cache in front of a store that costs 2ms per call
  loadrig serve rest --cache lru

  # Redis write-behind on a free port; redis-server is started for you
  loadrig serve rest --addr 127.0.0.1:0 --cache redis --strategy write-behind

  # a real database: a SQLite file (seeded when new), or Postgres
  loadrig serve rest --store sqlite:./shop.db
  loadrig serve rest --store 'postgres://app@127.0.0.1:5432/shop?sslmode=disable'

  # then, in another terminal
  loadrig load http --rate 500 -d 10s 'http://127.0.0.1:8080/api/products/{{zipf 1.1 1 1000}}'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateFlags(&opts.ServerFlags, nil, addrFlag{"--addr", opts.Addr}); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return RESTRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultRESTAddr, "HOST:PORT to listen on (port 0: any free port; the bound address is printed)")
	opts.ServerFlags.AddFlags(cmd.Flags())
	opts.ServerFlags.Getenv = f.Getenv
	return cmd
}

// RESTRun runs the REST server until ctx is canceled, then shuts down
// gracefully: requests first, then the write-behind backlog.
func RESTRun(ctx context.Context, opts *RESTOptions) error {
	return serveTransports(ctx, serveSpec{
		flags: &opts.ServerFlags, io: opts.IO, addr: opts.Addr,
		transports: []transport{restTransport(&opts.ServerFlags)},
		ready: func(url string) {
			if opts.Ready != nil {
				opts.Ready(url)
			}
		},
	})
}
