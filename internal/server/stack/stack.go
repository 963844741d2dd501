package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/store"
)

// Session schemes for Config.Session.
const (
	SessionJWT   = "jwt"
	SessionRedis = "redis"
)

// RedisModeNone is /stats redis_mode when the stack uses no Redis.
const RedisModeNone = "none"

// Config is the shared server configuration (the flags of `serve ...`).
// The zero value is a valid stack: no cache, the store's default latency
// model, the small dataset, JWT auth, no rate limit.
type Config struct {
	// Cache is the cache backend: none (default), lru, tinylfu or redis.
	Cache string
	// Strategy is the write strategy: aside (default), write-through or
	// write-behind (redis only).
	Strategy string
	// CacheMode is object (default: cache entities, servers render every
	// response) or response (servers cache rendered responses; see
	// Stack.Responses).
	CacheMode string
	// TTL is the cache entry lifetime. Zero means cache.DefaultTTL (1m).
	TTL time.Duration
	// TTLJitter adds a uniform [0, TTLJitter) to every entry's TTL so keys
	// cached together do not expire together. Default 0.
	TTLJitter time.Duration
	// Invalidation is what a write does to the cached entity: delete or
	// update; empty means the strategy's own (aside: delete; write-through
	// and write-behind: update).
	Invalidation string
	// CacheMaxBytes bounds each in-process backend (lru, tinylfu) in bytes:
	// keys, values and a fixed per-entry overhead; it holds the object and
	// the response caches alike. Zero means memcache.DefaultMaxBytes
	// (64 MiB).
	CacheMaxBytes int64
	// RedisURL is the user's Redis. Empty: when a Redis-backed option is
	// chosen, spawn redis-server from PATH, else embedded miniredis.
	RedisURL string
	// Redis is an already running Redis to use (the demo starts one for all
	// its variants); its mode is reported as redis_mode and the stack does
	// not stop it. Takes precedence over RedisURL.
	Redis *rediscache.Instance
	// NeedRedis asks for a Redis although neither the cache nor sessions
	// use one (GraphQL's --apq redis). Default false.
	NeedRedis bool
	// RedisNoSpawn skips redis-server and uses embedded miniredis when no
	// RedisURL is given. Default false.
	RedisNoSpawn bool
	// Store selects where the data lives: memory (default, ""), sqlite:PATH
	// or a postgres:// URL (see store.ParseSpec). A database gets the
	// dataset only when it holds none yet.
	Store string
	// StoreLatency is the store's per-call cost; zero means free (not the
	// store's default: the CLI flag carries the default, 2ms on memory).
	StoreLatency time.Duration
	// StorePerRow is the store's per-row cost; zero means free.
	StorePerRow time.Duration
	// StoreJitter adds a uniform [0, StoreJitter) to every store call.
	// Default 0.
	StoreJitter time.Duration
	// StorePool is the store's connection pool: modelled on memory (zero
	// or negative: unbounded), the real pool on a database (zero: 8).
	StorePool int
	// Dataset is small (default), medium, large, or explicit counts like
	// "products=5000,users=200" (domain.ParseCounts).
	Dataset string
	// Seed seeds the dataset. Default 0 (any fixed seed reproduces).
	Seed int64
	// Session is the auth scheme for writes: jwt (default) or redis
	// (opaque session ids stored in Redis).
	Session string
	// JWTKey is the HMAC key of JWTs. Default: random per process.
	JWTKey []byte
	// TokenTTL is the lifetime of issued tokens and sessions. Default
	// server.DefaultTokenTTL (1h).
	TokenTTL time.Duration
	// RateLimit limits requests per client. Zero: no limit. Enforced in
	// Redis (GCRA, shared by every process on that Redis) when the stack
	// has a Redis, else in process.
	RateLimit server.Rate
	// KeyPrefix namespaces the stack's Redis keys (cache entries and rate
	// limits), so several stacks can share one Redis. Default
	// cache.DefaultPrefix ("loadrig:").
	KeyPrefix string
	// Logger receives the stack's logs (which Redis, drains). Default:
	// discard.
	Logger *slog.Logger
}

