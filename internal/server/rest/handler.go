package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
)

// DefaultBodyLimit caps request bodies when Deps.BodyLimit is zero.
const DefaultBodyLimit = 1 << 20

// DefaultMaxPadBytes caps the pad query parameter when Deps.MaxPadBytes is
// zero: 4 MiB, the same cap as the gRPC server's pad_bytes
// (grpcsrv.DefaultMaxPadBytes), so a payload sweep asks both servers for
// the same sizes.
const DefaultMaxPadBytes = 4 << 20

// Deps are the REST handler's dependencies.
type Deps struct {
	// Catalog is the data layer: the store, usually behind a cache strategy.
	// Required.
	Catalog domain.Catalog
	// Login checks email and password for POST /api/login. Default: Catalog,
	// when it implements domain.Authenticator (the store and the cache
	// layers do); otherwise login answers 503.
	Login domain.Authenticator
	// Auth issues and verifies the bearer credentials writes need. Default:
	// server.NewJWT with a random per-process key.
	Auth server.Authenticator
	// Limiter limits requests under /api/ per client IP. Default: none.
	Limiter server.Limiter
	// Feed receives a product_updated event after every successful PATCH, for the
	// streaming servers of the same process. Leave it nil when the Catalog
	// publishes changes itself (a cache.Layer built with Config.Feed, as
	// the server stack does), or every change is delivered twice. Default:
	// none.
	Feed *domain.Feed
	// Logger receives request logs (debug level) and errors. Default:
	// discard.
	Logger *slog.Logger
	// Stats returns the sections of /stats the handler does not own: cache,
	// store, write_behind, redis_mode and so on. Default: none.
	Stats func() map[string]any
	// Conns is the server's connection accounting, reported under
	// "connections" in /stats. Default: zeros.
	Conns *server.ConnStats
	// MaxAge is the Cache-Control max-age of GET responses; zero sends
	// "no-cache" (clients must revalidate every time). Default 0.
	MaxAge time.Duration
	// BodyLimit caps request bodies in bytes; larger bodies get 413.
	// Default DefaultBodyLimit (1 MiB).
	BodyLimit int64
	// Responses, when set, switches product reads (GET product, list,
	// reviews) to full-response caching: rendered responses are cached and
	// served as stored bytes (the cache layer's response mode,
	// cache.Layer.Responses). Default nil: object caching, whatever the
	// Catalog does.
	Responses *cache.Responses
	// Pprof mounts net/http/pprof under /debug/pprof/. Default false.
	Pprof bool
	// MaxPadBytes caps the pad query parameter of the product reads (see
	// padding.go); more is 400. Default DefaultMaxPadBytes (4 MiB).
	MaxPadBytes int
	// Registry is the Prometheus registry /metrics serves; the handler
	// registers its own collectors in it. Default: a new private registry
	// (never the global one).
	Registry *prometheus.Registry
}

// Handler is the REST server's http.Handler.
type Handler struct {
	d            Deps
	mux          *http.ServeMux
	probe        *http.ServeMux // same patterns, no-op handlers: tells 404 from 405
	ids          *server.RequestIDs
	cacheControl []string
	routes       map[string]*routeStat
	unmatched    *routeStat
	limited      *routeStat // requests the rate limiter rejected
	start        time.Time
	fill         filler // the pad parameter's filler bytes (padding.go)

	rateLimited, limiterErrors, notModified, panics atomic.Int64
	byClass                                         [6]atomic.Int64 // responses by status class, index status/100

	reqDur *prometheus.HistogramVec
	reqs   *prometheus.CounterVec
}

type routeStat struct {
	n     atomic.Int64
	dur   prometheus.Observer
	codes [600]atomic.Pointer[prometheus.Counter] // resolved lazily per status code
	route string
}

