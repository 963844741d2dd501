package server

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// Exchange is the state of one HTTP request as it passes through the
// middleware pieces: its id, its cache trace, whether it bypasses caches,
// the status written, how long it took. It is at once
//
//   - the request's context.Context: it answers the request id, the cache
//     trace and the bypass flag from its own fields, so those three values
//     cost no context.WithValue allocation each, and
//   - the http.ResponseWriter the inner handlers write to: it records the
//     status and stamps X-Cache when the CacheStatus piece asked for it.
//
// The first piece that needs it creates it (Enter); every later piece finds
// it again through the ResponseWriter, so a whole chain costs one Exchange
// and one request copy per request, however many pieces it has.
type Exchange struct {
	context.Context // the request's original context

	w     http.ResponseWriter
	req   *http.Request // the request the pieces and the routes see
	start time.Duration // monotonic: since monoEpoch (one clock read, see now)

	id    string
	idHdr [1]string   // the X-Request-Id header value, without a slice allocation
	idBuf [idLen]byte // a generated id's bytes (assignID)
	trace domain.CacheTrace

	code     int           // status written (0: none yet)
	dur      time.Duration // set by the Count piece
	route    string        // overrides the mux pattern ("rate_limited")
	stat     *routeStat    // the matched route's counters (set by Spine.Handle's wrapper)
	bypass   bool          // Cache-Control: no-cache on the request
	xcache   bool          // stamp X-Cache on the response
	hijacked bool          // the connection was taken over (WebSocket)
	// done is set when the spine has finished the request: a connection
	// scope still answers it (for goroutines that outlive the request),
	// but Enter no longer adopts it.
	done atomic.Bool
}

type exchangeKey struct{}

// connScope is the base context of one connection's requests (the server's
// ConnContext). It answers the request-scoped keys (the Exchange, request
// id, cache trace, bypass) from the Exchange of the request the connection
// serves now, so the spine need not copy every request (Request.WithContext
// is a 250-byte allocation and copy) to hang its Exchange on the request's
// context: the context net/http makes for each request already derives
// from this one. An HTTP/1 connection serves one request at a time; the
// scope keeps the last Exchange after its request ends, so a goroutine the
// request started still finds its request id and trace (a WebSocket's, for
// the life of the connection) — until the connection's next request
// begins.
type connScope struct {
	context.Context
	cur atomic.Pointer[Exchange]
}

type connScopeKey struct{}

// ConnScope is an http.Server.ConnContext hook: it gives each connection a
// connScope (server.HTTP installs it), the one inside the connection when
// it is the listener's watchConn.
func ConnScope(ctx context.Context, c net.Conn) context.Context {
	if wc, ok := c.(*watchConn); ok && wc.scope.Context == nil {
		wc.scope.Context = ctx
		return &wc.scope
	}
	return &connScope{Context: ctx}
}

// Value answers the request-scoped keys from the current Exchange.
func (c *connScope) Value(key any) any {
	// Type switches: the keys are empty structs, so a key of the type is
	// the key; comparing interface values would call the type's equality
	// function for each.
	switch key.(type) {
	case connScopeKey:
		return c
	case exchangeKey, requestIDKey, domain.TraceKey, domain.BypassKey:
		if e := c.cur.Load(); e != nil {
			if v := e.own(key); v != nil {
				return v
			}
		}
	}
	return c.Context.Value(key)
}

// enterScoped starts r's Exchange in its connection's scope, without
// copying r; ok is false outside a connection scope or when w already is
// an Exchange (Enter's business).
func enterScoped(w http.ResponseWriter, r *http.Request) (e *Exchange, ok bool) {
	if _, nested := w.(*Exchange); nested {
		return nil, false
	}
	ctx := r.Context()
	cs, ok := ctx.Value(connScopeKey{}).(*connScope)
	if !ok {
		return nil, false
	}
	e = &Exchange{Context: ctx, w: w, start: now(), req: r}
	cs.cur.Store(e)
	return e, true
}

// Enter returns the request's Exchange, creating it (and the request copy
// that carries it as its context) when no earlier piece has. Pieces call it
// first and pass the returned writer and request on.
func Enter(w http.ResponseWriter, r *http.Request) (*Exchange, *http.Request) {
	if e, ok := w.(*Exchange); ok {
		return e, r
	}
	if e, ok := r.Context().Value(exchangeKey{}).(*Exchange); ok && !e.done.Load() {
		// Someone wrapped the writer between two pieces: keep theirs.
		return e, r
	}
	e := &Exchange{Context: r.Context(), w: w, start: now()}
	r = r.WithContext(e)
	e.req = r
	return e, r
}