// Validate reports the first bad value as one line saying how to fix it.
func (c Config) Validate() error {
	switch c.Cache {
	case "", cache.BackendNone, cache.BackendLRU, cache.BackendTinyLFU, cache.BackendRedis:
	default:
		return fmt.Errorf("--cache %q is not one of none, lru, tinylfu, redis", c.Cache)
	}
	switch c.Strategy {
	case "", cache.StrategyAside, cache.StrategyWriteThrough, cache.StrategyWriteBehind:
	default:
		return fmt.Errorf("--strategy %q is not one of aside, write-through, write-behind", c.Strategy)
	}
	if c.Strategy == cache.StrategyWriteBehind && c.Cache != cache.BackendRedis {
		return fmt.Errorf("--strategy write-behind needs --cache redis (writes queue in a Redis Stream), not %q", orNone(c.Cache))
	}
	if (c.Strategy == cache.StrategyWriteThrough) && orNone(c.Cache) == cache.BackendNone {
		return errors.New("--strategy write-through needs a cache: add --cache lru, tinylfu or redis")
	}
	switch c.Invalidation {
	case "", cache.InvalidateDelete, cache.InvalidateUpdate:
	default:
		return fmt.Errorf("--invalidation %q is not one of delete, update", c.Invalidation)
	}
	if c.Strategy == cache.StrategyWriteThrough && c.Invalidation == cache.InvalidateDelete {
		return errors.New("--strategy write-through puts the written entity in the cache; --invalidation delete contradicts it (use --strategy aside)")
	}
	if c.TTLJitter < 0 {
		return fmt.Errorf("--ttl-jitter must not be negative (got %v)", c.TTLJitter)
	}
	switch c.CacheMode {
	case "", cache.ModeObject:
	case cache.ModeResponse:
		if orNone(c.Cache) == cache.BackendNone {
			return errors.New("--cache-mode response needs a cache: add --cache lru, tinylfu or redis")
		}
		if c.Strategy == cache.StrategyWriteBehind {
			return errors.New("--cache-mode response cannot be combined with --strategy write-behind (unflushed writes live in cached entities); use object mode")
		}
	default:
		return fmt.Errorf("--cache-mode %q is not one of object, response", c.CacheMode)
	}
	switch c.Session {
	case "", SessionJWT, SessionRedis:
	default:
		return fmt.Errorf("--session %q is not one of jwt, redis", c.Session)
	}
	if c.RedisURL != "" {
		if err := rediscache.CheckURL(c.RedisURL); err != nil {
			return fmt.Errorf("--redis-url: %v (for example redis://127.0.0.1:6379/0)", err)
		}
	}
	if _, _, err := store.ParseSpec(c.Store); err != nil {
		return err
	}
	if _, err := domain.ParseCounts(c.Dataset); err != nil {
		return fmt.Errorf("--dataset: %s", domain.ErrorMessage(err))
	}
	switch {
	case c.TTL < 0:
		return fmt.Errorf("--ttl must not be negative (got %v)", c.TTL)
	case c.StoreLatency < 0, c.StorePerRow < 0, c.StoreJitter < 0:
		return errors.New("--store-latency, --store-per-row and --store-jitter must not be negative")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return cache.BackendNone
	}
	return s
}

// NeedsRedis reports whether c needs a Redis (for the cache or sessions).
func (c Config) NeedsRedis() bool {
	return c.Cache == cache.BackendRedis || c.Session == SessionRedis || c.RedisURL != "" || c.Redis != nil || c.NeedRedis
}

// Stack is one process's shared server state.
type Stack struct {
	// Store is the store (the single source of truth): its backend behind
	// the latency model.
	Store *store.Store
	// StoreInfo says which backend Store is and what it holds.
	StoreInfo store.Info
	// Cache is the cache layer over Store; Catalog is the same value as a
	// domain.Catalog, what handlers are given.
	Cache   *cache.Layer
	Catalog domain.Catalog
	// Feed carries product changes to streaming clients; the cache layer
	// publishes every acknowledged product update to it.
	Feed *domain.Feed
	// Auth issues and verifies bearer credentials.
	Auth server.Authenticator
	// Limiter is the per-client rate limiter; nil when unlimited.
	Limiter server.Limiter

	cfg   Config
	log   *slog.Logger
	redis *rediscache.Instance // nil: no Redis, or the user's
	rb    *rediscache.Backend
	mode  string
	// lossWindow states what a crash can lose of write-behind's queue.
	lossWindow string
}

