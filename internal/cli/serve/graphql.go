package serve

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/gql"
)

// DefaultGraphQLAddr is where `serve graphql` listens by default.
const DefaultGraphQLAddr = "127.0.0.1:8082"

// GraphQLFlags are the flags of the GraphQL server beyond ServerFlags.
type GraphQLFlags struct {
	// DataLoader is --dataloader: on (relations through per-request
	// DataLoaders, one store call per level) or off (one store call per
	// parent: the N+1). Default on.
	DataLoader string
	// MaxDepth is --max-depth: deepest selection allowed; 0 means no limit.
	// Default 10.
	MaxDepth int
	// MaxComplexity is --max-complexity: most complexity allowed, list
	// fields weighted by first; 0 means no limit. Default 1000.
	MaxComplexity int
	// MaxTokens is --max-tokens: most parser tokens in a document; 0 means
	// no limit. Default 10000.
	MaxTokens int
	// APQ is --apq: where automatic persisted queries live: lru, redis or
	// off. Default lru.
	APQ string
	// APQTTL is --apq-ttl: lifetime of a persisted query in Redis. Default
	// 24h.
	APQTTL time.Duration
	// Origins is --origins: host patterns (e.g. app.example.com,
	// *.example.com) whose pages may open a WebSocket; the server's own
	// host always may. Default none.
	Origins []string
	// Dev is --dev: introspection, GraphiQL at /graphiql and WebSocket
	// handshakes from any Origin. Default false.
	Dev bool
}

func (g *GraphQLFlags) addFlags(fs *pflag.FlagSet) {
	g.addSharedFlags(fs)
	fs.StringSliceVar(&g.Origins, "origins", nil, "host patterns whose pages may open a WebSocket, e.g. app.example.com,*.example.com (own host always may)")
	fs.BoolVar(&g.Dev, "dev", false, "development mode: introspection, GraphiQL at /graphiql and WebSocket handshakes from any Origin (all off otherwise)")
}

// addSharedFlags registers the GraphQL flags but --origins and --dev, which
// `serve all` shares with the WebSocket server (AllRun copies them over).
func (g *GraphQLFlags) addSharedFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.DataLoader, "dataloader", "on", "relation reads: on (DataLoader, one batched store call per level) or off (one store call per parent: N+1)")
	fs.IntVar(&g.MaxDepth, "max-depth", gql.DefaultMaxDepth, "deepest selection allowed, fragments included (0: no limit)")
	fs.IntVar(&g.MaxComplexity, "max-complexity", gql.DefaultMaxComplexity, "most complexity allowed, list fields weighted by first (0: no limit)")
	fs.IntVar(&g.MaxTokens, "max-tokens", gql.DefaultMaxTokens, "most parser tokens in a query document (0: no limit)")
	fs.StringVar(&g.APQ, "apq", "lru", "automatic persisted queries: lru (in process), redis (shared, with --apq-ttl) or off")
	fs.DurationVar(&g.APQTTL, "apq-ttl", gql.DefaultAPQTTL, "lifetime of a persisted query in Redis (--apq redis)")
}

func (g *GraphQLFlags) validate() error {
	switch g.DataLoader {
	case "on", "off":
	default:
		return cmdutil.FlagErrorf("--dataloader %q: use on or off", g.DataLoader)
	}
	switch g.APQ {
	case "lru", "redis", "off":
	default:
		return cmdutil.FlagErrorf("--apq %q: use lru, redis or off", g.APQ)
	}
	switch {
	case g.MaxDepth < 0:
		return cmdutil.FlagErrorf("--max-depth must be >= 0 (0: no limit), got %d", g.MaxDepth)
	case g.MaxComplexity < 0:
		return cmdutil.FlagErrorf("--max-complexity must be >= 0 (0: no limit), got %d", g.MaxComplexity)
	case g.MaxTokens < 0:
		return cmdutil.FlagErrorf("--max-tokens must be >= 0 (0: no limit), got %d", g.MaxTokens)
	case g.APQTTL <= 0:
		return cmdutil.FlagErrorf("--apq-ttl must be > 0, got %v", g.APQTTL)
	}
	for _, o := range g.Origins {
		if strings.TrimSpace(o) == "" || strings.Contains(o, "://") {
			return cmdutil.FlagErrorf("--origins %q: give host patterns without a scheme, e.g. app.example.com or *.example.com", o)
		}
	}
	return nil
}

