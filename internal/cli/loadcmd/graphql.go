package loadcmd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/gqldrv"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/spf13/cobra"
)

// GraphQLOptions are the inputs of `loadrig load graphql`.
type GraphQLOptions struct {
	IO          *iostreams.IOStreams // injected streams
	ToolVersion string               // injected: the build, for the result file
	Runner      Runner               // injected engine; nil: load.Run

	Load LoadFlags // the shared engine and output flags

	URL              string   // the argument: the GraphQL endpoint, http(s):// (ws(s):// accepted)
	Query            string   // --query: the document, or @FILE; required
	Variables        string   // --variables: JSON object template, or @FILE; default none
	OperationName    string   // --operation-name: the operation of a document with several; default none
	Mix              string   // --mix: Name=weight,... ; default none
	GET              bool     // --get: queries as GET; default false (POST)
	APQ              bool     // --apq: automatic persisted queries; default false
	Headers          []string // -H/--header "Name: value", repeatable; values are templates
	Connections      int      // --connections: shared connection pool cap; default 0: one per worker
	Insecure         bool     // --insecure: skip TLS verification; default false
	HTTP2            bool     // --http2: HTTP/2; default false
	NetHTTP          bool     // --net-http: net/http instead of the fast path; default false
	Data             string   // --data: CSV or JSONL rows for {{.Row.field}}; default none
	DataMode         string   // --data-mode: round-robin (default) or random
	Seed             uint64   // --seed: template RNG seed; default 0
	Subscribers      int      // --subscribers: subscription sessions; default 1 for a subscription
	Ramp             float64  // --ramp: subscribers connecting per second; default 0: all at once
	WSProtocol       string   // --ws-protocol: graphql-transport-ws (default) or graphql-ws
	ConnectionParams string   // --connection-params: connection_init payload JSON; default none
	Publish          string   // --publish: a mutation published during the run, or @FILE; default none
	PublishVariables string   // --publish-variables: its variables template, or @FILE; default none
	PublishRate      float64  // --publish-rate: publishes per second; default 10
	TimestampField   string   // --timestamp-field: dot path in data of the emission time; default the first emittedAt
	ScrapeStats      bool     // --scrape-stats: put a loadrig server's /stats in the result; default true
	ScrapeStatsSet   bool     // --scrape-stats was given
}

