package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// DefaultMaxResponse is Options.MaxResponse's default: 16 MiB.
const DefaultMaxResponse = 16 << 20

// DefaultMaxPadBytes caps the pad query parameter when Deps.MaxPadBytes is
// zero: 4 MiB, the same cap as the gRPC server's pad_bytes
// (grpcsrv.DefaultMaxPadBytes), so a payload sweep asks both servers for
// the same sizes.
const DefaultMaxPadBytes = 4 << 20

// Deps are a standalone REST handler's dependencies: the shared set
// (server.Deps), the REST options, and what the listener's spine needs.
// NewHandler builds a spine of its own from them; servers that share a
// listener with other transports use New with a shared spine instead.
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
	// MaxResponse is Options.MaxResponse. Default DefaultMaxResponse.
	MaxResponse int64
	// Registry is the Prometheus registry /metrics serves; the handler
	// registers its own collectors in it. Default: a new private registry
	// (never the global one).
	Registry *prometheus.Registry
}

// Options are the REST server's own options, beside the shared
// server.Deps.
type Options struct {
	// MaxAge is the Cache-Control max-age of GET responses; zero sends
	// "no-cache" (clients must revalidate every time). Default 0.
	MaxAge time.Duration
	// BodyLimit caps request bodies in bytes; larger bodies get 413.
	// Default DefaultBodyLimit (1 MiB).
	BodyLimit int64
	// MaxPadBytes caps the pad query parameter of the product reads (see
	// padding.go); more is 400. Default DefaultMaxPadBytes (4 MiB).
	MaxPadBytes int
	// MaxResponse caps what one request may ask the server to build: a
	// list's limit × pad past it is 400 before any work. Default
	// DefaultMaxResponse (16 MiB).
	MaxResponse int64
	// Publish receives a product_updated event after every successful PATCH. Leave
	// it nil when the Catalog publishes changes itself (the stack's cache
	// layer does, to server.Deps.Feed), or every change is delivered
	// twice. Default: none.
	Publish *domain.Feed
}

// config is what the handlers read: the shared deps and the REST options.
type config struct {
	server.Deps
	Options
}

// Handler is the REST server's http.Handler: its routes, mounted on a
// server.Spine (the middleware chain and the operations routes).
type Handler struct {
	// What a cached product read looks at, first and together (one cache
	// line): the Catalog's stored product JSON, when it keeps it (hot.go),
	// whether responses are cached whole (d.Responses != nil), and the
	// Cache-Control value.
	pj           productJSONReader
	whole        bool
	cacheControl []string

	d     config
	sp    *server.Spine
	probe *http.ServeMux // same patterns, no-op handlers: tells 404 from 405
	fill  filler         // the pad parameter's filler bytes (padding.go)
	memo  validatorMemo  // product validators by version (hot.go)

	notModified atomic.Int64
}

// NewHandler returns a standalone REST handler over deps, with a spine of
// its own.
func NewHandler(d Deps) *Handler {
	if d.Catalog == nil {
		panic("rest: Deps.Catalog is nil")
	}
	sp := server.NewSpine(server.SpineOptions{
		Logger: d.Logger, Limiter: d.Limiter, Stats: d.Stats, Conns: d.Conns,
		Registry: d.Registry, Pprof: d.Pprof,
	})
	return New(sp, server.Deps{
		Catalog: d.Catalog, Login: d.Login, Auth: d.Auth, Limiter: d.Limiter, Feed: d.Feed,
		Logger: d.Logger, Stats: d.Stats, Responses: d.Responses,
	}, Options{MaxAge: d.MaxAge, BodyLimit: d.BodyLimit, MaxPadBytes: d.MaxPadBytes, MaxResponse: d.MaxResponse, Publish: d.Feed})
}

