package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/gqldrv"
	"github.com/loadrig/loadrig/internal/load/netcount"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// The GraphQL section (--section graphql): one product page fetched as REST
// calls and as one GraphQL query, then the N+1 query with DataLoader off and
// on against a store with a connection pool.

// Queries of the section.
const (
	// gqlScreenQuery selects what the product page shows, nothing more.
	gqlScreenQuery = `query ProductPage($id: ID!) { product(id: $id) { name description price stock reviews(first: 10) { rating text author { name } } } }`
	// gqlNPlusOneQuery is the N+1: one list, a review read per product, an
	// author read per review.
	gqlNPlusOneQuery = `query NPlusOne { products(first: 50) { reviews(first: 5) { author { name } } } }`
)

const (
	screenReviews     = 10 // reviews on the product page
	browserConns      = 6  // a browser's HTTP/1.1 connections per host
	nPlusOneProducts  = 50
	nPlusOneReviews   = 5
	screenMaxInflight = 64
)

// gqlPlan is the section's shape: the queries are fixed here, the store,
// rates and durations come from the profile's graphql section
// (newGQLPlan), the product ids of the screens from its key sequence.
type gqlPlan struct {
	dataset string
	seed    int64
	// The store every run of the section uses: cache none, so every read
	// is a store call and the counts show what each way costs.
	storeLatency, storePerRow time.Duration
	storePool                 int
	// loaderWait is the server's DataLoader batching window; 0: the
	// server's default (gql.DefaultLoaderWait).
	loaderWait time.Duration
	keys       []int64 // product ids of the screens, round robin
	screenRate float64 // screens per second (open model), both ways
	screenDur  time.Duration
	warmup     time.Duration // before every measured run, unrecorded
	n1Rate     float64       // N+1 queries per second (open model), off and on
	n1Dur      time.Duration
	satWorkers int // the closed model of the saturation runs
	satDur     time.Duration
	unbounded  time.Duration // the off run against a store with no pool
	samples    int           // screens whose bodies are gzipped for the gz column
	timeout    time.Duration
}

// newGQLPlan maps the profile's graphql section (nil: the section is not
// in the profile) onto the section's plan. Unset server keys get the
// stack defaults the cache section uses (dataset small, seed 1, store
// without latency or pool).
func newGQLPlan(pl profile.Plan) gqlPlan {
	p := gqlPlan{dataset: "small", seed: 1, keys: pl.Keys}
	if g := pl.GraphQL; g != nil {
		s := g.Server
		if s.Dataset != nil {
			p.dataset = string(*s.Dataset)
		}
		if s.Seed != nil {
			p.seed = *s.Seed
		}
		if s.StoreLatency != nil {
			p.storeLatency = s.StoreLatency.D()
		}
		if s.StorePool != nil && *s.StorePool > 0 {
			p.storePool = *s.StorePool
		}
		p.storePerRow, p.loaderWait, p.warmup, p.timeout = g.StorePerRow, g.LoaderWait, g.Warmup, g.Timeout
		p.screenRate, p.screenDur, p.samples = g.PageRate, g.PageDuration, g.GzipSamples
		p.n1Rate, p.n1Dur, p.satWorkers, p.satDur, p.unbounded = g.NPlusOneRate, g.NPlusOneDuration, g.SaturationWorkers, g.SaturationDuration, g.UnboundedDuration
	}
	if len(p.keys) == 0 {
		p.keys = []int64{1}
	}
	return p
}

func (p gqlPlan) String() string {
	return fmt.Sprintf("store %v per call with %d connections, cache none; screens at %g/s for %v each way; the N+1 at %g/s for %v, then %d workers for %v, DataLoader off and on",
		p.storeLatency, p.storePool, p.screenRate, p.screenDur, p.n1Rate, p.n1Dur, p.satWorkers, p.satDur)
}

// gqlServer is one stack served over REST and GraphQL on one listener (like
// `loadrig serve all`), behind a byte-counting listener.
type gqlServer struct {
	st   *stack.Stack
	gql  *gql.Handler
	srv  *server.HTTP
	wire *wireCount
	base string
}