// NewCmdGraphQL returns `loadrig load graphql URL`. runF replaces the run
// function in tests; nil runs graphqlRun.
func NewCmdGraphQL(f *cmdutil.Factory, runF func(*GraphQLOptions) error) *cobra.Command {
	opts := &GraphQLOptions{IO: f.IOStreams, ToolVersion: f.BuildInfo.String()}
	cmd := &cobra.Command{
		Use:   "graphql URL",
		Short: "Load a GraphQL endpoint (queries, mutations, subscriptions)",
		Long: `Load a GraphQL endpoint with the engine's open or closed model.

The document (--query, inline or @FILE) is parsed before the run; a document
with several named operations is sent one operation at a time, chosen with
--operation-name or mixed by weight with --mix A=70,B=30 (each operation gets
only the fragments it uses). --variables is a JSON object template rendered
per request like HTTP bodies: {{.Seq}}, {{randInt a b}}, {{zipf s v n}},
{{uuid}}, {{.Row.field}} from --data.

A response whose "errors" array is not empty counts as an error of kind
graphql_error even with HTTP 200 and data, and its errors are counted by
extensions.code; non-2xx statuses are errors as in 'load http'. The result
breaks latency down per operation (operations.<name>), and bytes are counted
on the wire both ways.

--apq sends automatic persisted queries: the SHA-256 hash alone, resent with
the query when the server answers PERSISTED_QUERY_NOT_FOUND (a miss, not an
error); hits, misses and request bytes saved are reported.

A subscription operation runs as --subscribers N sessions over WebSocket
(the same URL, upgraded), connecting at --ramp per second, each staying
subscribed until --duration after the first one started. Each event is timed
from the time the server stamped on it (--timestamp-field, default the first
emittedAt) to its arrival: this assumes client and server read one clock
(the same host). --publish runs a mutation at --publish-rate during the
window so there are events; the result reports the delivery ratio, drops,
connect time and close codes.`,
		Example: `  # one query at 500/s for 30 s
  loadrig load graphql --rate 500 -d 30s --query '{ product(id: 1) { name price } }' http://127.0.0.1:8080/graphql

  # two operations from a file, 70/30, with a Zipf-skewed id
  loadrig load graphql -c 20 --query @shop.graphql --mix Product=70,Products=30 \
    --variables '{"id": "{{zipf 1.1 1 1000}}"}' http://127.0.0.1:8080/graphql

  # automatic persisted queries over GET
  loadrig load graphql --rate 200 --get --apq --query @product.graphql http://127.0.0.1:8080/graphql

  # 200 subscribers, 50 connecting per second, events published 10 times a second
  loadrig load graphql -d 20s --subscribers 200 --ramp 50 \
    --query 'subscription { productUpdated(id: 1) { product { price } emittedAt } }' \
    --connection-params '{"authorization": "Bearer TOKEN"}' \
    --publish 'mutation { updateProduct(id: 1, input: {price: 10}) { id } }' --publish-rate 10 \
    http://127.0.0.1:8080/graphql`,
		Args: cmdutil.ExactArgs(1, "the GraphQL endpoint, e.g. loadrig load graphql --query '{ __typename }' http://127.0.0.1:8080/graphql"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			opts.ScrapeStatsSet = cmd.Flags().Changed("scrape-stats")
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return graphqlRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.Load.AddFlags(fl, f.Source)
	fl.StringVar(&opts.Query, "query", "", "the GraphQL document, or @FILE (may hold several named operations)")
	fl.StringVar(&opts.Variables, "variables", "", "variables: a JSON object template, or @FILE")
	fl.StringVar(&opts.OperationName, "operation-name", "", "the operation to send from a document with several")
	fl.StringVar(&opts.Mix, "mix", "", "mix named operations by weight, e.g. Product=70,Products=30")
	fl.BoolVar(&opts.GET, "get", false, "send queries as GET ?query=...&variables=... instead of POST")
	fl.BoolVar(&opts.APQ, "apq", false, "automatic persisted queries: send the hash, resend with the query on PERSISTED_QUERY_NOT_FOUND")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "request header 'Name: value' (repeatable; value is a template; sent on the WebSocket handshake too)")
	fl.IntVar(&opts.Connections, "connections", 0, "cap on open HTTP connections shared by all workers (default: one per worker)")
	fl.BoolVar(&opts.Insecure, "insecure", false, "skip TLS certificate verification")
	fl.BoolVar(&opts.HTTP2, "http2", false, "use HTTP/2 for queries and mutations")
	fl.BoolVar(&opts.NetHTTP, "net-http", false, "always use net/http, never the HTTP/1.1 fast path")
	fl.StringVar(&opts.Data, "data", "", "CSV (with header) or JSONL file of rows for {{.Row.field}}")
	fl.StringVar(&opts.DataMode, "data-mode", "round-robin", "how each request picks its data row: round-robin or random")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the template random generators")
	fl.IntVar(&opts.Subscribers, "subscribers", 0, "subscription: number of subscriber sessions (default 1)")
	fl.Float64Var(&opts.Ramp, "ramp", 0, "subscription: subscribers connecting per second (default: all at once)")
	fl.StringVar(&opts.WSProtocol, "ws-protocol", gqldrv.ProtoTransportWS, "subscription: graphql-transport-ws or graphql-ws (legacy)")
	fl.StringVar(&opts.ConnectionParams, "connection-params", "", "subscription: connection_init payload, a JSON object")
	fl.StringVar(&opts.Publish, "publish", "", "subscription: a mutation (or @FILE) sent during the run to make events")
	fl.StringVar(&opts.PublishVariables, "publish-variables", "", "subscription: the publish mutation's variables template, or @FILE")
	fl.Float64Var(&opts.PublishRate, "publish-rate", 10, "subscription: publish mutations per second")
	fl.StringVar(&opts.TimestampField, "timestamp-field", "", "subscription: dot path in data of the event's emission time (default: the first emittedAt)")
	fl.BoolVar(&opts.ScrapeStats, "scrape-stats", true, "after the run, keep a loopback loadrig server's /stats as the result's server section (given explicitly: any host)")
	_ = cmd.RegisterFlagCompletionFunc("ws-protocol", cobra.FixedCompletions([]string{gqldrv.ProtoTransportWS, gqldrv.ProtoLegacyWS}, cobra.ShellCompDirectiveNoFileComp))
	completeLoadFlags(cmd)
	return cmd
}

// validate checks what needs no files or network.
func (o *GraphQLOptions) validate(cmd *cobra.Command) error {
	if err := o.Load.Validate(); err != nil {
		return err
	}
	if o.Query == "" {
		return cmdutil.FlagErrorf("--query is required: a GraphQL document or @FILE, e.g. --query '{ product(id: 1) { name } }'")
	}
	scheme, _, ok := strings.Cut(o.URL, "://")
	switch strings.ToLower(scheme) {
	case "http", "https", "ws", "wss":
	default:
		if !ok {
			return cmdutil.FlagErrorf("target %q is not a URL; e.g. http://127.0.0.1:8080/graphql", o.URL)
		}
		return cmdutil.FlagErrorf("target %q: scheme %q is not http, https, ws or wss", o.URL, scheme)
	}
	if _, err := tmpl.ParseRowMode(o.DataMode); err != nil {
		return cmdutil.FlagErrorf("--data-mode %q: use round-robin or random", o.DataMode)
	}
	if o.Subscribers < 0 || o.Ramp < 0 || o.PublishRate <= 0 || o.Connections < 0 {
		return cmdutil.FlagErrorf("--subscribers, --ramp and --connections must not be negative and --publish-rate must be > 0")
	}
	return nil
}

// readAt returns s, or the file it names as @FILE.
func readAt(flag, s string) (string, error) {
	path, ok := strings.CutPrefix(s, "@")
	if !ok {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", cmdutil.FlagErrorf("--%s @%s: %v", flag, path, pathErr(err))
	}
	return string(b), nil
}

// driverOptions reads the files the flags name and builds the driver's
// options. Every failure is bad input.
func (o *GraphQLOptions) driverOptions() (gqldrv.Options, error) {
	dopts := gqldrv.Options{
		URL: o.URL, OperationName: o.OperationName, Mix: o.Mix, GET: o.GET, APQ: o.APQ,
		Subscribers: o.Subscribers, Ramp: o.Ramp, WSProtocol: o.WSProtocol, ConnectionParams: o.ConnectionParams,
		PublishRate: o.PublishRate, TimestampField: o.TimestampField,
		HTTP: httpdrv.Options{
			Headers: o.Headers, Connections: o.Connections, Insecure: o.Insecure, HTTP2: o.HTTP2,
			ForceNetHTTP: o.NetHTTP, Seed: o.Seed,
		},
	}
	var err error
	for _, f := range []struct {
		name string
		src  string
		dst  *string
	}{{"query", o.Query, &dopts.Query}, {"variables", o.Variables, &dopts.Variables},
		{"publish", o.Publish, &dopts.Publish}, {"publish-variables", o.PublishVariables, &dopts.PublishVariables}} {
		if *f.dst, err = readAt(f.name, f.src); err != nil {
			return dopts, err
		}
	}
	if dopts.HTTP.RowMode, err = tmpl.ParseRowMode(o.DataMode); err != nil {
		return dopts, cmdutil.FlagErrorf("--data-mode %q: use round-robin or random", o.DataMode)
	}
	if o.Data != "" {
		d, err := tmpl.LoadData(o.Data)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("--data %s: %v", o.Data, pathErr(err))
		}
		dopts.HTTP.Data = d
	}
	return dopts, nil
}