// count increments loadrig_http_requests_total{route, code} without a
// label lookup after the first request with that code.
func (rs *routeStat) count(vec *prometheus.CounterVec, code int) {
	if code < 100 || code >= 600 {
		vec.WithLabelValues(rs.route, strconv.Itoa(code)).Inc()
		return
	}
	c := rs.codes[code].Load()
	if c == nil {
		cc := vec.WithLabelValues(rs.route, strconv.Itoa(code))
		c = &cc
		rs.codes[code].Store(c)
	}
	(*c).Inc()
}

// NewHandler returns the REST handler over deps.
func NewHandler(d Deps) *Handler {
	if d.Catalog == nil {
		panic("rest: Deps.Catalog is nil")
	}
	if d.Login == nil {
		d.Login, _ = d.Catalog.(domain.Authenticator)
	}
	if d.Auth == nil {
		d.Auth = server.NewJWT(server.JWTOptions{})
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Conns == nil {
		d.Conns = &server.ConnStats{}
	}
	if d.BodyLimit <= 0 {
		d.BodyLimit = DefaultBodyLimit
	}
	if d.MaxPadBytes <= 0 {
		d.MaxPadBytes = DefaultMaxPadBytes
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	h := &Handler{
		d: d, mux: http.NewServeMux(), probe: http.NewServeMux(),
		ids: server.NewRequestIDs(), routes: map[string]*routeStat{}, start: time.Now(),
	}
	if d.MaxAge > 0 {
		h.cacheControl = []string{"max-age=" + strconv.Itoa(int(d.MaxAge/time.Second))}
	} else {
		h.cacheControl = []string{"no-cache"}
	}
	h.reqDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loadrig_http_request_duration_seconds",
		Help:    "Time from request arrival to handler return, by route pattern.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	h.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadrig_http_requests_total",
		Help: "Requests by route pattern and status code.",
	}, []string{"route", "code"})
	d.Registry.MustRegister(h.reqDur, h.reqs, server.StatsCollector("loadrig", h.Stats))
	h.unmatched = &routeStat{dur: h.reqDur.WithLabelValues("unmatched"), route: "unmatched"}
	h.limited = &routeStat{dur: h.reqDur.WithLabelValues("rate_limited"), route: "rate_limited"}
	h.registerRoutes()
	return h
}

// handle registers one route; every route goes through it so /stats and
// /metrics know them all.
func (h *Handler) handle(pattern string, hh http.Handler) {
	h.mux.Handle(pattern, hh)
	h.probe.Handle(pattern, http.NotFoundHandler())
	h.routes[pattern] = &routeStat{dur: h.reqDur.WithLabelValues(pattern), route: pattern}
}

// apiFunc is a handler that returns its error instead of writing it.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts an apiFunc, writing a returned error as problem+json.
func (h *Handler) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// reqState is everything per request, in one allocation.
type reqState struct {
	w       http.ResponseWriter
	h       *Handler
	trace   domain.CacheTrace
	code    int
	limited bool // rejected by the rate limiter before routing
}

func (s *reqState) Header() http.Header { return s.w.Header() }

// WriteHeader stamps X-Cache from the request's cache trace: the cache
// layer has marked it by the time the handler writes.
func (s *reqState) WriteHeader(code int) {
	if s.code != 0 {
		return
	}
	if code >= 200 {
		s.code = code
	}
	s.w.Header()["X-Cache"] = xcache[s.trace.Status()]
	s.w.WriteHeader(code)
}

func (s *reqState) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.w.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof needs
// write deadlines and flushes).
func (s *reqState) Unwrap() http.ResponseWriter { return s.w }

// xcache holds the header values, so stamping X-Cache does not allocate.
var xcache = func() map[domain.CacheStatus][]string {
	m := map[domain.CacheStatus][]string{}
	for _, s := range []domain.CacheStatus{domain.CacheNone, domain.CacheHit, domain.CacheStale, domain.CacheMiss, domain.CacheBypass} {
		m[s] = []string{s.String()}
	}
	return m
}()

