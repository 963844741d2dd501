package loadcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/spf13/cobra"
)

// HTTPOptions are the inputs of `loadrig load http`.
type HTTPOptions struct {
	IO          *iostreams.IOStreams // injected streams
	ToolVersion string               // injected: the build, for the result file
	Runner      Runner               // injected engine; nil: load.Run

	Load LoadFlags // the shared engine and output flags

	URL                string   // the argument: target URL (a template in path and query)
	Method             string   // -X/--method; default GET
	Headers            []string // -H/--header "Name: value", repeatable; values are templates
	Body               string   // --body: inline template, or @file to read it from a file; default none
	HTTP2              bool     // --http2: HTTP/2 (ALPN over TLS, h2c over plain HTTP); default false
	Connections        int      // --connections: shared connection pool cap; default 0: one per worker
	DisableKeepAlive   bool     // --disable-keepalive: a new connection per request; default false
	Insecure           bool     // --insecure: skip TLS verification; default false
	Proxy              string   // --proxy: http:// proxy URL; default none (environment proxies are ignored)
	NetHTTP            bool     // --net-http: always use net/http instead of the fast path; default false
	ExpectStatus       string   // --expect-status: e.g. 200,201-204,3xx; default: 2xx and 3xx succeed
	ExpectBodyContains string   // --expect-body-contains: text a successful body must contain; default none
	CacheHeader        string   // --cache-header: response header with the cache status; default X-Cache
	Data               string   // --data: CSV or JSONL file of rows for {{.Row.field}}; default none
	DataMode           string   // --data-mode: round-robin (default) or random
	Seed               uint64   // --seed: base seed of the template RNGs; default 0 (reproducible)
	Revalidate         bool     // --revalidate: each worker sends back the ETag/Last-Modified it last saw per URL; default false
	RevalidateShared   bool     // --revalidate-shared: with --revalidate, one cache for all workers; default false (one per worker)
	ScrapeStats        bool     // --scrape-stats: after the run, put a loadrig server's /stats in the result; default true
	// ScrapeStatsSet says --scrape-stats was given (flag, LOADRIG_* env or
	// config): then any host is scraped, else only a loopback one.
	ScrapeStatsSet bool
}