func graphqlRun(ctx context.Context, o *GraphQLOptions) error {
	dopts, err := o.driverOptions()
	if err != nil {
		return err
	}
	// The publisher stops --duration after the first subscriber started,
	// minus a drain; the sessions close at the run's end.
	dopts.Hold = o.Load.Duration
	drv, err := gqldrv.New(dopts)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	run := Run{IO: o.IO, Flags: &o.Load, Driver: drv, ToolVersion: o.ToolVersion, Runner: o.withStats(o.Runner),
		Workload: o.workloadName(drv.Subscription(), drv.OperationNames())}
	if drv.Subscription() {
		if err := o.subscriptionModel(); err != nil {
			drv.Close()
			return err
		}
		run.Adjust = func(cfg *load.Config) { subscriptionConfig(cfg, o, dopts) }
	}
	runErr := Execute(ctx, run)
	if cerr := drv.Close(); cerr != nil && runErr == nil {
		return fmt.Errorf("close driver: %w", cerr)
	}
	return runErr
}

// subscriptionModel rejects load-model flags a subscription run sets itself.
func (o *GraphQLOptions) subscriptionModel() error {
	for _, f := range []string{"rate", "stages", "concurrency", "requests", "think-time", "max-inflight", "warmup"} {
		if o.Load.set(f) {
			return cmdutil.FlagErrorf("--%s does not apply to a subscription: subscribers arrive with --subscribers N and --ramp R, and stay for --duration", f)
		}
	}
	if o.Load.Duration <= 0 {
		return cmdutil.FlagErrorf("a subscription run needs a positive --duration: how long subscribers stay")
	}
	if n := max(o.Subscribers, 1); o.Ramp > 0 && float64(n)/o.Ramp >= o.Load.Duration.Seconds() {
		return cmdutil.FlagErrorf("--subscribers %d at --ramp %g/s take %.1fs to connect, longer than --duration %v; raise --ramp or --duration", n, o.Ramp, float64(n)/o.Ramp, o.Load.Duration)
	}
	return nil
}

