package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// markingHandler marks the cache trace like a cache layer would and echoes
// what the context carries.
func markingHandler(status domain.CacheStatus) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		domain.CacheTraceFrom(ctx).Mark(status)
		if domain.Bypass(ctx) {
			domain.CacheTraceFrom(ctx).Mark(domain.CacheBypass)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": RequestID(ctx), "bypass": domain.Bypass(ctx)})
	})
}

func TestPiecesAlone(t *testing.T) {
	t.Parallel()
	// Each piece works by itself, in any combination, and several pieces
	// share one Exchange.
	h := Chain(markingHandler(domain.CacheHit), AssignRequestID(NewRequestIDs()), CacheStatus(), Bypass())

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("X-Request-ID", "client-id-1")
	h.ServeHTTP(w, r)
	var got struct {
		ID     string
		Bypass bool
	}
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if w.Header().Get("X-Request-Id") != "client-id-1" || got.ID != "client-id-1" || w.Header().Get("X-Cache") != "HIT" || got.Bypass {
		t.Errorf("headers %v, body %+v", w.Header(), got)
	}

	w = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("X-Request-ID", "bad id with spaces")
	r.Header.Set("Cache-Control", "no-cache")
	h.ServeHTTP(w, r)
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if id := w.Header().Get("X-Request-Id"); id == "" || id == "bad id with spaces" || got.ID != id || !got.Bypass || w.Header().Get("X-Cache") != "BYPASS" {
		t.Errorf("headers %v, body %+v", w.Header(), got)
	}

	// Without CacheStatus there is no X-Cache.
	w = httptest.NewRecorder()
	Chain(markingHandler(domain.CacheHit), Bypass()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if _, ok := w.Header()["X-Cache"]; ok {
		t.Errorf("X-Cache without the CacheStatus piece: %v", w.Header())
	}
}

func TestSpineCountsEveryTransport(t *testing.T) {
	t.Parallel()
	// Two "transports" mounted on one spine share its counts, /stats and
	// request ids; unknown paths count as unmatched.
	sp := NewSpine(SpineOptions{Stats: func() map[string]any { return map[string]any{"cache": map[string]any{"hits": 7}} }})
	sp.Handle("GET /api/a", markingHandler(domain.CacheMiss))
	sp.Handle("/graphql", markingHandler(domain.CacheNone))
	sp.AddStats(func(out map[string]any) { out["graphql"] = map[string]any{"requests": 1} })
	s := newHTTP(t, sp)
	for _, p := range []string{"/api/a", "/api/a", "/graphql", "/nope"} {
		resp, err := http.Get(s.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Cache") == "" {
			t.Errorf("%s: headers %v", p, resp.Header)
		}
	}
	st := sp.Stats()
	reqs := st["requests"].(map[string]any)
	if reqs["GET /api/a"] != int64(2) || reqs["/graphql"] != int64(1) || reqs[RouteUnmatched] != int64(1) {
		t.Errorf("requests = %v", reqs)
	}
	resp := st["responses"].(map[string]any)
	if resp["2xx"] != int64(3) || resp["4xx"] != int64(1) || resp["requests"] != int64(4) {
		t.Errorf("responses = %v", resp)
	}
	if st["cache"] == nil || st["graphql"] == nil || st["connections"] == nil || st["uptime_s"] == nil {
		t.Errorf("stats lacks a section: %v", st)
	}
}

func TestSpineRecoversAndLimits(t *testing.T) {
	t.Parallel()
	var allowed atomic.Int64
	lim := limiterFunc(func(context.Context, string) (Decision, error) {
		if allowed.Add(1) > 1 {
			return Decision{RetryAfter: 1500 * time.Millisecond}, nil
		}
		return Decision{Allowed: true}, nil
	})
	sp := NewSpine(SpineOptions{Limiter: lim, LimitPrefixes: []string{"/graphql"}})
	sp.Handle("/graphql", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	sp.Handle("GET /free", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))

	w := httptest.NewRecorder()
	sp.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"internal"`) || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("panic: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	sp.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("limited: %d %v", w.Code, w.Header())
	}
	for range 3 { // outside the limited prefixes
		w = httptest.NewRecorder()
		sp.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/free", nil))
		if w.Code != 200 {
			t.Errorf("/free: %d", w.Code)
		}
	}
	st := sp.Stats()
	if r := st["responses"].(map[string]any); r["panics"] != int64(1) || r["rate_limited"] != int64(1) || r["5xx"] != int64(1) {
		t.Errorf("responses = %v", r)
	}
	if q := st["requests"].(map[string]any); q[RouteRateLimited] != int64(1) || q["/graphql"] != int64(1) || q["GET /free"] != int64(3) {
		t.Errorf("requests = %v", q)
	}
}

type limiterFunc func(context.Context, string) (Decision, error)

func (f limiterFunc) Allow(ctx context.Context, k string) (Decision, error) { return f(ctx, k) }

// The whole chain costs the Exchange and the request copy (plus the
// generated id): adding pieces adds no allocation; in a connection scope
// (server.HTTP's ConnContext) there is no request copy, so the Exchange is
// the only allocation.
func TestExchangeAllocations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scoped bool
		max    float64
		what   string
	}{
		{"copy", false, 2, "Exchange, request copy"},
		{"scoped", true, 1, "the Exchange"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := NewSpine(SpineOptions{})
			sp.Handle("GET /p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				domain.CacheTraceFrom(r.Context()).Mark(domain.CacheHit)
				w.WriteHeader(204)
			}))
			r := httptest.NewRequest(http.MethodGet, "/p", nil)
			if tc.scoped {
				r = r.WithContext(ConnScope(context.Background(), nil))
			}
			r.Header.Set("X-Request-ID", "fixed")
			w := &discardWriter{h: http.Header{}}
			sp.ServeHTTP(w, r) // warm the per-code counter
			allocs := testing.AllocsPerRun(200, func() {
				clear(w.h)
				sp.ServeHTTP(w, r)
			})
			if allocs > tc.max {
				t.Errorf("spine allocations per request = %v, want ≤ %v (%s)", allocs, tc.max, tc.what)
			}
			if w.h.Get("X-Cache") != "HIT" || w.h.Get("X-Request-Id") != "fixed" {
				t.Errorf("headers %v", w.h)
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func TestRunAll(t *testing.T) {
	t.Parallel()
	// One server failing stops the others; errors carry the names.
	boom := errors.New("boom")
	var stopped atomic.Bool
	err := RunAll(t.Context(), time.Second,
		Named{Name: "a", Runner: RunFunc(func(ctx context.Context, _ time.Duration) error {
			<-ctx.Done()
			stopped.Store(true)
			return nil
		})},
		Named{Name: "b", Runner: RunFunc(func(context.Context, time.Duration) error { return boom })},
	)
	if !errors.Is(err, boom) || err.Error() != "b server: boom" || !stopped.Load() {
		t.Errorf("RunAll = %v, a stopped %v", err, stopped.Load())
	}

	// A canceled context stops everything cleanly.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := NewHTTP(HTTPOptions{Handler: http.NotFoundHandler()})
	if err := RunAll(ctx, time.Second, Named{Name: "http", Runner: s}); err != nil {
		t.Errorf("RunAll(canceled) = %v", err)
	}
}

func TestPprofNeverServesCmdline(t *testing.T) {
	t.Parallel()
	sp := NewSpine(SpineOptions{Pprof: true})
	w := httptest.NewRecorder()
	sp.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if w.Code != 200 {
		t.Fatalf("pprof index: %d", w.Code)
	}
	w = httptest.NewRecorder()
	sp.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/pprof/cmdline", nil))
	if w.Code == 200 || strings.Contains(w.Body.String(), ".test") {
		t.Errorf("/debug/pprof/cmdline: %d %q; the command line may hold secrets", w.Code, w.Body)
	}
}

// TestSpineMatchesChain: the Spine runs its pieces in one function; it must
// answer, stamp and count exactly as the pieces chained one by one
// (Chain(mux, Middleware()...)) do.
func TestSpineMatchesChain(t *testing.T) {
	t.Parallel()
	build := func() *Spine {
		lim := limiterFunc(func(context.Context, string) (Decision, error) {
			return Decision{RetryAfter: 2500 * time.Millisecond}, nil
		})
		sp := NewSpine(SpineOptions{Limiter: lim, LimitPrefixes: []string{"/limited/"}})
		sp.Handle("GET /ok/{id}", markingHandler(domain.CacheHit))
		sp.Handle("GET /miss", markingHandler(domain.CacheMiss))
		sp.Handle("/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
		sp.Handle("/abort", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
		sp.Handle("GET /limited/x", markingHandler(domain.CacheHit))
		return sp
	}
	fused := build()
	chained := build()
	chain := Chain(chained.mux, chained.Middleware()...)

	serve := func(h http.Handler, method, path string, hdr ...string) (w *httptest.ResponseRecorder, panicked any) {
		w = httptest.NewRecorder()
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		defer func() { panicked = recover() }()
		h.ServeHTTP(w, r)
		return w, nil
	}
	cases := []struct {
		method, path string
		hdr          []string
	}{
		{"GET", "/ok/1", []string{"X-Request-ID", "a1"}},
		{"GET", "/ok/2", []string{"X-Request-ID", "a2", "Cache-Control", "no-cache"}},
		{"GET", "/ok/3", []string{"X-Request-ID", "a3", "Pragma", "no-cache"}},
		{"GET", "/miss", []string{"X-Request-ID", "a4"}},
		{"POST", "/miss", []string{"X-Request-ID", "a5"}},
		{"GET", "/nope", []string{"X-Request-ID", "a6"}},
		{"POST", "/boom", []string{"X-Request-ID", "a7"}},
		{"GET", "/abort", []string{"X-Request-ID", "a8"}},
		{"GET", "/limited/x", []string{"X-Request-ID", "a9"}},
		{"GET", "/ok/4", []string{"X-Request-ID", "bad id"}},
	}
	for _, c := range cases {
		a, pa := serve(fused, c.method, c.path, c.hdr...)
		b, pb := serve(chain, c.method, c.path, c.hdr...)
		if pa != pb {
			t.Errorf("%s %s: panics %v vs %v", c.method, c.path, pa, pb)
		}
		if a.Code != b.Code || a.Body.String() != b.Body.String() && c.hdr[1] != "bad id" {
			t.Errorf("%s %s: %d %q vs %d %q", c.method, c.path, a.Code, a.Body, b.Code, b.Body)
		}
		ha, hb := a.Header().Clone(), b.Header().Clone()
		if c.hdr[1] == "bad id" { // generated ids differ in their process prefix
			if ha.Get("X-Request-Id") == "" || hb.Get("X-Request-Id") == "" {
				t.Errorf("%s %s: no generated id: %v, %v", c.method, c.path, ha, hb)
			}
			ha.Del("X-Request-Id")
			hb.Del("X-Request-Id")
		}
		if fmt.Sprint(ha) != fmt.Sprint(hb) {
			t.Errorf("%s %s: headers\n%v\n%v", c.method, c.path, ha, hb)
		}
	}
	sa, sb := fused.Stats(), chained.Stats()
	for _, k := range []string{"requests", "responses"} {
		if fmt.Sprint(sa[k]) != fmt.Sprint(sb[k]) {
			t.Errorf("%s: %v vs %v", k, sa[k], sb[k])
		}
	}
	if q := sa["requests"].(map[string]any); q["GET /ok/{id}"] != int64(4) || q[RouteUnmatched] != int64(2) ||
		q[RouteRateLimited] != int64(1) || q["/abort"] != int64(1) {
		t.Errorf("requests = %v", q)
	}
}

// Requests one after another on one keep-alive connection each see their
// own Exchange through the connection scope: their own id, trace and
// bypass flag, never the previous request's; a goroutine a request
// started still reads that request's id after the handler returned, until
// the connection's next request begins.
func TestConnScopeAcrossKeepAliveRequests(t *testing.T) {
	sp := NewSpine(SpineOptions{})
	type seen struct {
		id, ctxID string
		bypass    bool
		exchange  *Exchange
	}
	got := make(chan seen, 8)
	var later atomic.Pointer[context.Context]
	sp.Handle("GET /p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.URL.Query().Get("miss") != "" {
			domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
		} else {
			domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
		}
		ctx2 := context.WithoutCancel(ctx)
		later.Store(&ctx2)
		got <- seen{id: w.Header().Get("X-Request-Id"), ctxID: RequestID(ctx), bypass: domain.Bypass(ctx), exchange: ExchangeOf(ctx)}
		w.WriteHeader(204)
	}))
	s := newHTTP(t, sp)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	do := func(query string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/p"+query, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r1 := do("?miss=1", map[string]string{"X-Request-Id": "first", "Cache-Control": "no-cache"})
	s1 := <-got
	ctx1 := *later.Load()
	if s1.id != "first" || s1.ctxID != "first" || !s1.bypass || s1.exchange == nil {
		t.Fatalf("first request saw %+v", s1)
	}
	if x := r1.Header.Get("X-Cache"); x != "MISS" {
		t.Fatalf("first request X-Cache %q, want MISS", x)
	}
	if id := RequestID(ctx1); id != "first" {
		t.Fatalf("after the first request ended, its context answers id %q, want first", id)
	}
	r2 := do("", map[string]string{"X-Request-Id": "second"})
	s2 := <-got
	if s2.id != "second" || s2.ctxID != "second" || s2.bypass || s2.exchange == nil || s2.exchange == s1.exchange {
		t.Fatalf("second request on the same connection saw %+v (first: %+v)", s2, s1)
	}
	if x := r2.Header.Get("X-Cache"); x != "HIT" {
		t.Fatalf("second request X-Cache %q, want HIT (the first request's MISS must not carry over)", x)
	}
	if n := s.Conns().Total(); n != 1 {
		t.Fatalf("%d connections, want the two requests on one", n)
	}
}
