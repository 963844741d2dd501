package serve

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

// AllOptions are the inputs of `loadrig serve all`.
type AllOptions struct {
	// IO are the injected streams: bound addresses go to Out, logs to ErrOut.
	IO *iostreams.IOStreams
	// Addr is --addr: the REST listener. Default DefaultRESTAddr.
	Addr string
	// GRPCAddr is --grpc-addr: the gRPC listener. Default DefaultGRPCAddr.
	GRPCAddr string
	// GRPCFlags are --admin-addr (the gRPC admin listener; REST serves its
	// own /stats) and --price-ticker.
	GRPCFlags
	// GraphQLFlags are the GraphQL server's flags; it serves /graphql on
	// the REST listener.
	GraphQLFlags
	// ServerFlags are the shared server flags, applied to both servers.
	ServerFlags
	// WSFlags are the WebSocket server's flags (serve ws); its routes are
	// mounted on the REST listener.
	WSFlags
	// Ready, when set, is called once every listener is bound.
	Ready func(restURL, grpcAddr, adminURL string)
}

// NewCmdServeAll returns `loadrig serve all`. runF replaces the run function
// in tests; nil runs AllRun.
func NewCmdServeAll(f *cmdutil.Factory, runF func(*AllOptions) error) *cobra.Command {
	opts := &AllOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "all",
		Short: "Run the REST, GraphQL, WebSocket and gRPC reference servers over one shared store and cache",
		Long: `Run the REST server, the GraphQL server (/graphql), the WebSocket server's
routes (/ws/..., /api/events, SSE and pushes; see serve ws), all on the REST
listener, and the gRPC server in one process over ONE store and ONE cache
stack, so a comparison differs only in the protocol. A write through any of
them reaches GraphQL subscriptions and gRPC WatchPrices streams alike (one
event broker). The flags are those of serve rest, plus --grpc-addr and the
gRPC-only --admin-addr and --price-ticker, the WebSocket flags of serve ws and
the GraphQL flags of serve graphql. --origins and --dev are ONE origin policy
for the one listener: both the WebSocket routes (/ws/...) and GraphQL over
WebSocket (/graphql) accept handshakes from the listed Origin hosts only (403
otherwise), or from any Origin with --dev, which also turns on GraphQL
introspection and GraphiQL.`,
		Example: `  loadrig serve all --cache lru
  # REST and GraphQL (/graphql) on 127.0.0.1:8080, gRPC on 127.0.0.1:9090,
  # gRPC admin on 127.0.0.1:9091`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateFlags(&opts.ServerFlags, &opts.GRPCFlags,
				addrFlag{"--addr", opts.Addr}, addrFlag{"--grpc-addr", opts.GRPCAddr}); err != nil {
				return err
			}
			if err := opts.WSFlags.validate(opts.Stack.RedisURL); err != nil {
				return err
			}
			if err := opts.GraphQLFlags.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return AllRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultRESTAddr, "HOST:PORT of the REST server (port 0: any free port; the bound address is printed)")
	cmd.Flags().StringVar(&opts.GRPCAddr, "grpc-addr", DefaultGRPCAddr, "HOST:PORT of the gRPC server")
	opts.GRPCFlags.addFlags(cmd.Flags())
	opts.WSFlags.addFlags(cmd.Flags())
	opts.GraphQLFlags.addSharedFlags(cmd.Flags())
	// One listener, one origin policy: the WebSocket server's --origins and
	// --dev govern /graphql's WebSocket too (AllRun copies them).
	cmd.Flags().Lookup("origins").Usage = "Origin host patterns browsers may open WebSockets from, on /ws/... and /graphql alike, e.g. app.example.com,*.example.com (others: 403)"
	cmd.Flags().Lookup("dev").Usage = "development mode: WebSocket handshakes from any Origin (/ws/... and /graphql), GraphQL introspection and GraphiQL at /graphiql"
	opts.ServerFlags.AddFlags(cmd.Flags())
	opts.ServerFlags.Getenv = f.Getenv
	return cmd
}

// AllRun runs every transport until ctx is canceled (or one of them
// fails), then stops them all gracefully and drains the shared stack.
func AllRun(ctx context.Context, opts *AllOptions) error {
	var g *grpcStack
	opts.Stack.NeedRedis = opts.Stack.NeedRedis || opts.APQ == "redis"
	opts.GraphQLFlags.Origins, opts.GraphQLFlags.Dev = opts.WSFlags.Origins, opts.WSFlags.Dev
	return serveTransports(ctx, serveSpec{
		flags: &opts.ServerFlags, io: opts.IO, addr: opts.Addr,
		// The list of transports: an HTTP transport mounts on the --addr
		// listener (one line each), the others open their own.
		transports: []transport{
			restTransport(&opts.ServerFlags),
			graphqlTransport(&opts.ServerFlags, &opts.GraphQLFlags),
			grpcTransport(&opts.ServerFlags, &opts.GRPCFlags, opts.GRPCAddr, &g),
			wsTransport(&opts.ServerFlags, &opts.WSFlags, false),
		},
		ready: func(url string) {
			if opts.Ready != nil {
				opts.Ready(url, g.srv.Addr().String(), g.adminURL())
			}
		},
	})
}
