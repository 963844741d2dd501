package rest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// One Redis for the package (COMMON.md): a real redis-server when installed,
// miniredis otherwise (the test log says which).
var redisInst *rediscache.Instance

func TestMain(m *testing.M) { redistest.Main(m, &redisInst) }

// newTestStack builds a real stack (store + cache layer + the package's
// Redis when cfg needs one and names none), closed when t ends. Tests and
// benchmarks share it.
func newTestStack(t testing.TB, cfg stack.Config) *stack.Stack {
	t.Helper()
	if cfg.NeedsRedis() && cfg.RedisURL == "" {
		cfg.RedisURL = redisInst.URL()
	}
	st, err := stack.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	})
	return st
}

// newStackTest serves the REST handler over a real stack (store + cache
// layer + Redis when asked).
func newStackTest(t testing.TB, cfg stack.Config, d Deps) (*restTest, *stack.Stack) {
	t.Helper()
	st := newTestStack(t, cfg)
	d.Catalog, d.Auth, d.Limiter, d.Stats, d.Responses = st.Catalog, st.Auth, st.Limiter, st.Stats, st.Responses()
	tt, _ := t.(*testing.T)
	rt := newRESTTest(tt, st.Store, d)
	return rt, st
}

func redisT(t *testing.T) {
	t.Helper()
	t.Logf("redis mode: %s at %s", redisInst.Mode(), redisInst.Addr())
}

// TestRealCaches runs the caching contract against every real cache layer.
func TestRealCaches(t *testing.T) {
	for _, cfg := range []stack.Config{
		{Cache: "lru"},
		{Cache: "tinylfu"},
		{Cache: "redis"},
		{Cache: "redis", Strategy: "write-through"},
		{Cache: "redis", Strategy: "write-behind"},
		{Cache: "lru", CacheMode: "response"},
		{Cache: "redis", CacheMode: "response"},
	} {
		name := cfg.Cache + "-" + orAside(cfg.Strategy) + "-" + cfg.CacheMode
		t.Run(name, func(t *testing.T) {
			if cfg.Cache == "redis" {
				redisT(t)
			}
			cfg.KeyPrefix = fmt.Sprintf("t:%s:%d:", name, time.Now().UnixNano()) // fresh keys per run (-count)
			rt, st := newStackTest(t, cfg, Deps{})
			auth := rt.login()

			first := rt.get("/api/products/9")
			wantStatus(t, first, 200)
			if x := first.Header.Get("X-Cache"); x != "MISS" {
				t.Errorf("first read X-Cache = %q, want MISS", x)
			}
			if x := rt.get("/api/products/9").Header.Get("X-Cache"); x != "HIT" {
				t.Errorf("second read X-Cache = %q, want HIT", x)
			}
			// Conditional GET: 304 without a store call.
			calls := st.Store.Stats().Calls
			r := rt.get("/api/products/9", "If-None-Match", first.Header.Get("Etag"))
			wantStatus(t, r, 304)
			if got := st.Store.Stats().Calls; got != calls {
				t.Errorf("304 cost %d store calls, want 0", got-calls)
			}
			// Bypass reads the store.
			r = rt.get("/api/products/9", "Cache-Control", "no-cache")
			if r.Header.Get("X-Cache") != "BYPASS" || st.Store.Stats().Calls != calls+1 {
				t.Errorf("bypass: X-Cache %q, store calls +%d", r.Header.Get("X-Cache"), st.Store.Stats().Calls-calls)
			}
			// Invalidation: the next read shows the new version; aside
			// deletes (MISS), write-through and write-behind update (HIT).
			wantStatus(t, rt.do("PATCH", "/api/products/9", `{"price": 3.5}`, "Authorization", auth), 200)
			r = rt.get("/api/products/9")
			want := "MISS"
			if orAside(cfg.Strategy) != "aside" {
				want = "HIT"
			}
			if r.Header.Get("X-Cache") != want || r.Header.Get("Etag") == first.Header.Get("Etag") {
				t.Errorf("read after PATCH: X-Cache %q (want %s), ETag %s (was %s)", r.Header.Get("X-Cache"), want, r.Header.Get("Etag"), first.Header.Get("Etag"))
			}
			wantStatus(t, rt.get("/api/products/9", "If-None-Match", first.Header.Get("Etag")), 200)

			var stats map[string]any
			rt.get("/stats").json(t, &stats)
			for _, path := range [][]string{
				{"cache", "hits"}, {"cache", "misses"}, {"cache", "errors"}, {"store", "calls"},
				{"write_behind", "backlog"}, {"connections", "active"}, {"connections", "total"}, {"redis_mode"},
			} {
				if !hasKey(stats, path...) {
					t.Errorf("/stats lacks %s", strings.Join(path, "."))
				}
			}
		})
	}
}

func orAside(s string) string {
	if s == "" {
		return "aside"
	}
	return s
}

func hasKey(m map[string]any, path ...string) bool {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = mm[k]; !ok {
			return false
		}
	}
	return true
}

func TestRedisSessionAndRateLimit(t *testing.T) {
	redisT(t)
	rt, st := newStackTest(t, stack.Config{
		Session:   stack.SessionRedis,
		RateLimit: server.Rate{Events: 1, Per: time.Hour, Burst: 6},
		KeyPrefix: fmt.Sprintf("t:sess:%d:", time.Now().UnixNano()),
	}, Deps{})
	if st.LimiterKind() != "redis" || st.Auth.Kind() != "session" {
		t.Fatalf("limiter %s, auth %s", st.LimiterKind(), st.Auth.Kind())
	}
	auth := rt.login()                                                                                                                         // 1
	wantStatus(t, rt.do("PATCH", "/api/products/1", `{"stock": 3}`, "Authorization", auth), 200)                                               // 2
	wantProblem(t, rt.do("PATCH", "/api/products/1", `{"stock": 3}`, "Authorization", "Bearer "+strings.Repeat("A", 32)), 401, "unauthorized") // 3
	for range 3 {                                                                                                                              // 4..6
		wantStatus(t, rt.get("/api/products/1"), 200)
	}
	r := rt.get("/api/products/1") // 7: over the burst of 6
	wantProblem(t, r, 429, "rate_limited")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	wantStatus(t, rt.get("/healthz"), 200)
}