// ServeHTTP runs the request through the middleware and the routes:
// request id, cache trace and bypass, panic recovery, rate limiting,
// routing, then accounting and the access log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	id := r.Header.Get("X-Request-ID")
	if !server.ValidRequestID(id) {
		id = h.ids.Next()
	}
	w.Header()["X-Request-Id"] = []string{id}
	st := &reqState{w: w, h: h}
	ctx := server.WithRequestID(r.Context(), id)
	ctx = domain.WithCacheTrace(ctx, &st.trace)
	if noCache(r.Header) {
		ctx = domain.WithBypass(ctx)
	}
	r = r.WithContext(ctx)

	defer h.finish(st, r, t0)
	if strings.HasPrefix(r.URL.Path, "/api/") && h.d.Limiter != nil && !h.allow(st, r) {
		st.limited = true
		return
	}
	h.mux.ServeHTTP(st, r)
}

// finish recovers a panic, then records the request.
func (h *Handler) finish(st *reqState, r *http.Request, t0 time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		h.panics.Add(1)
		h.d.Logger.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if st.code == 0 {
			h.writeError(st, r, errors.New("panic"))
		}
	}
	code := st.code
	if code == 0 {
		code = http.StatusOK
	}
	if c := code / 100; c >= 1 && c <= 5 {
		h.byClass[c].Add(1)
	}
	rs := h.routes[r.Pattern]
	route := r.Pattern
	switch {
	case st.limited:
		rs, route = h.limited, "rate_limited"
	case rs == nil:
		rs, route = h.unmatched, "unmatched"
	}
	rs.n.Add(1)
	d := time.Since(t0)
	rs.dur.Observe(d.Seconds())
	rs.count(h.reqs, code)
	switch {
	case code >= 500:
		h.d.Logger.ErrorContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "route", route, "status", code, "dur", d)
	case h.d.Logger.Enabled(r.Context(), slog.LevelDebug):
		h.d.Logger.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", code, "dur", d, "cache", st.trace.Status().String())
	}
}

// noCache reports whether the request asks to bypass caches.
func noCache(hd http.Header) bool {
	if v := hd["Cache-Control"]; len(v) > 0 {
		for _, s := range v {
			if strings.Contains(strings.ToLower(s), "no-cache") {
				return true
			}
		}
	}
	if v := hd["Pragma"]; len(v) > 0 && strings.EqualFold(strings.TrimSpace(v[0]), "no-cache") {
		return true
	}
	return false
}

// allow applies the rate limit; it writes the 429 itself.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request) bool {
	d, err := h.d.Limiter.Allow(r.Context(), clientKey(r))
	if err != nil {
		h.limiterErrors.Add(1)
		h.d.Logger.WarnContext(r.Context(), "rate limiter failed; letting the request through", "err", err)
		return true
	}
	if d.Allowed {
		return true
	}
	h.rateLimited.Add(1)
	secs := int((d.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	h.writeError(w, r, domain.Errorf(domain.CodeRateLimited, "rate limit exceeded; retry in %v", d.RetryAfter.Round(time.Millisecond)))
	return false
}

// clientKey identifies the client for rate limiting: its IP address.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// unmatched answers requests no route matches: 405 with Allow when the path
// exists for other methods, 404 otherwise.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) error {
	ph, _ := h.probe.Handler(r)
	rec := &statusRecorder{hdr: http.Header{}}
	ph.ServeHTTP(rec, r)
	if rec.code == http.StatusMethodNotAllowed {
		w.Header()["Allow"] = rec.hdr["Allow"]
		return &httpError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			msg: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.hdr.Get("Allow"))}
	}
	return domain.Errorf(domain.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path)
}

type statusRecorder struct {
	hdr  http.Header
	code int
}

func (s *statusRecorder) Header() http.Header         { return s.hdr }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(c int)           { s.code = c }

