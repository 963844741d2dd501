package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SpineOptions configures NewSpine.
type SpineOptions struct {
	// Logger receives the access log (debug; 5xx at error), panics and
	// limiter failures. Default: discard. Whether it logs at debug level
	// is asked once, by NewSpine (loadrig's loggers have a fixed level).
	Logger *slog.Logger
	// Limiter limits requests per client IP. Default: none.
	Limiter Limiter
	// LimitPrefixes are the path prefixes the limiter applies to. Default
	// ["/api/"]; a transport mounting elsewhere (/graphql) adds its own.
	LimitPrefixes []string
	// Stats returns the sections of /stats the spine does not own (cache,
	// store, write_behind, ...: the stack's). Default: none.
	Stats func() map[string]any
	// Conns is the listener's connection accounting, reported under
	// "connections". Default: a new ConnStats; pass the same one to
	// HTTPOptions.Conns.
	Conns *ConnStats
	// Registry is the Prometheus registry /metrics serves; the spine
	// registers its collectors in it. Default: a new private registry
	// (never the global one).
	Registry *prometheus.Registry
	// Pprof mounts net/http/pprof under /debug/pprof/ (never cmdline: the
	// command line may carry secrets). Default false.
	Pprof bool
	// IDs generates request ids. Default NewRequestIDs().
	IDs *RequestIDs
}

// Spine is the front of one HTTP listener: a mux every transport mounts its
// routes on, the middleware chain in front of it (request id, X-Cache,
// cache bypass, access log, per-route counts, panic recovery, rate limit),
// and the operations routes (/healthz, /stats, /metrics, /debug/pprof).
// `serve rest` has one, `serve all` one for the REST listener that REST,
// GraphQL and the WebSocket routes share; /stats and /metrics then cover
// all of them.
type Spine struct {
	// What every request reads comes first, on one cache line: the request
	// ids, the logger and whether it wants the debug access log.
	ids     *RequestIDs
	log     *slog.Logger
	debug   bool
	o       SpineOptions
	mux     *http.ServeMux
	metrics *Metrics
	limit   *limitPiece // nil: no rate limiting

	// patterns are the routes mounted (Handle), segs the segment routes'
	// shortcuts (HandleSegment); both are set up before serving.
	patterns []string
	segs     []*segRoute

	mu       sync.Mutex
	sections []func(out map[string]any)
}

// NewSpine returns a spine with its operations routes registered.
func NewSpine(o SpineOptions) *Spine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LimitPrefixes == nil {
		o.LimitPrefixes = []string{"/api/"}
	}
	if o.Conns == nil {
		o.Conns = &ConnStats{}
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.IDs == nil {
		o.IDs = NewRequestIDs()
	}
	s := &Spine{ids: o.IDs, log: o.Logger, debug: o.Logger.Enabled(context.Background(), slog.LevelDebug),
		o: o, mux: http.NewServeMux(), metrics: NewMetrics(o.Registry)}
	s.limit = newLimitPiece(s.limitOptions())

	o.Registry.MustRegister(
		StatsCollector("loadrig", s.Stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.Handle("GET /healthz", http.HandlerFunc(healthz))
	s.Handle("GET /stats", http.HandlerFunc(s.serveStats))
	s.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry}))
	if o.Pprof {
		s.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
		s.Handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		s.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
		s.Handle("POST /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
		s.Handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	}
	return s
}

// Middleware returns the spine's pieces in order, outermost first, for a
// server that must build its own chain; a Spine already applies them to
// everything mounted on it.
func (s *Spine) Middleware() []Middleware {
	return []Middleware{
		AssignRequestID(s.o.IDs),
		CacheStatus(),
		Bypass(),
		AccessLog(s.o.Logger),
		Count(s.metrics),
		Recover(s.metrics, s.o.Logger, s.WriteError),
		RateLimit(s.limitOptions()),
	}
}

func (s *Spine) limitOptions() RateLimitOptions {
	return RateLimitOptions{Limiter: s.o.Limiter, Prefixes: s.o.LimitPrefixes, Metrics: s.metrics,
		Logger: s.o.Logger, Errors: s.WriteError}
}