// subscriptionConfig makes each subscriber one held operation: N arrivals
// at the ramp (all at once: within 0.1 s), held until the run's planned end
// (--duration), when they unsubscribe and close normally (Op.Closing).
func subscriptionConfig(cfg *load.Config, o *GraphQLOptions, dopts gqldrv.Options) {
	n := max(o.Subscribers, 1)
	rate := o.Ramp
	if rate <= 0 {
		rate = float64(n) * 10
	}
	cfg.Rate, cfg.Arrivals, cfg.MaxInflight = rate, int64(n), n
	cfg.Concurrency, cfg.Requests, cfg.Stages, cfg.ThinkTime = 0, 0, nil, 0
	if dopts.ConnectTimeout > 0 {
		cfg.Timeout = dopts.ConnectTimeout // bounds the opening only (Op.Hold)
	}
}

// withStats is HTTPOptions.withStats for GraphQL: the scrape reads the
// endpoint's origin /stats.
func (o *GraphQLOptions) withStats(run Runner) Runner {
	h := &HTTPOptions{URL: o.URL, Insecure: o.Insecure, ScrapeStats: o.ScrapeStats, ScrapeStatsSet: o.ScrapeStatsSet}
	if strings.HasPrefix(o.URL, "ws") {
		h.URL = "http" + strings.TrimPrefix(o.URL, "ws")
	}
	return h.withStats(run)
}

// workloadName names a run without --name: how the operations go (POST,
// GET, or a subscription over WebSocket), the URL and the operations sent,
// e.g. "POST http://127.0.0.1:8081/graphql GetProduct,ListProducts".
func (o *GraphQLOptions) workloadName(subscription bool, ops []string) string {
	how := "POST"
	switch {
	case subscription:
		how = "SUBSCRIBE"
	case o.GET:
		how = "GET"
	}
	name := how + " " + o.URL
	if ops = slices.DeleteFunc(slices.Clone(ops), func(s string) bool { return s == "" }); len(ops) > 0 {
		name += " " + strings.Join(ops, ",")
	}
	return name
}