// ---- writing responses ----

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as JSON with status, setting Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
	}()
	if err := encodeTo(buf, v); err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd["Content-Type"] = jsonCT
	hd["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// encodeTo appends v's JSON and a newline to buf.
func encodeTo(buf *bytes.Buffer, v any) error {
	return json.NewEncoder(buf).Encode(v)
}

var (
	jsonCT    = []string{"application/json"}
	problemCT = []string{"application/problem+json"}
	varyVals  = []string{"Accept"}
)

// writeError writes err as a problem document.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err, r, server.RequestID(r.Context()))
	if p.Status >= 500 {
		h.d.Logger.ErrorContext(r.Context(), "request failed", "err", err)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadrig"`)
	}
	b, _ := json.Marshal(p)
	b = append(b, '\n')
	hd := w.Header()
	delete(hd, "ETag")
	delete(hd, "Last-Modified")
	hd["Cache-Control"] = []string{"no-store"}
	hd["Content-Type"] = problemCT
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}

// ---- reading requests ----

// decodeJSON decodes the body into v strictly: unknown fields, trailing
// data and bodies over the limit are errors.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > h.d.BodyLimit {
		// Declared too large: 413 without reading it, whatever it holds.
		return domain.Errorf(domain.CodeTooLarge, "request body is over the %d-byte limit", h.d.BodyLimit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.d.BodyLimit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	trailing := false
	if err == nil {
		if err = dec.Decode(&struct{}{}); err == io.EOF {
			return nil
		}
		trailing = true
	}
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) {
		// A body of unknown length (chunked) that is also over the limit
		// is 413 whatever made it invalid first: read on to the limit.
		if _, cerr := io.Copy(io.Discard, r.Body); errors.As(cerr, &mbe) {
			err = cerr
		}
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return domain.Errorf(domain.CodeTooLarge, "request body is over the %d-byte limit", mbe.Limit)
	case trailing:
		return domain.Errorf(domain.CodeInvalid, "request body has data after the JSON value")
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.CodeInvalid, "request body is empty; send a JSON object")
	case errors.As(err, &se):
		return domain.Errorf(domain.CodeInvalid, "request body is not valid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return domain.Errorf(domain.CodeInvalid, "field %q must be a %s, got a JSON %s", te.Field, te.Type, te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return domain.Errorf(domain.CodeInvalid, "request body has an %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return domain.Errorf(domain.CodeInvalid, "request body: %v", err)
}

// jsonPathID is the preamble of a GET of one resource by id: 406 when the
// client does not accept JSON (checked first), else pathID.
func jsonPathID(r *http.Request) (int64, error) {
	if !acceptsJSON(r.Header) {
		return 0, errNotAcceptable
	}
	return pathID(r)
}

// pathID parses the {id} path value as a positive integer.
func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.CodeInvalid, "id must be a positive integer, got %q", s)
	}
	return id, nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string, def, maxV int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxV {
		return 0, domain.Errorf(domain.CodeInvalid, "query parameter %s must be an integer in 0..%d, got %q", name, maxV, s)
	}
	return n, nil
}

// acceptsJSON reports whether an Accept header admits a JSON response.
func acceptsJSON(hd http.Header) bool {
	v := hd["Accept"]
	if len(v) == 0 {
		return true
	}
	for _, s := range v {
		if s == "" || strings.Contains(s, "json") || strings.Contains(s, "*/*") || strings.Contains(s, "application/*") {
			return true
		}
	}
	return false
}

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

// requireAuth wraps a write handler: the request needs a valid bearer
// credential. It authenticates, it does not authorize: any logged-in user
// may place an order for any user_id or change any product, because the
// experiment measures what verifying a JWT or a session costs, and load
// scripts drive many users with one login.
func (h *Handler) requireAuth(next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			return domain.Errorf(domain.CodeUnauthorized, "this request needs Authorization: Bearer <token>; get one from POST /api/login")
		}
		if _, err := h.d.Auth.Verify(r.Context(), tok); err != nil {
			return err
		}
		return next(w, r)
	}
}
