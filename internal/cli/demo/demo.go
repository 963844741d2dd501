package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cli/buildinfo"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
	"github.com/loadrig/loadrig/profiles"
)

// Options are the inputs of `loadrig demo`.
type Options struct {
	// IO are the injected streams: the table goes to Out, progress to ErrOut.
	IO *iostreams.IOStreams
	// BuildInfo identifies this binary in result files.
	BuildInfo buildinfo.Info
	// Quick is --quick: the profile's short settings (about 30 s in all).
	Quick bool
	// OutDir is -o/--output-dir: write <variant>.json result files and
	// report.html (both sections, charts and tables) there. The command's
	// default is a fresh folder loadrig-demo-<UTC time> in the working
	// directory, named at the end; DemoRun with "" writes nothing.
	OutDir string
	// Profile is --profile: a profile file to run instead of the embedded
	// demo. Default "": profiles/demo.yaml.
	Profile string
	// Variants is --variant (repeatable): run only these variants, in
	// profile order. Default: all.
	Variants []string
	// Verbose is --verbose: server and stack logs to stderr. Default false.
	Verbose bool
	// Section is --section: cache (the cache variants), protocols (REST/JSON
	// vs gRPC/protobuf), graphql (a page as REST calls vs one GraphQL query;
	// the N+1 with DataLoader off and on), realtime (the ticker over polling,
	// long-polling, SSE and WebSocket; a chat room) or all, in that order.
	// Default "all".
	Section string
	// Runner runs the engine; nil means load.Run (tests inject a shorter
	// configuration through Tune instead).
	Runner func(ctx context.Context, d load.Driver, cfg load.Config) (*metrics.Result, error)
	// Tune, when set, adjusts the plan before running (tests shrink it).
	Tune func(*profile.Plan)
	// TuneGraphQL, when set, adjusts the graphql section's plan (tests
	// shrink it).
	TuneGraphQL func(*gqlPlan)
	// tuneRealtime, when set, adjusts the realtime section's plan (tests).
	tuneRealtime func(*realtimePlan)
}