func startGQLServer(ctx context.Context, p gqlPlan, pool int, dataloader bool, log *slog.Logger) (*gqlServer, error) {
	st, err := stack.New(ctx, stack.Config{
		Cache: "none", StoreLatency: p.storeLatency, StorePerRow: p.storePerRow, StorePool: pool,
		Dataset: p.dataset, Seed: p.seed, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s := &gqlServer{st: st, wire: &wireCount{}}
	d := st.Deps()
	d.Logger = log
	conns := &server.ConnStats{}
	sp := server.NewSpine(server.SpineOptions{Logger: log, Limiter: d.Limiter, LimitPrefixes: []string{"/api/", "/graphql"}, Stats: d.Stats, Conns: conns})
	rest.New(sp, d, rest.Options{})
	s.gql = gql.New(sp, d, gql.Options{DataLoader: dataloader, LoaderWait: p.loaderWait})
	s.srv = server.NewHTTP(server.HTTPOptions{Name: "graphql-demo", Handler: sp, Conns: conns, Logger: log})
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := s.srv.Serve(countingListener{Listener: ln, c: s.wire}); err != nil {
		_ = ln.Close()
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s.base = s.srv.URL()
	return s, nil
}

func (s *gqlServer) close(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	_ = s.st.Close(sctx)
}

// topUpReviews gives each of the first n products at least k reviews, so
// the N+1 query reads exactly n×k reviews (the generated dataset gives a
// product 0 to 10).
func topUpReviews(ctx context.Context, st *stack.Stack, n, k int) error {
	var add []domain.NewReview
	for id := int64(1); id <= int64(n); id++ {
		rs, err := st.Store.ProductReviews(ctx, id, 0, k)
		if err != nil {
			return err
		}
		for i := len(rs); i < k; i++ {
			add = append(add, domain.NewReview{ProductID: id, AuthorID: 1 + (id*7+int64(i))%50, Rating: 4, Text: "added by the demo"})
		}
	}
	if len(add) == 0 {
		return nil
	}
	_, err := st.Store.CreateReviews(ctx, add)
	return err
}

// gqlCell is one measured run of the section.
type gqlCell struct {
	name  string // result file name
	label string // table label
	res   *metrics.Result
	ops   int64 // measured operations (screens or queries), errors included
	// Store and server deltas over the measured run, per operation; waitMS
	// sums the waits of the operation's calls (they overlap), callWaitMS is
	// the mean wait of one call.
	calls, waitMS, callWaitMS float64
	// elapsed is the measured run's wall time, to the last operation's end
	// (a closed model's throughput: ops ÷ elapsed, see satRPS).
	elapsed time.Duration
	// cpu is the process's CPU time over the measured run (client and
	// servers together); -1 unknown.
	cpu time.Duration
	// requests per screen (REST: 2 + distinct authors; GraphQL: 1).
	requests float64
	// wire bytes per operation as the server counted them.
	wireIn, wireOut float64
	// gzBodies/rawBodies: the sample screens' response bodies gzipped one
	// by one and raw, per screen; 0 when not sampled.
	rawBodies, gzBodies float64
	err                 error
}

func (c *gqlCell) ok() bool { return c != nil && c.err == nil && c.res != nil && c.ops > 0 }

// measure warms up with d (unrecorded), then runs cfg with the store's and
// the listener's counters read around the measured run only.
func (s *gqlServer) measure(ctx context.Context, opts *Options, d load.Driver, cfg load.Config, warmup time.Duration, c *gqlCell) {
	run := opts.Runner
	if run == nil {
		run = load.Run
	}
	if warmup > 0 {
		w := cfg
		w.Duration, w.Warmup, w.Requests = warmup, 0, 0
		if _, err := run(ctx, d, w); err != nil {
			c.err = err
			return
		}
	}
	cfg.Warmup = 0
	st0, in0, out0, t0, cpu0 := s.st.Store.Stats(), s.wire.in.Load(), s.wire.out.Load(), time.Now(), processCPU()
	res, err := run(ctx, d, cfg)
	cpu1, st1, in1, out1 := processCPU(), s.st.Store.Stats(), s.wire.in.Load(), s.wire.out.Load()
	c.elapsed = time.Since(t0)
	c.cpu = -1
	if cpu0 >= 0 && cpu1 >= 0 {
		c.cpu = cpu1 - cpu0
	}
	if err != nil {
		c.err = err
		return
	}
	c.res, c.ops = res, res.Requests.Total
	if c.ops > 0 {
		n := float64(c.ops)
		c.calls = float64(st1.Calls-st0.Calls) / n
		c.waitMS = float64((st1.QueueWaitTotal - st0.QueueWaitTotal).Microseconds()) / 1e3 / n
		c.wireIn, c.wireOut = float64(in1-in0)/n, float64(out1-out0)/n
		if calls := st1.Calls - st0.Calls; calls > 0 {
			c.callWaitMS = float64((st1.QueueWaitTotal - st0.QueueWaitTotal).Microseconds()) / 1e3 / float64(calls)
		}
	}
	res.Name = c.name
	res.ToolVersion = opts.BuildInfo.Version
	if cc, ok := d.(load.ConnCounter); ok {
		res.Connections = cc.Connections()
	}
	res.Server = s.gql.Stats()
	res.Server["demo_graphql"] = map[string]any{
		"run":                         c.label,
		"store_calls":                 st1.Calls - st0.Calls,
		"store_calls_per_op":          c.calls,
		"store_pool_wait_ms_total":    float64((st1.QueueWaitTotal - st0.QueueWaitTotal).Microseconds()) / 1e3,
		"store_pool_wait_ms_per_op":   c.waitMS,
		"store_pool_wait_ms_per_call": c.callWaitMS,
		"elapsed_s":                   c.elapsed.Seconds(),
		"process_cpu_us":              c.cpu.Microseconds(),
		"cpu_note":                    "user+system CPU of the whole loadrig process (load generator and servers) during the measured run",
		"ops_per_elapsed_s":           c.satRPS(),
		"server_wire_bytes_in":        in1 - in0,
		"server_wire_bytes_out":       out1 - out0,
		"note":                        "deltas over the measured run only (warm-up excluded); every read is a store call (cache none)",
	}
}

// runGraphQL runs the section: the two screens, then the N+1 runs.
func runGraphQL(ctx context.Context, opts *Options, p gqlPlan, log *slog.Logger) (screens, n1 []gqlCell, err error) {
	screens, err = runScreens(ctx, opts, p, log)
	if err != nil || ctx.Err() != nil {
		return screens, nil, err
	}
	n1, err = runNPlusOne(ctx, opts, p, log)
	return screens, n1, err
}

// runScreens measures the product page both ways against one server
// (DataLoader on, as `serve graphql` defaults).
func runScreens(ctx context.Context, opts *Options, p gqlPlan, log *slog.Logger) ([]gqlCell, error) {
	s, err := startGQLServer(ctx, p, p.storePool, true, log)
	if err != nil {
		return nil, err
	}
	defer s.close(ctx)
	token, err := login(ctx, s.base)
	if err != nil {
		return nil, err
	}
	var cells []gqlCell
	for _, graphQL := range []bool{false, true} {
		c := gqlCell{name: "graphql-screen-rest", label: "REST"}
		if graphQL {
			c.name, c.label = "graphql-screen-graphql", "GraphQL"
		}
		d := &screenDriver{graphQL: graphQL, base: s.base, token: token, keys: p.keys}
		c.rawBodies, c.gzBodies, c.err = sampleScreens(ctx, d, p.samples)
		if c.err == nil {
			r0, n0 := d.requests.Load(), d.screens.Load()
			s.measure(ctx, opts, d, load.Config{Rate: p.screenRate, Duration: p.screenDur, MaxInflight: screenMaxInflight, Timeout: p.timeout}, p.warmup, &c)
			if c.ok() {
				// The driver's counters include the warm-up: its screens
				// are counted too, so the ratio is over both.
				if n := d.screens.Load() - n0; n > 0 {
					c.requests = float64(d.requests.Load()-r0) / float64(n)
				}
				m := c.res.Server["demo_graphql"].(map[string]any)
				m["requests_per_screen"] = c.requests
				m["sample_body_bytes_per_screen"], m["sample_body_gzip_bytes_per_screen"] = c.rawBodies, c.gzBodies
				m["gzip_note"] = "the servers do not compress (they ignore Accept-Encoding); the gzip figure is each response body of the sample screens gzipped one by one (compress/gzip, default level)"
			}
		}
		_ = d.Close()
		fmt.Fprintf(opts.IO.ErrOut, "  screen %-8s %s\n", c.label, c.brief())
		if err := writeGQLResult(opts, c); err != nil {
			return cells, err
		}
		cells = append(cells, c)
		if ctx.Err() != nil {
			return cells, nil
		}
	}
	return cells, nil
}

// runNPlusOne measures the N+1 query with DataLoader off and on at one
// fixed rate, then each at saturation (closed model), then off against a
// store with no pool.
func runNPlusOne(ctx context.Context, opts *Options, p gqlPlan, log *slog.Logger) ([]gqlCell, error) {
	type variant struct {
		name, label string
		loader      bool
		pool        int
		closed      bool
		dur         time.Duration
	}
	variants := []variant{
		{"graphql-nplus1-off", "off", false, p.storePool, false, p.n1Dur},
		{"graphql-nplus1-on", "on", true, p.storePool, false, p.n1Dur},
		{"graphql-nplus1-off-saturation", "off", false, p.storePool, true, p.satDur},
		{"graphql-nplus1-on-saturation", "on", true, p.storePool, true, p.satDur},
		{"graphql-nplus1-off-unbounded", "off, store without a pool", false, 0, false, p.unbounded},
	}
	var cells []gqlCell
	for _, v := range variants {
		c := gqlCell{name: v.name, label: v.label}
		c.err = func() error {
			s, err := startGQLServer(ctx, p, v.pool, v.loader, log)
			if err != nil {
				return err
			}
			defer s.close(ctx)
			if err := topUpReviews(ctx, s.st, nPlusOneProducts, nPlusOneReviews); err != nil {
				return err
			}
			d, err := gqldrv.New(gqldrv.Options{URL: s.base + "/graphql", Query: gqlNPlusOneQuery})
			if err != nil {
				return err
			}
			defer d.Close()
			cfg := load.Config{Rate: p.n1Rate, Duration: v.dur, MaxInflight: 256, Timeout: p.timeout}
			if v.closed {
				cfg = load.Config{Concurrency: p.satWorkers, Duration: v.dur, Timeout: p.timeout}
			}
			s.measure(ctx, opts, d, cfg, p.warmup, &c)
			return c.err
		}()
		fmt.Fprintf(opts.IO.ErrOut, "  N+1 %-34s %s\n", v.name[len("graphql-nplus1-"):], c.brief())
		if err := writeGQLResult(opts, c); err != nil {
			return cells, err
		}
		cells = append(cells, c)
		if ctx.Err() != nil {
			return cells, nil
		}
	}
	return cells, nil
}

func writeGQLResult(opts *Options, c gqlCell) error {
	if opts.OutDir == "" || c.res == nil {
		return nil
	}
	return cmdutil.WriteFile(filepath.Join(opts.OutDir, c.name+".json"), c.res.Write)
}

// satRPS is the measured run's operations over its wall time, from the
// first send to the last completion: a closed model's throughput without
// the operations still in flight at the duration's end counted as if they
// had completed within it (they take over a second each without
// DataLoader, so the engine's OK ÷ duration overstates a short run).
func (c gqlCell) satRPS() float64 {
	if c.res == nil || c.elapsed <= 0 {
		return 0
	}
	return float64(c.res.Requests.OK) / c.elapsed.Seconds()
}

func (c gqlCell) brief() string {
	if c.err != nil {
		return "failed: " + c.err.Error()
	}
	if c.res == nil {
		return "no result"
	}
	rps := c.res.ThroughputRPS
	if c.res.Model.Kind == "closed" {
		rps = c.satRPS()
	}
	return fmt.Sprintf("%.1f/s, p50 %s, p99 %s, store calls/op %.1f, pool wait/call %.2fms, errors %d",
		rps, us(c.res.Latency.P50), us(c.res.Latency.P99), c.calls, c.callWaitMS, c.res.Requests.Errors)
}

// screenDriver performs one product page per operation, as REST calls or as
// one GraphQL query. Each engine worker is one browser: its own Go
// net/http client with at most 6 connections to the host (HTTP/1.1,
// keep-alive), every connection's bytes counted at the socket.
type screenDriver struct {
	graphQL bool
	base    string
	token   string
	keys    []int64

	dials, screens, requests atomic.Int64
}

func (d *screenDriver) Protocol() string {
	if d.graphQL {
		return "graphql"
	}
	return "http"
}

func (d *screenDriver) Target() string {
	if d.graphQL {
		return d.base + "/graphql"
	}
	return d.base + "/api/products/{id} (+ /reviews, + /api/users/{author})"
}

func (d *screenDriver) Close() error { return nil }

// Connections reports the connections the workers opened.
func (d *screenDriver) Connections() metrics.Connections {
	return metrics.Connections{Opened: d.dials.Load()}
}

func (d *screenDriver) NewWorker(_ context.Context, _ int) (load.Worker, error) {
	return d.newWorker(), nil
}

func (d *screenDriver) newWorker() *screenWorker {
	w := &screenWorker{d: d, cnt: &netcount.Counter{}, sem: make(chan struct{}, browserConns)}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	w.tr = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			d.dials.Add(1)
			return netcount.Wrap(c, w.cnt), nil
		},
		MaxConnsPerHost: browserConns, MaxIdleConnsPerHost: browserConns, IdleConnTimeout: time.Minute,
		// The servers do not compress; no Accept-Encoding is sent.
		DisableCompression: true,
	}
	w.c = &http.Client{Transport: w.tr}
	return w
}

type screenWorker struct {
	d   *screenDriver
	c   *http.Client
	tr  *http.Transport
	cnt *netcount.Counter
	sem chan struct{}
	// sample, when set, receives every response body (sampleScreens).
	sample func(body []byte)
	mu     sync.Mutex // guards sample calls from the fan-out
}

func (w *screenWorker) Close() error {
	w.tr.CloseIdleConnections()
	return nil
}

func (w *screenWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	id := w.d.keys[op.Seq()%uint64(len(w.d.keys))]
	var kind metrics.ErrKind
	if w.d.graphQL {
		kind = w.graphQLScreen(ctx, id)
	} else {
		kind = w.restScreen(ctx, id)
	}
	w.d.screens.Add(1)
	sent, recv := w.cnt.Take()
	return load.Outcome{Err: kind, BytesSent: sent, BytesReceived: recv}
}

// restScreen is the page as a browser fetches it from the REST API: the
// product and its reviews at once, then each distinct author, at most
// browserConns requests in flight.
func (w *screenWorker) restScreen(ctx context.Context, id int64) metrics.ErrKind {
	var product struct {
		Name string `json:"name"`
	}
	var reviews struct {
		Reviews []struct {
			AuthorID int64 `json:"author_id"`
		} `json:"reviews"`
	}
	var wg sync.WaitGroup
	var revKind metrics.ErrKind
	wg.Add(1)
	go func() {
		defer wg.Done()
		revKind = w.get(ctx, w.d.base+"/api/products/"+strconv.FormatInt(id, 10)+"/reviews?limit="+strconv.Itoa(screenReviews), &reviews)
	}()
	kind := w.get(ctx, w.d.base+"/api/products/"+strconv.FormatInt(id, 10), &product)
	wg.Wait()
	if kind != metrics.OK {
		return kind
	}
	if revKind != metrics.OK {
		return revKind
	}
	var authors []int64
	seen := make(map[int64]bool, len(reviews.Reviews))
	for _, r := range reviews.Reviews {
		if !seen[r.AuthorID] {
			seen[r.AuthorID] = true
			authors = append(authors, r.AuthorID)
		}
	}
	kinds := make([]metrics.ErrKind, len(authors))
	for i, a := range authors {
		w.sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-w.sem; wg.Done() }()
			var u struct {
				Name string `json:"name"`
			}
			kinds[i] = w.get(ctx, w.d.base+"/api/users/"+strconv.FormatInt(a, 10), &u)
			if kinds[i] == metrics.OK && u.Name == "" {
				kinds[i] = metrics.ErrCheck
			}
		}()
	}
	wg.Wait()
	for _, k := range kinds {
		if k != metrics.OK {
			return k
		}
	}
	if product.Name == "" {
		return metrics.ErrCheck
	}
	return metrics.OK
}