// Handle mounts h on pattern (http.ServeMux syntax) and counts its requests
// under the pattern. Mount everything before serving.
func (s *Spine) Handle(pattern string, h http.Handler) {
	s.metrics.Register(pattern)
	s.mux.Handle(pattern, routed{s.metrics.registered(pattern), h})
	s.patterns = append(s.patterns, pattern)
	for _, rt := range s.segs {
		rt.shadow(pattern)
	}
}

// routed hands the matched route's counters to the request's Exchange, so
// counting it costs no lookup by pattern.
type routed struct {
	stat *routeStat
	h    http.Handler
}

func (rt routed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e, ok := w.(*Exchange); ok {
		e.stat = rt.stat
	}
	rt.h.ServeHTTP(w, r)
}

// Fallback mounts h for requests no pattern matches ("/"); they are counted
// as "unmatched".
func (s *Spine) Fallback(h http.Handler) { s.mux.Handle("/", h) }

// ServeHTTP runs the request through the middleware and the mux. It does
// what Chain(mux, s.Middleware()...) does, in one function: the pieces'
// work in the same order, with one Exchange, but without a closure call, a
// writer type check and a defer per piece (TestSpineMatchesChain checks
// that the two answer and count alike).
func (s *Spine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, scoped := enterScoped(w, r)
	if !scoped {
		e, r = Enter(w, r)
	}
	e.assignID(s.ids, r)   // AssignRequestID
	e.xcache = true        // CacheStatus
	if NoCache(r.Header) { // Bypass
		e.bypass = true
	}
	defer s.finish(e, r) // Count, then AccessLog, as their defers ran
	s.serve(e, r)
}

// finish counts the request (Count) and logs it (AccessLog).
func (s *Spine) finish(e *Exchange, r *http.Request) {
	s.metrics.record(e)
	if s.debug || e.Status() >= 500 { // else logRequest logs nothing: no call, no frame
		logRequest(s.log, s.debug, e, r)
	}
	e.done.Store(true)
}

// serve is Recover and RateLimit around the mux.
func (s *Spine) serve(e *Exchange, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			recovered(v, e, r, s.metrics, s.o.Logger, s.WriteError)
		}
	}()
	if s.limit != nil && limited(r.URL.Path, s.limit.o.Prefixes) && !s.limit.allow(e, r) {
		return
	}
	if len(s.segs) == 0 || !s.route(e, r) {
		s.mux.ServeHTTP(e, r)
	}
}

// Metrics is the listener's request accounting.
func (s *Spine) Metrics() *Metrics { return s.metrics }

// Conns is the listener's connection accounting.
func (s *Spine) Conns() *ConnStats { return s.o.Conns }

// Registry is the Prometheus registry /metrics serves.
func (s *Spine) Registry() *prometheus.Registry { return s.o.Registry }

// Logger is the spine's logger.
func (s *Spine) Logger() *slog.Logger { return s.o.Logger }

// AddStats adds a transport's own sections to /stats: f is called with the
// document after the spine's and the stack's sections are in, and may add
// keys or extend maps already there.
func (s *Spine) AddStats(f func(out map[string]any)) {
	s.mu.Lock()
	s.sections = append(s.sections, f)
	s.mu.Unlock()
}

// Stats returns the /stats document: the stack's sections, then
// "connections", "requests" per route, "responses", "uptime_s", then every
// transport's (AddStats).
func (s *Spine) Stats() map[string]any {
	out := map[string]any{}
	if s.o.Stats != nil {
		for k, v := range s.o.Stats() {
			out[k] = v
		}
	}
	out["connections"] = map[string]any{"active": s.o.Conns.Active(), "total": s.o.Conns.Total(), "rejected": s.o.Conns.Rejected()}
	s.metrics.Stats(out)
	s.mu.Lock()
	sections := s.sections
	s.mu.Unlock()
	for _, f := range sections {
		f(out)
	}
	return out
}

// WriteError writes err as problem+json and logs it when it is a 5xx.
func (s *Spine) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if HTTPStatus(err) >= 500 {
		s.o.Logger.ErrorContext(r.Context(), "request failed", "err", err)
	}
	WriteProblem(w, r, err)
}

func (s *Spine) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeNoStoreJSON(w, s.Stats())
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeNoStoreJSON(w, map[string]string{"status": "ok"})
}

func writeNoStoreJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	hd := w.Header()
	hd["Cache-Control"] = []string{"no-store"}
	hd["Content-Type"] = []string{"application/json"}
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