// New builds the stack: dataset, store, Redis if needed, cache layer,
// authenticator and limiter.
func New(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	counts, _ := domain.ParseCounts(cfg.Dataset)
	s := &Stack{cfg: cfg, log: log, Feed: domain.NewFeed(), mode: RedisModeNone}
	model := store.Options{
		Latency: offIfZero(cfg.StoreLatency),
		PerRow:  offIfZero(cfg.StorePerRow),
		Jitter:  cfg.StoreJitter,
		Pool:    poolOf(cfg.StorePool),
	}
	backend, info, err := store.Open(ctx, store.OpenOptions{
		Spec: cfg.Store, Dataset: domain.Generate(cfg.Seed, counts), Pool: max(cfg.StorePool, 0),
	})
	if err != nil {
		return nil, err
	}
	s.Store, s.StoreInfo = store.Wrap(backend, model), info
	if info.Backend != store.BackendMemory {
		what := "kept the data it holds"
		if info.Seeded {
			what = "was empty: loaded the dataset"
		}
		log.Info("store: database opened", "backend", info.Backend, "target", info.Target, "dataset", info.Dataset, "note", what)
	}

	if cfg.NeedsRedis() {
		in := cfg.Redis
		if in == nil {
			var err error
			in, err = rediscache.Start(ctx, rediscache.StartOptions{URL: cfg.RedisURL, NoSpawn: cfg.RedisNoSpawn, Logger: log,
				DataDir: redisDataDir(cfg, info)})
			if err != nil {
				_ = s.Store.Close()
				return nil, err
			}
			if in.Mode() != rediscache.ModeExternal {
				s.redis = in // started here: stopped by Close
			}
		}
		s.mode = in.Mode()
		s.lossWindow = in.LossWindow()
		if s.lossWindow == "" {
			s.lossWindow = "that of the Redis in use (" + in.Mode() + "): its persistence settings decide what a Redis crash loses"
		}
		if cfg.Strategy == cache.StrategyWriteBehind {
			log.Info("write-behind: acknowledged writes wait in Redis until flushed", "loss_window", s.lossWindow)
		}
		rb, err := rediscache.Open(rediscache.Options{URL: in.URL()})
		if err != nil {
			s.closeRedis()
			_ = s.Store.Close()
			return nil, err
		}
		s.rb = rb
	}

	layer, err := cache.New(s.Store, cache.Config{
		Backend: orNone(cfg.Cache), Strategy: cfg.Strategy, Mode: cfg.CacheMode, TTL: cfg.TTL,
		TTLJitter: cfg.TTLJitter, Invalidation: cfg.Invalidation, MaxBytes: cfg.CacheMaxBytes,
		Redis: s.rb, Feed: s.Feed, KeyPrefix: cfg.KeyPrefix,
	})
	if err != nil {
		s.closeRedis()
		_ = s.Store.Close()
		return nil, err
	}
	s.Cache, s.Catalog = layer, layer

	if cfg.Session == SessionRedis {
		s.Auth = server.NewSessionAuth(rediscache.NewSessions(s.rb), cfg.TokenTTL, nil)
	} else {
		s.Auth = server.NewJWT(server.JWTOptions{Key: cfg.JWTKey, TTL: cfg.TokenTTL})
	}
	if cfg.RateLimit.Enabled() {
		if s.rb != nil {
			r := cfg.RateLimit
			// A Redis outage degrades the shared limit to a per-process
			// one rather than lifting it.
			s.Limiter = server.NewFallbackLimiter(redisLimiter{l: rediscache.NewRateLimiter(s.rb, r.Events, r.Per, r.Burst), prefix: cfg.KeyPrefix}, r, log)
		} else {
			s.Limiter = server.NewLocalLimiter(cfg.RateLimit, nil)
		}
	}
	log.Info("server stack ready", "store", info.Backend, "cache", orNone(cfg.Cache), "strategy", layer.Strategy(),
		"dataset", orDefault(cfg.Dataset, "small"), "seed", cfg.Seed, "store_latency", cfg.StoreLatency,
		"store_pool", cfg.StorePool, "auth", s.Auth.Kind(), "rate_limit", cfg.RateLimit.String(), "redis_mode", s.mode)
	return s, nil
}

// redisDataDir is where a spawned Redis persists: only for write-behind over
// a database (the acknowledged writes queued in Redis must outlive a crash
// as the database does). SQLite: a folder beside the file; Postgres: one
// per database in the user's cache folder.
func redisDataDir(cfg Config, info store.Info) string {
	if cfg.Strategy != cache.StrategyWriteBehind || info.Backend == store.BackendMemory {
		return ""
	}
	if info.Backend == store.BackendSQLite {
		return info.Target + ".redis"
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(info.Target))
	return filepath.Join(base, "loadrig", "redis-"+hex.EncodeToString(sum[:6]))
}

func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return store.Off
	}
	return d
}

