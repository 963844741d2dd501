package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/syncbuf"
)

// One Redis for the package (COMMON.md): redis-server when installed,
// miniredis otherwise.
var redisInst *rediscache.Instance

func TestMain(m *testing.M) { redistest.Main(m, &redisInst) }

func newStack(t *testing.T, cfg Config) *Stack {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Cache: "memcached"}, "--cache"},
		{Config{Strategy: "write-around"}, "--strategy"},
		{Config{Cache: "lru", Strategy: "write-behind"}, "needs --cache redis"},
		{Config{Strategy: "write-through"}, "needs a cache"},
		{Config{Session: "cookie"}, "--session"},
		{Config{Dataset: "huge"}, "--dataset"},
		{Config{TTL: -time.Second}, "--ttl"},
		{Config{StoreLatency: -time.Second}, "--store-latency"},
		{Config{RedisURL: "foo://x"}, "--redis-url"},
		{Config{RedisURL: "localhost:6379"}, "--redis-url"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error mentioning %s", c.cfg, err, c.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestInProcessStack(t *testing.T) {
	t.Parallel()
	s := newStack(t, Config{Cache: "lru", StoreLatency: time.Millisecond, StorePool: 4, RateLimit: server.Rate{Events: 10, Per: time.Second, Burst: 10}})
	ctx := domain.WithCacheTrace(t.Context(), &domain.CacheTrace{})
	if _, err := s.Catalog.GetProduct(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Catalog.GetProduct(ctx, 1); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if _, ok := s.Catalog.ProductVersion(ctx, 1); !ok {
		t.Error("the LRU layer does not know a cached product's version")
	}
	for _, path := range [][]string{
		{"cache", "hits"}, {"cache", "misses"}, {"cache", "errors"}, {"store", "calls"},
		{"write_behind", "backlog"}, {"redis_mode"},
	} {
		if !has(st, path...) {
			t.Errorf("stats lack %s: %v", strings.Join(path, "."), st)
		}
	}
	if st["redis_mode"] != RedisModeNone || s.LimiterKind() != "local" || s.Auth.Kind() != "jwt" {
		t.Errorf("redis_mode %v, limiter %s, auth %s", st["redis_mode"], s.LimiterKind(), s.Auth.Kind())
	}
	cache := st["cache"].(map[string]any)
	if cache["hits"] != 1.0 || cache["misses"] != 1.0 || st["store"].(map[string]any)["calls"] != 1.0 {
		t.Errorf("cache %v, store %v: want 1 hit, 1 miss, 1 store call", cache, st["store"])
	}
	if _, err := s.Catalog.(domain.Authenticator).Authenticate(t.Context(), "user1@example.com", domain.SeedPassword); err != nil {
		t.Errorf("login through the stack: %v", err)
	}
}

func has(m map[string]any, path ...string) bool {
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

func TestRedisStack(t *testing.T) {
	t.Parallel()
	t.Logf("redis mode: %s at %s", redisInst.Mode(), redisInst.Addr())
	s := newStack(t, Config{
		Cache: "redis", Strategy: "write-behind", RedisURL: redisInst.URL(), Session: SessionRedis,
		RateLimit: server.Rate{Events: 5, Per: time.Hour, Burst: 2}, StoreLatency: time.Millisecond,
	})
	if s.RedisMode() != rediscache.ModeExternal || s.LimiterKind() != "redis" || s.Auth.Kind() != "session" {
		t.Fatalf("mode %s, limiter %s, auth %s", s.RedisMode(), s.LimiterKind(), s.Auth.Kind())
	}
	ctx := t.Context()
	tok, err := s.Auth.Issue(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.Auth.Verify(ctx, tok.Value); err != nil || u != 9 {
		t.Fatalf("session verify = %d, %v", u, err)
	}
	key := fmt.Sprintf("client-%d", time.Now().UnixNano())
	for i := range 2 {
		if d, err := s.Limiter.Allow(ctx, key); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v %v", i, d, err)
		}
	}
	if d, err := s.Limiter.Allow(ctx, key); err != nil || d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("3rd request with burst 2: %+v %v", d, err)
	}
	price := 4.5
	if _, err := s.Catalog.UpdateProduct(ctx, 2, domain.ProductPatch{Price: &price}); err != nil {
		t.Fatal(err)
	}
	if !has(s.Stats(), "write_behind", "backlog") {
		t.Errorf("stats lack write_behind.backlog: %v", s.Stats()["write_behind"])
	}
	// Close drains the write-behind backlog into the store.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Cache.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Store.PeekProduct(2); p.Price != price {
		t.Errorf("store price after drain = %v, want %v", p.Price, price)
	}
}

// TestCloseLogsDrain checks that closing a write-behind stack logs that the
// backlog reached the store (SIGTERM's log is how a user checks it).
func TestCloseLogsDrain(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	s, err := New(t.Context(), Config{
		Cache: "redis", Strategy: "write-behind", RedisURL: redisInst.URL(), StoreLatency: time.Millisecond,
		KeyPrefix: fmt.Sprintf("drainlog%d:", time.Now().UnixNano()),
		Logger:    slog.New(slog.NewTextHandler(&buf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	price := 7.25
	for id := int64(1); id <= 3; id++ {
		if _, err := s.Catalog.UpdateProduct(t.Context(), id, domain.ProductPatch{Price: &price}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "write-behind backlog drained") || !strings.Contains(out, "acknowledged=3") || !strings.Contains(out, "remaining=0") {
		t.Errorf("close log lacks the drain report:\n%s", out)
	}
}

// syncBuffer is a goroutine-safe sink for logs and output.
type syncBuffer = syncbuf.Buffer

func TestSpawnsRedisWhenNeeded(t *testing.T) {
	t.Parallel()
	s := newStack(t, Config{Cache: "redis"})
	want := rediscache.ModeSpawned
	if _, err := os.Stat("/usr/bin/redis-server"); err != nil {
		want = rediscache.ModeEmbedded
	}
	if s.RedisMode() != want || s.Stats()["redis_mode"] != want {
		t.Fatalf("redis_mode = %s, want %s", s.RedisMode(), want)
	}
	t.Logf("redis mode: %s", s.RedisMode())
	if _, err := s.Catalog.GetProduct(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
}
