package server

import (
	"context"
	"encoding/json"
	"errors"
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

func TestExchangeIsOneAllocation(t *testing.T) {
	// The whole chain costs the Exchange and the request copy (plus the
	// generated id): adding pieces adds no allocation.
	sp := NewSpine(SpineOptions{})
	sp.Handle("GET /p", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		domain.CacheTraceFrom(r.Context()).Mark(domain.CacheHit)
		w.WriteHeader(204)
	}))
	r := httptest.NewRequest(http.MethodGet, "/p", nil)
	r.Header.Set("X-Request-ID", "fixed")
	w := &discardWriter{h: http.Header{}}
	sp.ServeHTTP(w, r) // warm the per-code counter
	allocs := testing.AllocsPerRun(200, func() {
		clear(w.h)
		sp.ServeHTTP(w, r)
	})
	if allocs > 2 {
		t.Errorf("spine allocations per request = %v, want ≤ 2 (Exchange, request copy)", allocs)
	}
	if w.h.Get("X-Cache") != "HIT" || w.h.Get("X-Request-Id") != "fixed" {
		t.Errorf("headers %v", w.h)
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