func poolOf(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Deps is the one dependency set every transport of the process is built
// from: the cache layer as Catalog (and Login), the authenticator, the
// limiter, the event feed, the stack's logger and /stats sections, and the
// response cache in response mode. The cache layer publishes acknowledged
// product changes to Feed itself.
func (s *Stack) Deps() server.Deps {
	d := server.Deps{
		Catalog: s.Catalog, Auth: s.Auth, Limiter: s.Limiter, Feed: s.Feed,
		Logger: s.log, Stats: s.Stats, Responses: s.Responses(), KeyPrefix: s.KeyPrefix(),
	}
	if s.rb != nil {
		d.KV = s.rb
	}
	return d.WithDefaults()
}

// Responses is the full-response cache servers should use, or nil in
// object mode.
func (s *Stack) Responses() *cache.Responses {
	if s.Cache.Mode() != cache.ModeResponse {
		return nil
	}
	return s.Cache.Responses()
}

// RedisBackend is the stack's Redis client, or nil when it uses no Redis:
// for a server's own Redis data (GraphQL's persisted queries).
func (s *Stack) RedisBackend() *rediscache.Backend { return s.rb }

// KeyPrefix namespaces the stack's Redis keys (Config.KeyPrefix, default
// cache.DefaultPrefix).
func (s *Stack) KeyPrefix() string {
	if s.cfg.KeyPrefix == "" {
		return cache.DefaultPrefix
	}
	return s.cfg.KeyPrefix
}

// RedisMode is /stats redis_mode: none, external, spawned or
// embedded-miniredis.
func (s *Stack) RedisMode() string { return s.mode }

// LimiterKind says which limiter is in force: "off", "redis" or "local".
func (s *Stack) LimiterKind() string {
	switch s.Limiter.(type) {
	case nil:
		return "off"
	case redisLimiter, *server.FallbackLimiter:
		return "redis"
	}
	return "local"
}

// Stats returns the stack's /stats sections: cache, store, write_behind,
// redis_mode, redis (client pool and command counts) and rate_limit.
func (s *Stack) Stats() map[string]any {
	cs := toMap(s.Cache.Stats())
	out := map[string]any{
		"cache":      cs,
		"store":      toMap(s.Store.Stats()),
		"redis_mode": s.mode,
		"rate_limit": s.rateLimitStats(),
	}
	if wb, ok := cs["write_behind"]; ok {
		if m, ok := wb.(map[string]any); ok {
			m["loss_window"] = s.lossWindow
		}
		out["write_behind"] = wb
		delete(cs, "write_behind")
	} else {
		out["write_behind"] = map[string]any{"backlog": 0, "enabled": false}
	}
	if _, inCache := cs["redis"]; !inCache && s.rb != nil {
		out["redis"] = toMap(s.rb.Stats())
	}
	return out
}

func (s *Stack) rateLimitStats() map[string]any {
	out := map[string]any{"limit": s.cfg.RateLimit.String(), "backend": s.LimiterKind()}
	if f, ok := s.Limiter.(*server.FallbackLimiter); ok {
		out["local_fallbacks"] = f.Fallbacks()
	}
	return out
}

// toMap turns a stats struct into the generic map /stats and the
// Prometheus collector walk, keeping its JSON names.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return m
}

// Close drains the write-behind backlog into the store within ctx, then
// closes Redis clients and stops any Redis the stack started. Call it after
// the servers have stopped taking requests.
func (s *Stack) Close(ctx context.Context) error {
	err := s.Cache.Close(ctx)
	if err != nil {
		s.log.Warn("cache close", "err", err)
	} else if wb := s.Cache.WriteBehindStats(); wb.Enabled {
		// Say that the acknowledged writes reached the store: on shutdown
		// that is what a write-behind user needs to know.
		s.log.Info("write-behind backlog drained into the store", "acknowledged", wb.Acknowledged,
			"flushed", wb.Flushed, "remaining", wb.Backlog, "stream", wb.Stream)
	}
	s.closeRedis()
	if cerr := s.Store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (s *Stack) closeRedis() {
	if s.rb != nil {
		_ = s.rb.Close()
		s.rb = nil
	}
	if s.redis != nil {
		_ = s.redis.Close()
		s.redis = nil
	}
}

// redisLimiter adapts rediscache.RateLimiter to server.Limiter.
type redisLimiter struct {
	l      *rediscache.RateLimiter
	prefix string
}

func (r redisLimiter) Allow(ctx context.Context, key string) (server.Decision, error) {
	ok, rem, retry, err := r.l.Allow(ctx, r.prefix+key)
	if err != nil {
		return server.Decision{}, err
	}
	return server.Decision{Allowed: ok, Remaining: rem, RetryAfter: retry}, nil
}