// screenResponse is the GraphQL page's answer, decoded as the page would.
type screenResponse struct {
	Data *struct {
		Product *struct {
			Name    string `json:"name"`
			Reviews []struct {
				Rating int    `json:"rating"`
				Text   string `json:"text"`
				Author struct {
					Name string `json:"name"`
				} `json:"author"`
			} `json:"reviews"`
		} `json:"product"`
	} `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

func (w *screenWorker) graphQLScreen(ctx context.Context, id int64) metrics.ErrKind {
	body, _ := json.Marshal(map[string]any{"query": gqlScreenQuery, "variables": map[string]string{"id": strconv.FormatInt(id, 10)}})
	var out screenResponse
	kind := w.do(ctx, http.MethodPost, w.d.base+"/graphql", body, &out)
	switch {
	case kind != metrics.OK:
		return kind
	case len(out.Errors) > 0:
		return gqldrv.ErrGraphQL
	case out.Data == nil || out.Data.Product == nil || out.Data.Product.Name == "":
		return metrics.ErrCheck
	}
	for _, r := range out.Data.Product.Reviews {
		if r.Author.Name == "" {
			return metrics.ErrCheck
		}
	}
	return metrics.OK
}

func (w *screenWorker) get(ctx context.Context, url string, v any) metrics.ErrKind {
	return w.do(ctx, http.MethodGet, url, nil, v)
}

// maxScreenBody bounds one response body.
const maxScreenBody = 1 << 20

// do sends one request with the bearer token (a browser's cookie) and
// decodes a 200's JSON body into v.
func (w *screenWorker) do(ctx context.Context, method, url string, body []byte, v any) metrics.ErrKind {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return metrics.ErrOther
	}
	req.Header.Set("Authorization", "Bearer "+w.d.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w.d.requests.Add(1)
	resp, err := w.c.Do(req)
	if err != nil {
		return classifyScreenErr(ctx, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScreenBody))
	resp.Body.Close()
	if err != nil {
		return classifyScreenErr(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return metrics.HTTPStatusKind(resp.StatusCode)
	}
	if w.sample != nil {
		w.mu.Lock()
		w.sample(b)
		w.mu.Unlock()
	}
	if err := json.Unmarshal(b, v); err != nil {
		return metrics.ErrProtocol
	}
	return metrics.OK
}

func classifyScreenErr(ctx context.Context, err error) metrics.ErrKind {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return metrics.ErrTimeout
	case ctx.Err() != nil:
		return metrics.ErrCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		return metrics.ErrRefused
	case errors.Is(err, syscall.ECONNRESET):
		return metrics.ErrReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return metrics.ErrEOF
	}
	return metrics.ErrOther
}

// sampleScreens fetches the first n screens of the key sequence outside
// any run and returns their response bodies' bytes per screen, raw and
// gzipped one by one (as a server compressing each response would).
func sampleScreens(ctx context.Context, d *screenDriver, n int) (raw, gz float64, err error) {
	n = min(n, len(d.keys))
	if n <= 0 {
		return 0, 0, nil
	}
	w := d.newWorker()
	defer w.Close()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var rawN, gzN int64
	w.sample = func(b []byte) {
		buf.Reset()
		zw.Reset(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		rawN += int64(len(b))
		gzN += int64(buf.Len())
	}
	r0, s0, dials0 := d.requests.Load(), d.screens.Load(), d.dials.Load()
	for i := range n {
		if k := w.Do(ctx, load.NewOp(uint64(i), nil)); k.Err != metrics.OK {
			return 0, 0, fmt.Errorf("sample screen of product %d: %s", d.keys[i], k.Err)
		}
	}
	// The sample is no part of any run.
	d.requests.Store(r0)
	d.screens.Store(s0)
	d.dials.Store(dials0)
	return float64(rawN) / float64(n), float64(gzN) / float64(n), nil
}

// runGraphQLSection runs the section, prints its tables and returns its
// part of report.html, whether result files were written, the failed runs
// (as error text) and an error that ends the demo.
func runGraphQLSection(ctx context.Context, opts *Options, plan profile.Plan, log *slog.Logger) (*report.HTMLSection, bool, []string, error) {
	p := newGQLPlan(plan)
	if opts.TuneGraphQL != nil {
		opts.TuneGraphQL(&p)
	}
	fmt.Fprintf(opts.IO.ErrOut, "loadrig demo graphql: %s\n", p)
	screens, n1, err := runGraphQL(ctx, opts, p, log)
	var results []*metrics.Result
	var failed []string
	for _, c := range append(append([]gqlCell(nil), screens...), n1...) {
		if c.res != nil {
			results = append(results, c.res)
		}
		if c.err != nil && ctx.Err() == nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", c.name, c.err))
		}
	}
	var sec *report.HTMLSection
	if len(results) > 0 {
		var buf bytes.Buffer
		_ = writeGraphQLTable(&buf, p, screens, n1)
		var notes []string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.HasPrefix(l, "note: ") || strings.HasPrefix(l, "WARNING: ") {
				notes = append(notes, strings.TrimPrefix(l, "note: "))
			}
		}
		sec = &report.HTMLSection{Title: "GraphQL: one product page as REST calls vs one query; the N+1 with DataLoader off and on", Results: results, Notes: notes}
	}
	if len(screens)+len(n1) > 0 {
		if werr := writeGraphQLTable(opts.IO.Out, p, screens, n1); werr != nil {
			return sec, len(results) > 0 && opts.OutDir != "", failed, werr
		}
	}
	if len(failed) > 0 {
		failed = []string{fmt.Sprintf("%d graphql runs failed: %s", len(failed), strings.Join(failed, "; "))}
	}
	return sec, len(results) > 0 && opts.OutDir != "", failed, err
}