// NewCmdHTTP returns `loadrig load http URL`. runF replaces the run
// function in tests; nil runs httpRun.
func NewCmdHTTP(f *cmdutil.Factory, runF func(*HTTPOptions) error) *cobra.Command {
	opts := &HTTPOptions{IO: f.IOStreams, ToolVersion: f.BuildInfo.String()}
	cmd := &cobra.Command{
		Use:   "http URL",
		Short: "Load an HTTP endpoint",
		Long: `Load an HTTP endpoint and print a summary: throughput, latency percentiles
(with service time and schedule lag beside them in the open model), errors by
kind, connections, per-phase timings (dns, connect, tls, ttfb) and the cache
hit ratio read from a response header.

The URL path and query, header values and the body are templates evaluated
per request: {{.Seq}}, {{randInt a b}}, {{zipf s v n}}, {{uuid}}, and
{{.Row.field}} from a --data file.

Without --rate, --stages or --concurrency the run uses the closed model with
50 workers; without --duration, --requests or --stages it lasts 10s. A target
that cannot be reached is measured (errors of kind "refused"), not a failure.
After the run, when the target is on a loopback address and is a loadrig
server (its /stats answers with a redis_mode key), that /stats goes into the
result's server section and the summary. Other hosts get no extra request
unless --scrape-stats is given; --scrape-stats=false never asks.
Ctrl-C stops the run, prints and writes the partial result, and exits 130.`,
		Example: `  # open model: 1000 requests/s for 30 s, result saved
  loadrig load http --rate 1000 -d 30s -o result.json http://127.0.0.1:8080/hello

  # ramp up, hold, ramp down
  loadrig load http --stages 10s:0-2000,30s:2000,10s:2000-0 http://127.0.0.1:8080/hello

  # closed model: 20 workers, 5000 requests
  loadrig load http -c 20 -n 5000 http://127.0.0.1:8080/hello

  # POST a templated body with a Zipf-skewed product id
  loadrig load http --rate 200 -X POST -H 'Content-Type: application/json' \
    --body '{"id": {{zipf 1.1 1 10000}}}' http://127.0.0.1:8080/products

  # read URLs from data rows, expect 200 and a cache header
  loadrig load http --rate 500 --data users.csv --expect-status 200 \
    'http://127.0.0.1:8080/users/{{.Row.id}}'

  # clients that revalidate with ETags, like browsers (304s count as revalidated)
  loadrig load http --rate 500 --revalidate 'http://127.0.0.1:8080/api/products/{{zipf 1.1 1 1000}}'`,
		Args: cmdutil.ExactArgs(1, "the target URL, e.g. loadrig load http http://127.0.0.1:8080/"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			opts.ScrapeStatsSet = cmd.Flags().Changed("scrape-stats")
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return httpRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.Load.AddFlags(fl, f.Source)
	fl.StringVarP(&opts.Method, "method", "X", "GET", "request method")
	fl.StringArrayVarP(&opts.Headers, "header", "H", nil, "request header 'Name: value' (repeatable; value is a template)")
	fl.StringVar(&opts.Body, "body", "", "request body (a template), or @FILE to read it from FILE")
	fl.BoolVar(&opts.HTTP2, "http2", false, "use HTTP/2: ALPN h2 over TLS, prior-knowledge h2c over http://")
	fl.IntVar(&opts.Connections, "connections", 0, "cap on open connections shared by all workers (default: one per worker)")
	fl.BoolVar(&opts.DisableKeepAlive, "disable-keepalive", false, "open a new connection for every request")
	fl.BoolVar(&opts.Insecure, "insecure", false, "skip TLS certificate verification")
	fl.StringVar(&opts.Proxy, "proxy", "", "send requests through this http:// proxy (HTTP_PROXY is ignored)")
	fl.BoolVar(&opts.NetHTTP, "net-http", false, "always use net/http, never the HTTP/1.1 fast path (to compare the two)")
	fl.StringVar(&opts.ExpectStatus, "expect-status", "", "statuses that count as success, e.g. 200,201-204,3xx (default: 2xx and 3xx)")
	fl.StringVar(&opts.ExpectBodyContains, "expect-body-contains", "", "a successful response's body must contain this text (else check_failed)")
	fl.StringVar(&opts.CacheHeader, "cache-header", "X-Cache", "response header carrying the cache status (CF-Cache-Status and Age are also read)")
	fl.StringVar(&opts.Data, "data", "", "CSV (with header) or JSONL file of rows for {{.Row.field}}")
	fl.StringVar(&opts.DataMode, "data-mode", "round-robin", "how each request picks its data row: round-robin or random")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the template random generators (same seed, same values)")
	fl.BoolVar(&opts.Revalidate, "revalidate", false, "like a browser cache: each worker remembers the ETag and Last-Modified of every URL's last 200 and sends If-None-Match / If-Modified-Since (GET and HEAD)")
	fl.BoolVar(&opts.RevalidateShared, "revalidate-shared", false, "with --revalidate: one validator cache for all workers (like a revalidating proxy) instead of one per worker (like browsers)")
	fl.BoolVar(&opts.ScrapeStats, "scrape-stats", true, "after the run (not before: no deltas; skipped when interrupted), read the target's /stats (2s timeout) and, when it is a loadrig server's, keep it as the result's server section; by default only for a loopback target, given explicitly for any host")
	completeLoadFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("data-mode", cobra.FixedCompletions([]string{"round-robin", "random"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// validate checks what can be checked without touching the network or
// files: flags and the URL's shape.
func (o *HTTPOptions) validate() error {
	if err := o.Load.Validate(); err != nil {
		return err
	}
	if err := checkURL(o.URL); err != nil {
		return err
	}
	if o.Connections < 0 {
		return cmdutil.FlagErrorf("--connections must not be negative, got %d", o.Connections)
	}
	if m := strings.ToUpper(strings.TrimSpace(o.Method)); o.Revalidate && m != "GET" && m != "HEAD" && m != "" {
		return cmdutil.FlagErrorf("--revalidate applies to GET and HEAD, not %s; drop --revalidate or use -X GET", m)
	}
	if o.RevalidateShared && !o.Revalidate {
		return cmdutil.FlagErrorf("--revalidate-shared only chooses how --revalidate caches; add --revalidate")
	}
	if _, err := tmpl.ParseRowMode(o.DataMode); err != nil {
		return cmdutil.FlagErrorf("--data-mode %q: use round-robin or random", o.DataMode)
	}
	if o.ExpectStatus != "" {
		if _, err := httpdrv.ParseExpectStatus(o.ExpectStatus); err != nil {
			return cmdutil.FlagErrorf("--expect-status: %v", err)
		}
	}
	for _, h := range o.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return cmdutil.FlagErrorf("-H %q: a header is 'Name: value', e.g. -H 'Accept: application/json'", h)
		}
	}
	return nil
}

// checkURL rejects what is certainly not an HTTP target, with a hint. The
// driver checks the rest (the path may be a template).
func checkURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return cmdutil.FlagErrorf("target %q is not a URL; give scheme and host, e.g. http://%s", raw, raw)
	}
	if scheme != "http" && scheme != "https" {
		return cmdutil.FlagErrorf("target %q: scheme %q is not http or https", raw, scheme)
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if host == "" {
		return cmdutil.FlagErrorf("target %q has no host; e.g. %s://127.0.0.1:8080/", raw, scheme)
	}
	if strings.Contains(host, "{{") {
		return cmdutil.FlagErrorf("target %q: templates are allowed in the path and query, not in the host", raw)
	}
	return nil
}

// driverOptions reads the files the flags name and builds the driver's
// options. Every failure is bad input.
func (o *HTTPOptions) driverOptions() (httpdrv.Options, error) {
	dopts := httpdrv.Options{
		Method:             o.Method,
		URL:                o.URL,
		Headers:            o.Headers,
		Body:               o.Body,
		HTTP2:              o.HTTP2,
		Connections:        o.Connections,
		DisableKeepAlive:   o.DisableKeepAlive,
		Insecure:           o.Insecure,
		Proxy:              o.Proxy,
		ExpectBodyContains: o.ExpectBodyContains,
		CacheHeader:        o.CacheHeader,
		Seed:               o.Load.ShardSeed(o.Seed),
		ForceNetHTTP:       o.NetHTTP,
		Revalidate:         o.Revalidate,
		RevalidateShared:   o.RevalidateShared,
	}
	if path, ok := strings.CutPrefix(o.Body, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("--body @%s: %v", path, pathErr(err))
		}
		dopts.Body = string(b)
	}
	if o.ExpectStatus != "" {
		st, err := httpdrv.ParseExpectStatus(o.ExpectStatus)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("--expect-status: %v", err)
		}
		dopts.ExpectStatus = st
	}
	mode, err := tmpl.ParseRowMode(o.DataMode)
	if err != nil {
		return dopts, cmdutil.FlagErrorf("--data-mode %q: use round-robin or random", o.DataMode)
	}
	dopts.RowMode = mode
	if o.Data != "" {
		d, err := tmpl.LoadData(o.Data)
		if err != nil {
			return dopts, cmdutil.FlagErrorf("--data %s: %v", o.Data, pathErr(err))
		}
		dopts.Data = d
	}
	return dopts, nil
}

func httpRun(ctx context.Context, o *HTTPOptions) error {
	dopts, err := o.driverOptions()
	if err != nil {
		return err
	}
	drv, err := httpdrv.New(dopts)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	runErr := Execute(ctx, Run{IO: o.IO, Flags: &o.Load, Driver: drv, ToolVersion: o.ToolVersion, Runner: o.withStats(o.Runner),
		Workload: o.Method + " " + o.URL})
	if cerr := drv.Close(); cerr != nil && runErr == nil {
		return fmt.Errorf("close driver: %w", cerr)
	}
	return runErr
}

// withStats wraps run so that, with --scrape-stats, a finished run's result
// gets the target's /stats as its server section when the target is a
// loadrig server (see scrapeStats), before it is written and printed. An
// interrupted run is not held up by a scrape.
func (o *HTTPOptions) withStats(run Runner) Runner {
	if run == nil {
		run = load.Run
	}
	if !o.shouldScrape() {
		return run
	}
	return func(ctx context.Context, d load.Driver, cfg load.Config) (*metrics.Result, error) {
		res, err := run(ctx, d, cfg)
		if res != nil && ctx.Err() == nil && res.StopReason != metrics.StopInterrupted {
			if m := scrapeStats(ctx, o.URL, o.Insecure, statsTimeout); m != nil {
				res.Server = m
			}
		}
		return res, err
	}
}

// shouldScrape says whether the run ends with a /stats request: never with
// --scrape-stats=false; for any host when it was set explicitly; otherwise
// only when the target is on this machine (a loopback address or
// localhost), where loadrig's reference servers listen by default — a
// third-party target does not get an unasked-for request.
func (o *HTTPOptions) shouldScrape() bool {
	if !o.ScrapeStats {
		return false
	}
	return o.ScrapeStatsSet || loopbackTarget(o.URL)
}

// loopbackTarget reports whether target's host is localhost or a loopback
// IP address.
func loopbackTarget(target string) bool {
	_, host := splitTarget(target)
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pathErr drops the path from an *fs.PathError the message already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