// New mounts the REST routes on sp and returns the handler; serving sp (or
// the handler, which serves sp) serves them. Rate limiting, /stats,
// /metrics and pprof are the spine's.
func New(sp *server.Spine, d server.Deps, o Options) *Handler {
	if d.Catalog == nil {
		panic("rest: Deps.Catalog is nil")
	}
	d = d.WithDefaults()
	if o.BodyLimit <= 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.MaxPadBytes <= 0 {
		o.MaxPadBytes = DefaultMaxPadBytes
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = DefaultMaxResponse
	}
	h := &Handler{d: config{d, o}, sp: sp, probe: http.NewServeMux()}
	h.pj, _ = d.Catalog.(productJSONReader)
	h.whole = d.Responses != nil
	if o.MaxAge > 0 {
		h.cacheControl = []string{"max-age=" + strconv.Itoa(int(o.MaxAge/time.Second))}
	} else {
		h.cacheControl = []string{"no-cache"}
	}
	h.registerRoutes()
	sp.AddStats(h.addStats)
	return h
}

// handle registers one route; every route goes through it so 405s know
// them and /stats and /metrics count them.
func (h *Handler) handle(pattern string, hh http.Handler) {
	h.sp.Handle(pattern, hh)
	h.probe.Handle(pattern, http.NotFoundHandler())
}

// apiFunc is a handler that returns its error instead of writing it.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// segFunc is an apiFunc for a segment route: seg is its {id}.
type segFunc func(w http.ResponseWriter, r *http.Request, seg string) error

// handleSegment mounts a "METHOD /path/{id}" route through the spine's
// segment shortcut (server.Spine.HandleSegment).
func (h *Handler) handleSegment(pattern string, f segFunc) {
	h.sp.HandleSegment(pattern, func(w http.ResponseWriter, r *http.Request, seg string) {
		if err := f(w, r, seg); err != nil {
			h.writeError(w, r, err)
		}
	})
	h.probe.Handle(pattern, http.NotFoundHandler())
}

// api adapts an apiFunc, writing a returned error as problem+json.
func (h *Handler) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// ServeHTTP serves the handler's spine: the middleware (request id, cache
// trace and bypass, access log, counts, panic recovery, rate limiting),
// then the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.sp.ServeHTTP(w, r) }

// Spine is the spine the routes are mounted on.
func (h *Handler) Spine() *server.Spine { return h.sp }

// unmatched answers requests no route matches: 405 with Allow when the path
// exists for other methods, 404 otherwise.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) error {
	ph, _ := h.probe.Handler(r)
	rec := &statusRecorder{hdr: http.Header{}}
	ph.ServeHTTP(rec, r)
	if rec.code == http.StatusMethodNotAllowed {
		w.Header()["Allow"] = rec.hdr["Allow"]
		return &httpError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Msg: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.hdr.Get("Allow"))}
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
	jsonCT   = []string{"application/json"}
	varyVals = []string{"Accept"}
)

// writeError writes err as a problem document (and logs a 5xx).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.sp.WriteError(w, r, err)
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
	return jsonID(r, r.PathValue("id"))
}

// jsonID is jsonPathID with the {id} value given (a segment route's).
func jsonID(r *http.Request, s string) (int64, error) {
	if !acceptsJSON(r.Header) {
		return 0, errNotAcceptable
	}
	return parseID(s)
}

// pathID parses the {id} path value as a positive integer.
func pathID(r *http.Request) (int64, error) { return parseID(r.PathValue("id")) }

// parseID parses an id path segment as a positive integer.
func parseID(s string) (int64, error) {
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

// requireAuth wraps a handler that needs a bearer credential: no or a bad
// credential is 401; the authenticated user (and its role) is then in the
// request's context (domain.PrincipalFrom), for the handler to authorize:
// product writes need an admin, a user's data is its own or an admin's.
func (h *Handler) requireAuth(next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok, ok := bearer(r)
		if !ok {
			return domain.Errorf(domain.CodeUnauthorized, "this request needs Authorization: Bearer <token>; get one from POST /api/login")
		}
		uid, err := h.d.Auth.Verify(r.Context(), tok)
		if err != nil {
			return err
		}
		return next(w, r.WithContext(domain.WithPrincipal(r.Context(), domain.PrincipalOf(uid))))
	}
}

// principal is the authenticated user of a request behind requireAuth.
func principal(r *http.Request) domain.Principal {
	p, _ := domain.PrincipalFrom(r.Context())
	return p
}

// notYours is the answer to a user's request for another user's data: the
// same 404 as a missing id, so ids cannot be probed.
func notYours(what string, id int64) error {
	return domain.Errorf(domain.CodeNotFound, "%s %d not found", what, id)
}
