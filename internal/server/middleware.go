package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/loadrig/loadrig/internal/domain"
)

// Middleware is one piece of the HTTP spine: the REST, GraphQL and
// WebSocket servers mount the same pieces, so a request id, an X-Cache
// header, a rate limit or a panic means the same on every transport.
type Middleware func(http.Handler) http.Handler

// Chain wraps h in mw; mw[0] is the outermost piece.
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Route names used when a request matched no mux pattern.
const (
	RouteUnmatched   = "unmatched"
	RouteRateLimited = "rate_limited"
)

// AssignRequestID echoes a valid client X-Request-ID (printable, ≤128 bytes) or
// generates one from ids, sets it on the response and makes it the
// request's id (RequestID(ctx), request_id on every log line).
func AssignRequestID(ids *RequestIDs) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			e.assignID(ids, r)
			next.ServeHTTP(e, r)
		})
	}
}

// assignID is the AssignRequestID piece's work on e.
func (e *Exchange) assignID(ids *RequestIDs, r *http.Request) {
	var id string
	if v := r.Header["X-Request-Id"]; len(v) > 0 && ValidRequestID(v[0]) {
		id = v[0]
	} else {
		// The id's bytes live in the Exchange, which is never reused: one
		// allocation per request fewer than a string of its own.
		b := ids.appendNext(e.idBuf[:0])
		id = unsafe.String(unsafe.SliceData(b), len(b))
	}
	e.id, e.idHdr[0] = id, id
	e.w.Header()["X-Request-Id"] = e.idHdr[:]
}

// CacheStatus stamps X-Cache (HIT, MISS, STALE, BYPASS, NONE) on every
// response, from the cache trace the cache layer marks during the request.
func CacheStatus() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			e.xcache = true
			next.ServeHTTP(e, r)
		})
	}
}

// Bypass makes a request with Cache-Control: no-cache (or Pragma: no-cache)
// read through the server-side caches (domain.Bypass).
func Bypass() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			if NoCache(r.Header) {
				e.bypass = true
			}
			next.ServeHTTP(e, r)
		})
	}
}

// NoCache reports whether request headers ask to bypass caches.
func NoCache(hd http.Header) bool {
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

// ErrorWriter writes err as the response (the spine's default is
// WriteProblem, problem+json).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// RateLimitOptions configures the RateLimit piece.
type RateLimitOptions struct {
	// Limiter decides; nil makes the piece a pass-through.
	Limiter Limiter
	// Prefixes are the path prefixes that are limited. Default: every path.
	Prefixes []string
	// Metrics counts limited requests and limiter failures. Default: none.
	Metrics *Metrics
	// Logger receives limiter failures, at most once per 10s. Default:
	// discard.
	Logger *slog.Logger
	// Errors writes the 429. Default WriteProblem.
	Errors ErrorWriter
}

// RateLimit limits requests per client IP before routing: over the limit is
// 429 with Retry-After. A limiter failure (Redis gone) lets the request
// through and is counted, so an outage of the limiter never becomes a 5xx.
func RateLimit(o RateLimitOptions) Middleware {
	lp := newLimitPiece(o)
	if lp == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !limited(r.URL.Path, lp.o.Prefixes) {
				next.ServeHTTP(w, r)
				return
			}
			e, r := Enter(w, r)
			if lp.allow(e, r) {
				next.ServeHTTP(e, r)
			}
		})
	}
}

// limitPiece is the RateLimit piece's state; the Spine runs it inline.
type limitPiece struct {
	o     RateLimitOptions
	m     *Metrics
	every logEvery
}

// newLimitPiece returns the piece, or nil when there is no limiter.
func newLimitPiece(o RateLimitOptions) *limitPiece {
	if o.Limiter == nil {
		return nil
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Errors == nil {
		o.Errors = WriteProblem
	}
	m := o.Metrics
	if m == nil {
		m = &Metrics{}
	}
	return &limitPiece{o: o, m: m}
}

// allow asks the limiter about a request under the limited prefixes; over
// the limit it answers 429 and returns false.
func (lp *limitPiece) allow(e *Exchange, r *http.Request) bool {
	d, err := lp.o.Limiter.Allow(e, ClientIP(r))
	switch {
	case err != nil:
		lp.m.limiterErrors.Add(1)
		if lp.every.due(10 * time.Second) {
			lp.o.Logger.WarnContext(e, "rate limiter failed; letting requests through (logged once per 10s)", "err", err,
				"limiter_errors", lp.m.limiterErrors.Load())
		}
	case !d.Allowed:
		lp.m.rateLimited.Add(1)
		e.route = RouteRateLimited
		secs := int((d.RetryAfter + time.Second - 1) / time.Second)
		e.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		lp.o.Errors(e, r, domain.Errorf(domain.CodeRateLimited, "rate limit exceeded; retry in %v", d.RetryAfter.Round(time.Millisecond)))
		return false
	}
	return true
}

func limited(path string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// ClientIP identifies the client for rate limiting: its IP address.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Recover turns a handler panic into a 500 (when nothing was written yet),
// counts it in m and logs it with its stack; the server lives on.
// http.ErrAbortHandler is re-raised, as net/http intends.
func Recover(m *Metrics, log *slog.Logger, errs ErrorWriter) Middleware {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if errs == nil {
		errs = WriteProblem
	}
	if m == nil {
		m = &Metrics{}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			defer func() {
				if v := recover(); v != nil {
					recovered(v, e, r, m, log, errs)
				}
			}()
			next.ServeHTTP(e, r)
		})
	}
}

// recovered handles the panic value v of a request's handler: re-raised
// when it is http.ErrAbortHandler, else counted, logged with its stack and
// answered with a 500 when nothing was written yet.
func recovered(v any, e *Exchange, r *http.Request, m *Metrics, log *slog.Logger, errs ErrorWriter) {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	m.panics.Add(1)
	log.ErrorContext(e, "panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if e.code == 0 && !e.hijacked {
		errs(e, r, errors.New("panic"))
	}
}

// Count records every request in m: per route (the mux pattern), per
// status class, and in the Prometheus request histogram and counter.
func Count(m *Metrics) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			defer m.record(e)
			next.ServeHTTP(e, r)
		})
	}
}

// AccessLog logs every request at debug level, and every 5xx at error
// level, with method, path, route, status, duration and cache status.
func AccessLog(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, r := Enter(w, r)
			defer func() { logRequest(log, log.Enabled(e, slog.LevelDebug), e, r) }()
			next.ServeHTTP(e, r)
		})
	}
}

// logRequest logs e's request: at error level for a 5xx, at debug level
// (when debug says the logger wants it) for the rest.
func logRequest(log *slog.Logger, debug bool, e *Exchange, r *http.Request) {
	code := e.Status()
	if code == 0 {
		code = http.StatusOK
	}
	d := e.dur
	if d == 0 {
		d = e.elapsed()
	}
	switch {
	case code >= 500:
		log.ErrorContext(e, "request", "method", r.Method, "path", r.URL.Path, "route", e.Route(), "status", code, "dur", d)
	case debug:
		log.DebugContext(e, "request", "method", r.Method, "path", r.URL.Path, "route", e.Route(),
			"status", code, "dur", d, "cache", e.trace.Status().String())
	}
}