// NewCmdDemo returns `loadrig demo`. runF replaces the run function in
// tests; nil runs DemoRun.
func NewCmdDemo(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, BuildInfo: f.BuildInfo}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Compare cache strategies, REST/JSON with gRPC/protobuf, REST with GraphQL, and realtime transports, in one command",
		Long: `Four comparisons, each printed as tables (--section picks one).

Cache variants: start the REST reference server in process once per cache
variant (none, LRU, TinyLFU, Redis cache-aside, write-through, write-behind,
HTTP revalidation with ETags), drive each with the same read-heavy Zipf
workload (90% reads, 10% writes), and compare throughput, latency, hit ratio
as the client saw it and as the cache counted it, store calls per request,
connections and errors.

Protocols: serve one store and one cache through the REST server and the
gRPC server at once (like serve all), and run get-one-product and
list-products through each protocol at payload sizes from about 1 KB to
1 MB (closed model), comparing operations per second, p50, p99, bytes on the
wire per operation (and the REST body gzipped), and the process's CPU time
per operation, with where the faster protocol changes.

GraphQL: one product page (the product, its 10 first reviews, each author)
as REST calls, at most 6 in flight like a browser, against one GraphQL query
(requests, bytes, p50/p99 of the whole page, store calls per page); then the
N+1 query with DataLoader off and on against a store with 8 connections
(store calls per query, pool wait, p50, p99, queries/s at saturation).

Realtime: the WebSocket server's price ticker at 1, 4 and 50 events/s to
1,000 clients (200 with --quick) by polling every second (with and without
304s; the two side by side), long-polling, SSE and WebSocket: latency
p50/p99, requests and bytes per delivered event, open connections and the
delivery ratio; then a chat room of 100 at 10 messages/s. It needs about six
descriptors per client; when the open-file limit stays too low after raising
it, the section is skipped with a note.

No setup: the Redis variants use redis-server from PATH when there is one,
else an embedded Redis. Every section's settings (servers, rates, durations,
clients, and what --quick shortens) are in the embedded profile
profiles/demo.yaml; --profile runs another file of the same format, and a section the file leaves out is
skipped.`,
		Example: `  # every comparison, shortened
  loadrig demo --quick

  # only REST vs gRPC
  loadrig demo --quick --section protocols

  # only a page as REST calls vs one GraphQL query, and the N+1
  loadrig demo --quick --section graphql

  # the full run, keeping every variant's and every cell's result file
  loadrig demo -o results/
  loadrig report results/lru.json results/redis-aside.json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Section {
			case SectionAll, SectionCache, SectionProtocols, SectionGraphQL, SectionRealtime:
			default:
				return cmdutil.FlagErrorf("--section %q is not one of cache, protocols, all, graphql or realtime", opts.Section)
			}
			if (opts.Section == SectionProtocols || opts.Section == SectionGraphQL) && len(opts.Variants) > 0 {
				return cmdutil.FlagErrorf("--variant selects cache variants; it has no effect with --section %s", opts.Section)
			}
			if opts.OutDir == "" {
				opts.OutDir = freshDir(time.Now())
			}
			if runF != nil {
				return runF(opts)
			}
			return DemoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Quick, "quick", false, "short run: every section shortened (realtime with 200 clients instead of 1,000)")
	cmd.Flags().StringVar(&opts.Section, "section", SectionAll, "which comparison to run: cache, protocols, graphql, realtime or all")
	cmd.Flags().StringVarP(&opts.OutDir, "output-dir", "o", "", "write each variant's and each protocol cell's result file (<name>.json) and report.html into this directory (default: a fresh loadrig-demo-<time> folder)")
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "profile file to run instead of the embedded demo")
	cmd.Flags().StringSliceVar(&opts.Variants, "variant", nil, "run only this variant (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&opts.Verbose, "verbose", false, "log the servers' startup and shutdown to stderr")
	return cmd
}

// Sections of the demo (--section).
const (
	SectionAll       = "all"
	SectionCache     = "cache"
	SectionProtocols = "protocols"
	// SectionGraphQL is one product page as REST calls vs one GraphQL
	// query, and the N+1 with DataLoader off and on (graphql.go).
	SectionGraphQL = "graphql"
	// SectionRealtime is the ticker over polling, long-polling, SSE and
	// WebSocket, and a chat room (realtime.go).
	SectionRealtime = "realtime"
)

// freshDir names a folder for this run's files that does not exist yet.
func freshDir(now time.Time) string {
	base := "loadrig-demo-" + now.UTC().Format("20060102-150405")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Stat(name); os.IsNotExist(err) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

func (o *Options) runs(section string) bool {
	return o.Section == "" || o.Section == SectionAll || o.Section == section
}

// loadPlan reads the profile and selects variants; errors are usage errors.
func loadPlan(opts *Options) (profile.Plan, error) {
	var p *profile.Profile
	var err error
	if opts.Profile != "" {
		p, err = profile.Load(opts.Profile)
	} else {
		p, err = profile.Parse(profiles.DemoName, profiles.Demo)
	}
	if err != nil {
		return profile.Plan{}, cmdutil.FlagErrorWrap(err)
	}
	plan := p.Plan(opts.Quick)
	if len(opts.Variants) > 0 {
		byName := map[string]profile.VariantPlan{}
		var names []string
		for _, v := range plan.Variants {
			byName[v.Name] = v
			names = append(names, v.Name)
		}
		var keep []profile.VariantPlan
		for _, n := range opts.Variants {
			v, ok := byName[n]
			if !ok {
				return profile.Plan{}, cmdutil.FlagErrorf("--variant %q is not in the profile; choose from %s", n, strings.Join(names, ", "))
			}
			keep = append(keep, v)
		}
		plan.Variants = keep
	}
	switch {
	case opts.Section == SectionProtocols && plan.Protocols == nil,
		opts.Section == SectionGraphQL && plan.GraphQL == nil,
		opts.Section == SectionRealtime && plan.Realtime == nil:
		return profile.Plan{}, cmdutil.FlagErrorf("--section %s: the profile has no %s section", opts.Section, opts.Section)
	}
	if opts.Tune != nil {
		opts.Tune(&plan)
	}
	return plan, nil
}

// DemoRun runs the selected sections and prints their comparisons.
func DemoRun(ctx context.Context, opts *Options) error {
	plan, err := loadPlan(opts)
	if err != nil {
		return err
	}
	if opts.OutDir != "" {
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
	}
	logw := io.Discard
	if opts.Verbose {
		logw = opts.IO.ErrOut
	}
	log, _ := server.NewLogger(logw, server.LogOptions{Level: "info"})

	cacheOn := opts.runs(SectionCache)
	protoOn := opts.runs(SectionProtocols) && plan.Protocols != nil
	var redis *rediscache.Instance
	wantRedis := protoOn && needsRedis(plan.Protocols.Server)
	for _, v := range plan.Variants {
		wantRedis = wantRedis || cacheOn && needsRedis(v.Server)
	}
	if wantRedis {
		redis, err = rediscache.Start(ctx, rediscache.StartOptions{Logger: log})
		if err != nil {
			return fmt.Errorf("start Redis for the demo: %w", err)
		}
		defer redis.Close()
	}

	var errs []string
	written := false
	var page []report.HTMLSection
	// The page is written whatever happens next: an interrupted demo keeps
	// what it measured.
	defer func() {
		if len(page) > 0 && opts.OutDir != "" {
			path := filepath.Join(opts.OutDir, "report.html")
			if err := cmdutil.WriteFile(path, func(w io.Writer) error { return report.HTMLPage(w, "loadrig demo", page...) }); err != nil {
				fmt.Fprintf(opts.IO.ErrOut, "loadrig demo: report.html: %v\n", err)
				return
			}
			fmt.Fprintf(opts.IO.ErrOut, "report: %s (one file, opens offline)\n", path)
		}
	}()
	if cacheOn {
		n, results, failed, interrupted, err := runCacheSection(ctx, opts, plan, redis, log)
		written = written || n > 0 && opts.OutDir != ""
		if len(results) > 0 {
			page = append(page, report.HTMLSection{Title: "Cache strategies: " + describe(plan), Results: results})
		}
		if err != nil {
			return err
		}
		if interrupted {
			return cmdutil.ErrInterrupted
		}
		if len(failed) > 0 {
			errs = append(errs, fmt.Sprintf("%d of %d variants failed: %s", len(failed), len(plan.Variants), strings.Join(failed, "; ")))
		}
	}
	if protoOn {
		if cacheOn {
			fmt.Fprintln(opts.IO.Out)
		}
		fmt.Fprintf(opts.IO.ErrOut, "loadrig demo protocols: %s\n", plan.Protocols)
		cells, err := runProtocols(ctx, opts, plan.Protocols, redis, log)
		var cellResults []*metrics.Result
		for _, c := range cells {
			if c.res != nil {
				cellResults = append(cellResults, c.res)
			}
		}
		if len(cellResults) > 0 {
			page = append(page, report.HTMLSection{Title: "REST/JSON vs gRPC/protobuf: " + plan.Protocols.String(), Results: cellResults,
				Notes: append(crossovers(pairCells(cells), byThroughput), crossovers(pairCells(cells), byCPU)...)})
		}
		if len(cells) > 0 {
			written = written || opts.OutDir != ""
			if werr := writeProtocolTable(opts.IO.Out, plan.Protocols, cells); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return cmdutil.ErrInterrupted
		}
		var failed []string
		for _, c := range cells {
			if c.err != nil {
				failed = append(failed, fmt.Sprintf("%s (%v)", c.name(), c.err))
			}
		}
		if len(failed) > 0 {
			errs = append(errs, fmt.Sprintf("%d of %d protocol cells failed: %s", len(failed), plan.Protocols.Cells(), strings.Join(failed, "; ")))
		}
	} else if opts.runs(SectionProtocols) {
		fmt.Fprintln(opts.IO.ErrOut, "loadrig demo: the profile has no protocols section; skipped")
	}
	gqlOn := opts.runs(SectionGraphQL) && plan.GraphQL != nil
	if opts.runs(SectionGraphQL) && plan.GraphQL == nil {
		fmt.Fprintln(opts.IO.ErrOut, "loadrig demo: the profile has no graphql section; skipped")
	}
	if gqlOn && ctx.Err() == nil {
		if cacheOn || protoOn {
			fmt.Fprintln(opts.IO.Out)
		}
		sec, wrote, failed, err := runGraphQLSection(ctx, opts, plan, log)
		written = written || wrote
		if sec != nil {
			page = append(page, *sec)
		}
		errs = append(errs, failed...)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return cmdutil.ErrInterrupted
		}
	}
	if opts.runs(SectionRealtime) && plan.Realtime == nil {
		fmt.Fprintln(opts.IO.ErrOut, "loadrig demo: the profile has no realtime section; skipped")
	}
	if opts.runs(SectionRealtime) && plan.Realtime != nil && ctx.Err() == nil {
		sec, w, failed, err := realtimeSection(ctx, opts, plan.Realtime, log, cacheOn || protoOn || gqlOn)
		if sec != nil {
			page = append(page, *sec)
		}
		written = written || w
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return cmdutil.ErrInterrupted
		}
		if failed != "" {
			errs = append(errs, failed)
		}
	}
	if written {
		fmt.Fprintf(opts.IO.ErrOut, "result files in %s (compare them with: loadrig report %s)\n",
			opts.OutDir, filepath.Join(opts.OutDir, "*.json"))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// runCacheSection runs every cache variant and prints their comparison. n
// is the number of variants with a result.
func runCacheSection(ctx context.Context, opts *Options, plan profile.Plan, redis *rediscache.Instance, log *slog.Logger) (n int, results []*metrics.Result, failed []string, interrupted bool, err error) {
	fmt.Fprintf(opts.IO.ErrOut, "loadrig demo: %s\n", describe(plan))
	var rows []row
	for i, v := range plan.Variants {
		fmt.Fprintf(opts.IO.ErrOut, "[%d/%d] %-14s %s\n", i+1, len(plan.Variants), v.Name, v.Description)
		res, err := runVariant(ctx, opts, plan, v, redis, log)
		if err != nil {
			if ctx.Err() != nil {
				interrupted = true
				break
			}
			// One broken variant should not cost the others' results.
			fmt.Fprintf(opts.IO.ErrOut, "      failed: %v\n", err)
			failed = append(failed, fmt.Sprintf("%s (%v)", v.Name, err))
			continue
		}
		r := newRow(v, res)
		rows = append(rows, r)
		results = append(results, res)
		fmt.Fprintf(opts.IO.ErrOut, "      %s\n", r.brief())
		if opts.OutDir != "" {
			path := filepath.Join(opts.OutDir, v.Name+".json")
			if err := cmdutil.WriteFile(path, res.Write); err != nil {
				return len(rows), results, failed, interrupted, err
			}
		}
		if res.StopReason == metrics.StopInterrupted || ctx.Err() != nil {
			interrupted = true
			break
		}
	}
	if len(rows) > 0 {
		mode := ""
		if redis != nil {
			mode = redis.Mode()
		}
		if err := writeTable(opts.IO.Out, rows, mode); err != nil {
			return len(rows), results, failed, interrupted, err
		}
	}
	return len(rows), results, failed, interrupted, nil
}

func needsRedis(s profile.Server) bool {
	return s.Cache != nil && *s.Cache == "redis"
}

func describe(p profile.Plan) string {
	model := fmt.Sprintf("open model at %g req/s", p.Load.Rate)
	if p.Load.Concurrency > 0 {
		model = fmt.Sprintf("closed model with %d workers", p.Load.Concurrency)
	}
	var mix []string
	for _, op := range p.Operations {
		m := op.Method
		if m == "" {
			m = "GET"
		}
		mix = append(mix, fmt.Sprintf("%d %s %s", op.Weight, m, op.Path))
	}
	return fmt.Sprintf("%d variants, %s, %v each (+%v warm-up); mix by weight: %s",
		len(p.Variants), model, p.Load.Duration, p.Load.Warmup, strings.Join(mix, ", "))
}

// stackConfig maps a variant's server settings onto the stack.
func stackConfig(s profile.Server, redis *rediscache.Instance, prefix string, log *slog.Logger) stack.Config {
	c := stack.Config{
		StoreLatency: 2 * time.Millisecond, StorePerRow: 20 * time.Microsecond, StorePool: 8,
		Dataset: "small", Seed: 1, KeyPrefix: prefix, Logger: log,
	}
	if s.Cache != nil {
		c.Cache = string(*s.Cache)
	}
	if s.Strategy != nil {
		c.Strategy = string(*s.Strategy)
	}
	if s.TTL != nil {
		c.TTL = s.TTL.D()
	}
	if s.StoreLatency != nil {
		c.StoreLatency = s.StoreLatency.D()
	}
	if s.StorePool != nil {
		c.StorePool = *s.StorePool
	}
	if s.Dataset != nil {
		c.Dataset = string(*s.Dataset)
	}
	if s.Seed != nil {
		c.Seed = *s.Seed
	}
	if c.Cache == "redis" {
		c.Redis = redis
	}
	return c
}

// runVariant starts the variant's server, drives it, scrapes /stats and
// stops it.
func runVariant(ctx context.Context, opts *Options, plan profile.Plan, v profile.VariantPlan, redis *rediscache.Instance, log *slog.Logger) (*metrics.Result, error) {
	cfg := stackConfig(v.Server, redis, "demo:"+v.Name+":"+fmt.Sprint(time.Now().UnixNano())+":", log)
	st, err := stack.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	conns := &server.ConnStats{}
	var maxAge time.Duration
	if v.Server.MaxAge != nil {
		maxAge = v.Server.MaxAge.D()
	}
	d := st.Deps()
	d.Logger = log
	sp := server.NewSpine(server.SpineOptions{Logger: log, Limiter: d.Limiter, Stats: d.Stats, Conns: conns})
	rest.New(sp, d, rest.Options{MaxAge: maxAge})
	srv := server.NewHTTP(server.HTTPOptions{Name: "rest-" + v.Name, Handler: sp, Conns: conns, Logger: log})
	if err := srv.Open(); err != nil {
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := st.Close(sctx); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "      warning: %s did not drain cleanly: %v\n", v.Name, err)
		}
	}()
	base := srv.URL()

	token, err := login(ctx, base)
	if err != nil {
		return nil, err
	}
	data, err := keyRows(plan.Keys)
	if err != nil {
		return nil, err
	}
	var drivers []load.Driver
	var weights []int
	defer func() {
		for _, d := range drivers {
			_ = d.Close()
		}
	}()
	for _, op := range plan.Operations {
		hdrs := append([]string(nil), op.Headers...)
		if op.Auth {
			hdrs = append(hdrs, "Authorization: Bearer "+token)
		}
		d, err := httpdrv.New(httpdrv.Options{
			Method: op.Method, URL: base + op.Path, Headers: hdrs, Body: op.Body,
			CacheHeader: "X-Cache", Data: data, RowMode: tmpl.RowRoundRobin, Seed: 1,
			// The clients remember the ETag of every product read and send
			// it back. One cache for all workers (a revalidating proxy in
			// front of them): per-worker caches would make the 304 share
			// depend on how many workers the open model happened to start.
			Revalidate: op.Revalidate && v.Revalidate, RevalidateShared: true,
		})
		if err != nil {
			return nil, fmt.Errorf("operation %s: %w", op.Name, err)
		}
		drivers = append(drivers, d)
		weights = append(weights, op.Weight)
	}
	mix, err := profile.Mix(drivers, weights)
	if err != nil {
		return nil, err
	}
	run := opts.Runner
	if run == nil {
		run = load.Run
	}
	res, err := run(ctx, mix, plan.Load)
	if err != nil {
		return nil, err
	}
	res.Name = v.Name
	res.ToolVersion = opts.BuildInfo.Version
	res.Connections = mix.(load.ConnCounter).Connections()
	if stats, err := scrape(ctx, base); err == nil {
		res.Server = stats
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "      warning: could not read %s/stats: %v\n", base, err)
	}
	return res, nil
}

// keyRows builds the template rows: the key sequence, {{.id}}.
func keyRows(keys []int64) (*tmpl.Data, error) {
	rows := make([][]string, len(keys))
	for i, id := range keys {
		rows[i] = []string{fmt.Sprint(id)}
	}
	return tmpl.NewData("demo keys", []string{"id"}, rows)
}

// login gets a bearer token for seeded user 1.
func login(ctx context.Context, base string) (string, error) {
	body := fmt.Sprintf(`{"email": "user1@example.com", "password": %q}`, domain.SeedPassword)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("login: status %d", resp.StatusCode)
	}
	return out.Token, nil
}

// scrape reads the server's /stats.
func scrape(ctx context.Context, base string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