// Context is r's context as a handler behind the spine should read it: the
// Exchange when w is one (it is r.Context() with the request-scoped values
// answered from its own fields, without walking r's context chain to the
// connection scope for each), else r.Context().
func Context(w http.ResponseWriter, r *http.Request) context.Context {
	if e, ok := w.(*Exchange); ok && e.req == r {
		return e
	}
	return r.Context()
}

// ExchangeOf returns the Exchange in ctx, or nil outside the spine.
func ExchangeOf(ctx context.Context) *Exchange {
	e, _ := ctx.Value(exchangeKey{}).(*Exchange)
	return e
}

// Value answers the request-scoped keys from the Exchange's fields and
// everything else from the original context.
func (e *Exchange) Value(key any) any {
	if v := e.own(key); v != nil {
		return v
	}
	return e.Context.Value(key)
}

// own is the value of a request-scoped key the Exchange holds, or nil.
func (e *Exchange) own(key any) any {
	switch key.(type) { // empty-struct keys: see connScope.Value
	case exchangeKey:
		return e
	case requestIDKey:
		if e.id != "" {
			return e // RequestID reads e.id: no string boxing
		}
	case domain.TraceKey:
		return &e.trace
	case domain.BypassKey:
		if e.bypass {
			return true
		}
	}
	return nil
}

// ID is the request id ("" before the RequestID piece ran).
func (e *Exchange) ID() string { return e.id }

// Trace is the request's cache trace.
func (e *Exchange) Trace() *domain.CacheTrace { return &e.trace }

// Status is the status written so far: 0 when nothing was written, 101
// after a hijack.
func (e *Exchange) Status() int {
	if e.code == 0 && e.hijacked {
		return http.StatusSwitchingProtocols
	}
	return e.code
}

// Start is when the request entered the spine (its wall-clock reading is
// derived from the monotonic clock since the process started).
func (e *Exchange) Start() time.Time { return monoEpoch.Add(e.start) }

// elapsed is the time since the request entered the spine.
func (e *Exchange) elapsed() time.Duration { return now() - e.start }

// monoEpoch anchors now: time.Since on a time.Time that carries a
// monotonic reading reads only the monotonic clock, half the cost of
// time.Now (which reads the wall clock as well) — about 150 ns of 300 per
// call on a virtual machine's kvm-clock, twice per request.
var monoEpoch = time.Now()

// now is the monotonic time since monoEpoch.
func now() time.Duration { return time.Since(monoEpoch) }

// SetRoute names the request's route for counting and logs when it did not
// reach a mux pattern (the rate limiter uses "rate_limited").
func (e *Exchange) SetRoute(route string) { e.route = route }

// Route is the route the request is counted under: the name SetRoute gave,
// else the pattern the mux matched, else "unmatched".
func (e *Exchange) Route() string {
	switch {
	case e.route != "":
		return e.route
	case e.req != nil && e.req.Pattern != "":
		return e.req.Pattern
	}
	return RouteUnmatched
}

// Header implements http.ResponseWriter.
func (e *Exchange) Header() http.Header { return e.w.Header() }

// WriteHeader records the status and, when asked, stamps X-Cache from the
// request's cache trace: the cache layer has marked it by the time the
// handler writes. A second final status is ignored, as net/http does.
func (e *Exchange) WriteHeader(code int) {
	if e.code != 0 {
		return
	}
	if code >= 200 {
		e.code = code
	}
	if e.xcache {
		st := e.trace.Status()
		if st < 0 || int(st) >= len(xcacheValues) {
			st = domain.CacheNone
		}
		e.w.Header()["X-Cache"] = xcacheValues[st]
	}
	e.w.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (e *Exchange) Write(b []byte) (int, error) {
	if e.code == 0 {
		e.WriteHeader(http.StatusOK)
	}
	return e.w.Write(b)
}

// Flush sends buffered data (server-sent events, long polls).
func (e *Exchange) Flush() {
	if e.code == 0 {
		e.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(e.w).Flush()
}

// Hijack hands the connection over (WebSocket upgrades); the request then
// counts as 101.
func (e *Exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(e.w).Hijack()
	if err == nil {
		e.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// full-duplex).
func (e *Exchange) Unwrap() http.ResponseWriter { return e.w }

// xcacheValues holds the X-Cache header values, so stamping does not
// allocate.
// allocate, indexed by status.
var xcacheValues = func() (v [domain.CacheBypass + 1][]string) {
	for s := range v {
		v[s] = []string{domain.CacheStatus(s).String()}
	}
	return v
}()