// noLimit maps a flag's 0 ("no limit") to the handler's negative.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// GraphQLOptions are the inputs of `loadrig serve graphql`.
type GraphQLOptions struct {
	// IO are the injected streams: the bound address goes to Out, logs to
	// ErrOut.
	IO *iostreams.IOStreams
	// Addr is --addr: HOST:PORT to bind. Default DefaultGraphQLAddr; port 0
	// picks a free port (the real one is printed).
	Addr string
	// GraphQLFlags are the GraphQL server's own flags.
	GraphQLFlags
	// ServerFlags are the shared server flags (cache, store, auth...).
	ServerFlags
	// Ready, when set, is called with the base URL once the server listens.
	Ready func(url string)
}

// NewCmdServeGraphQL returns `loadrig serve graphql`. runF replaces the run
// function in tests; nil runs GraphQLRun.
func NewCmdServeGraphQL(f *cmdutil.Factory, runF func(*GraphQLOptions) error) *cobra.Command {
	opts := &GraphQLOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "graphql",
		Short: "Run the GraphQL reference server",
		Long: `Run the GraphQL reference server over the same store and cache stack as serve
rest (the same flags): POST and GET /graphql, and GraphQL over WebSocket on
/graphql (graphql-transport-ws and the legacy graphql-ws) for subscriptions.

Queries product, products (first, after, category), user, order, me; relations
Product.reviews, Review.author, User.orders, Order.items, OrderItem.product;
mutations login, createOrder, updateProduct, addReview, deleteProduct;
subscriptions productUpdated, reviewAdded, orderUpdated. Writes, me and
orderUpdated need "Authorization: Bearer <token>" (over WebSocket, the
connection_init payload {"authorization": "Bearer <token>"}) from
login(email: "user1@example.com", password: "loadrig").

Every response carries extensions.loadrig: the store calls, rows and pool wait
the request cost, whether DataLoader was on, and its depth and complexity.
--dataloader off shows the N+1. /stats has a graphql object; /healthz, /metrics.`,
		Example: `  loadrig serve graphql --cache lru --dev       # GraphiQL at http://127.0.0.1:8082/graphiql

  curl -s 127.0.0.1:8082/graphql -H 'Content-Type: application/json' \
    -d '{"query": "{ product(id: 1) { name price reviews(first: 3) { rating author { name } } } }"}'

  # the N+1, counted: compare extensions.loadrig.store_calls
  loadrig serve graphql --dataloader off --store-pool 8 --store-latency 2ms`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateFlags(&opts.ServerFlags, nil, addrFlag{"--addr", opts.Addr}); err != nil {
				return err
			}
			if err := opts.GraphQLFlags.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return GraphQLRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultGraphQLAddr, "HOST:PORT to listen on (port 0: any free port; the bound address is printed)")
	opts.GraphQLFlags.addFlags(cmd.Flags())
	opts.ServerFlags.AddFlags(cmd.Flags())
	opts.ServerFlags.Getenv = f.Getenv
	return cmd
}

// GraphQLRun runs the GraphQL server until ctx is canceled, then shuts
// down gracefully: requests first, then the write-behind backlog.
func GraphQLRun(ctx context.Context, opts *GraphQLOptions) error {
	opts.Stack.NeedRedis = opts.Stack.NeedRedis || opts.APQ == "redis"
	return serveTransports(ctx, serveSpec{
		flags: &opts.ServerFlags, io: opts.IO, addr: opts.Addr,
		transports: []transport{graphqlTransport(&opts.ServerFlags, &opts.GraphQLFlags)},
		ready: func(url string) {
			if opts.Ready != nil {
				opts.Ready(url)
			}
		},
	})
}

// graphqlTransport is the GraphQL API (/graphql, and /graphiql with --dev)
// on the HTTP listener.
func graphqlTransport(sf *ServerFlags, gf *GraphQLFlags) transport {
	return transport{
		name:  "graphql",
		limit: []string{"/graphql"},
		mount: func(sp *server.Spine, d server.Deps) error {
			d.Logger = d.Logger.With("server", "graphql")
			o := gql.Options{
				DataLoader: gf.DataLoader == "on",
				MaxDepth:   noLimit(gf.MaxDepth), MaxComplexity: noLimit(gf.MaxComplexity), MaxTokens: noLimit(gf.MaxTokens),
				BodyLimit: sf.BodyLimit, Origins: gf.Origins, Dev: gf.Dev, AnyOrigin: gf.Dev,
			}
			switch gf.APQ {
			case "lru":
				o.APQ = gql.NewAPQLRU(gql.DefaultAPQSize)
			case "redis":
				if d.KV == nil {
					return errors.New("--apq redis: the server stack has no Redis")
				}
				o.APQ = gql.NewAPQStore(d.KV, d.KeyPrefix, gf.APQTTL)
			}
			gql.New(sp, d, o)
			return nil
		},
	}
}
