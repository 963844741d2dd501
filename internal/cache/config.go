package cache

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/loadrig/loadrig/internal/cache/memcache"
	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
)

// Backend names for Config.Backend.
const (
	BackendNone    = "none"
	BackendLRU     = "lru"
	BackendTinyLFU = "tinylfu"
	BackendRedis   = "redis"
)

// Strategy names for Config.Strategy.
const (
	StrategyAside        = "aside"
	StrategyWriteThrough = "write-through"
	StrategyWriteBehind  = "write-behind"
)

// Invalidation names for Config.Invalidation.
const (
	InvalidateDelete = "delete" // delete the cached entity on write; the next read is a MISS
	InvalidateUpdate = "update" // write the new entity into the cache; the next read is a HIT
)

// Mode names for Config.Mode.
const (
	ModeObject   = "object"   // cache domain entities (fragments); servers render every response
	ModeResponse = "response" // servers cache rendered bytes with Layer.Responses
)

// Defaults of Config.
const (
	DefaultTTL     = time.Minute
	DefaultListTTL = time.Second
	DefaultPrefix  = "loadrig:"
)

// Config selects and tunes a Layer. The zero value is a pass-through layer
// (no cache).
type Config struct {
	// Backend is "none" (default: every read goes to the store), "lru",
	// "tinylfu" or "redis".
	Backend string
	// Strategy is "aside" (default), "write-through" or "write-behind"
	// (redis only). Reads are cache-aside in all three; they differ in
	// writes: aside writes the store then invalidates per Invalidation,
	// write-through writes the store then puts the new entity in the cache,
	// write-behind writes Redis and a Redis Stream and lets a flusher write
	// the store later.
	Strategy string
	// Mode is "object" (default) or "response". In response mode the layer
	// caches no entities: servers cache rendered responses through
	// Layer.Responses, and writes invalidate them by tag.
	Mode string
	// Invalidation is "delete" or "update"; empty means the strategy's own
	// (aside: delete; write-through and write-behind: update). Write-through
	// or write-behind with "delete" is rejected as a contradiction.
	Invalidation string
	// TTL is how long entities stay cached. Zero means DefaultTTL (1m).
	TTL time.Duration
	// TTLJitter adds a uniform random [0, TTLJitter) to every TTL so keys
	// cached together do not expire together. Zero means none.
	TTLJitter time.Duration
	// ListTTL is the TTL of cached product list pages and review pages,
	// which any product change invalidates. Zero means DefaultListTTL (1s);
	// negative means lists are not cached.
	ListTTL time.Duration
	// MaxBytes bounds the in-process backends in bytes (keys, values and
	// memcache.EntryOverhead per entry; see memcache.EntryCost). Zero means
	// memcache.DefaultMaxBytes (64 MiB).
	MaxBytes int64
	// Redis is the Redis backend for "redis"; the caller owns it (it may
	// share the client for rate limiting) and closes it after Layer.Close.
	Redis *rediscache.Backend
	// RedisURL, used when Redis is nil, makes the Layer open (and own) a
	// backend.
	RedisURL string
	// BreakerThreshold is how many consecutive failures of a remote
	// backend (Redis) open its circuit breaker, after which reads and writes
	// skip the cache for BreakerCooldown (counted as errors) and one probe
	// per cooldown checks for recovery. Zero means DefaultBreakerThreshold
	// (5); negative disables the breaker. In-process backends have none.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker skips the backend. Zero
	// means DefaultBreakerCooldown (1s).
	BreakerCooldown time.Duration
	// KeyPrefix namespaces every key. Empty means DefaultPrefix ("loadrig:").
	KeyPrefix string
	// WriteBehind tunes the write-behind flusher.
	WriteBehind WriteBehindConfig
	// Feed, when set, receives every product change acknowledged through
	// the layer's UpdateProduct.
	Feed *domain.Feed
	// Now is the clock for UpdatedAt stamps of write-behind writes. Nil
	// means time.Now. The in-process backends get it for their TTLs.
	Now func() time.Time
	// Rand returns uniform floats in [0, 1) for TTL jitter; nil means
	// math/rand/v2.Float64.
	Rand func() float64

	backend Backend // tests: use this backend as-is
}

// WriteBehindConfig tunes the write-behind flusher.
type WriteBehindConfig struct {
	// Stream is the Redis Stream of pending writes. Empty means
	// KeyPrefix + "{p}:wb", in the product keys' cluster slot (ProductSlotTag);
	// a stream named here must carry the same hash tag on a cluster.
	Stream string
	// Group is the consumer group of flushers. Empty means "flushers".
	Group string
	// Consumer names this flusher in the group. Empty means a name made of
	// the host process id and a random suffix.
	Consumer string
	// BatchSize bounds the entries one flush reads and upserts. Zero means 256.
	BatchSize int
	// Block is how long a read waits for new entries before looking again.
	// Zero means 100ms.
	Block time.Duration
	// ClaimIdle is how long an entry must sit unacknowledged with another
	// consumer (which presumably crashed) before this flusher takes it over
	// with XAUTOCLAIM. Zero means 30s.
	ClaimIdle time.Duration
	// NoFlusher starts no flusher in this process: writes are acknowledged
	// and queue up until a flusher (another process, or a later Layer) runs.
	NoFlusher bool

	// crashAfterRead (tests) makes the flusher read one batch and stop
	// without acknowledging it, as if the process died mid-flush.
	crashAfterRead bool
}

// Upserter is the batch write the write-behind flusher needs from the store
// (*store.Store implements it).
type Upserter interface {
	UpsertProducts(ctx context.Context, ps []domain.Product) (domain.UpsertResult, error)
}

// Layer is a domain.Catalog that caches another Catalog (the store) with
// one strategy over one backend. Create it with New; call Close when done.
type Layer struct {
	// What a cached read touches comes first, side by side: the backend
	// as a ValueBackend (in-process; nil otherwise: resolved once, not
	// asserted per read), whether reads go past the cache, the hit counts.
	vb          ValueBackend
	through     bool // no backend, or response mode: objects are not cached
	hits, saved atomic.Int64

	store   domain.Catalog
	b       Backend // nil: no cache
	redis   *rediscache.Backend
	mem     interface{ Stats() memcache.Stats }
	owned   []io.Closer
	backend string
	strat   string
	mode    string
	inval   string
	ttl     time.Duration
	jitter  time.Duration
	listTTL time.Duration
	prefix  string
	nonce   string // namespaces generation-based keys per process
	now     func() time.Time
	rnd     func() float64
	feed    *domain.Feed

	br      *breaker // nil: no breaker (in-process backend, or disabled)
	sf      singleflight.Group
	fill    fillGuard // drops fills that raced a write (see fillguard.go)
	listGen atomic.Int64
	gens    [genStripes]atomic.Int64 // review generations, striped by product id
	pkeys   [keySlots]atomic.Pointer[keySlot]
	resp    *Responses
	wb      *writeBehind

	misses, sets, errs, bypassed, loads atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// New builds a Layer over store. Bad combinations are errors that say what
// to change.
func New(store domain.Catalog, cfg Config) (*Layer, error) {
	if store == nil {
		return nil, errors.New("cache: no store")
	}
	l := &Layer{
		store:   store,
		backend: orDefault(cfg.Backend, BackendNone),
		strat:   orDefault(cfg.Strategy, StrategyAside),
		mode:    orDefault(cfg.Mode, ModeObject),
		inval:   cfg.Invalidation,
		ttl:     cfg.TTL,
		jitter:  max(cfg.TTLJitter, 0),
		listTTL: cfg.ListTTL,
		prefix:  orDefault(cfg.KeyPrefix, DefaultPrefix),
		now:     cfg.Now,
		rnd:     cfg.Rand,
		feed:    cfg.Feed,
	}
	if l.ttl <= 0 {
		l.ttl = DefaultTTL
	}
	if l.listTTL == 0 {
		l.listTTL = DefaultListTTL
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.rnd == nil {
		l.rnd = rand.Float64
	}
	l.fill.seed = maphash.MakeSeed()
	var nb [4]byte
	_, _ = cryptorand(nb[:])
	l.nonce = hex.EncodeToString(nb[:])

	switch l.strat {
	case StrategyAside, StrategyWriteThrough, StrategyWriteBehind:
	default:
		return nil, fmt.Errorf("unknown cache strategy %q: use aside, write-through or write-behind", cfg.Strategy)
	}
	switch l.mode {
	case ModeObject, ModeResponse:
	default:
		return nil, fmt.Errorf("unknown cache mode %q: use object or response", cfg.Mode)
	}
	switch l.inval {
	case "":
		l.inval = InvalidateDelete
		if l.strat != StrategyAside {
			l.inval = InvalidateUpdate
		}
	case InvalidateDelete, InvalidateUpdate:
	default:
		return nil, fmt.Errorf("unknown invalidation %q: use delete or update", cfg.Invalidation)
	}
	if l.strat != StrategyAside && l.inval == InvalidateDelete {
		return nil, fmt.Errorf("%s puts the written entity in the cache; invalidation \"delete\" contradicts it (use strategy aside with delete, or %s with update)", l.strat, l.strat)
	}

	switch {
	case cfg.backend != nil:
		l.b = cfg.backend
		if r, ok := cfg.backend.(*rediscache.Backend); ok {
			l.redis = r
		}
	case l.backend == BackendNone:
	case l.backend == BackendLRU:
		m := memcache.NewLRU(memcache.Options{MaxBytes: cfg.MaxBytes, Now: cfg.Now})
		l.b, l.mem, l.owned = m, m, append(l.owned, m)
	case l.backend == BackendTinyLFU:
		m := memcache.NewTinyLFU(memcache.Options{MaxBytes: cfg.MaxBytes, Now: cfg.Now})
		l.b, l.mem, l.owned = m, m, append(l.owned, m)
	case l.backend == BackendRedis:
		r := cfg.Redis
		if r == nil {
			if cfg.RedisURL == "" {
				return nil, errors.New("cache backend redis needs a Redis: give a redis URL (--redis-url) or let the server start one")
			}
			var err error
			if r, err = rediscache.Open(rediscache.Options{URL: cfg.RedisURL}); err != nil {
				return nil, err
			}
			l.owned = append(l.owned, r)
		}
		l.b, l.redis = r, r
	default:
		return nil, fmt.Errorf("unknown cache backend %q: use none, lru, tinylfu or redis", cfg.Backend)
	}

	if l.b == nil && l.strat != StrategyAside {
		return nil, fmt.Errorf("strategy %s needs a cache backend (lru, tinylfu or redis), not none", l.strat)
	}
	if l.mode == ModeResponse && l.b == nil {
		return nil, errors.New("response caching needs a cache backend (lru, tinylfu or redis), not none")
	}
	if l.b != nil && l.mem == nil && cfg.BreakerThreshold >= 0 {
		l.br = &breaker{
			threshold: int64(cfg.BreakerThreshold),
			cooldown:  cfg.BreakerCooldown,
			now:       l.now,
		}
		if l.br.threshold == 0 {
			l.br.threshold = DefaultBreakerThreshold
		}
		if l.br.cooldown <= 0 {
			l.br.cooldown = DefaultBreakerCooldown
		}
		l.b = &guarded{b: l.b, br: l.br}
	}
	if l.b != nil {
		l.resp = &Responses{l: l}
	}
	l.vb, _ = l.b.(ValueBackend)
	l.through = l.b == nil || l.mode == ModeResponse
	if l.strat == StrategyWriteBehind {
		switch {
		case l.redis == nil:
			l.closeOwned()
			return nil, fmt.Errorf("write-behind needs the redis backend (it queues writes in a Redis Stream), not %s", l.backend)
		// A Redis Cluster is fine: the product keys and the stream share
		// one slot (ProductSlotTag), as its multi-key scripts need.
		case l.mode != ModeObject:
			l.closeOwned()
			return nil, errors.New("write-behind keeps unflushed entities in the cache, so it needs object mode, not response mode")
		}
		up, ok := store.(Upserter)
		if !ok {
			l.closeOwned()
			return nil, fmt.Errorf("write-behind needs a store with UpsertProducts; %T has none", store)
		}
		l.wb = newWriteBehind(l, up, cfg.WriteBehind)
	}
	return l, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cryptorand(b []byte) (int, error) { return crand.Read(b) }

func (l *Layer) closeOwned() {
	for _, c := range l.owned {
		_ = c.Close()
	}
}

// Close stops the write-behind flusher after draining its backlog into the
// store within ctx's deadline (a *DrainError reports what remains), then
// closes the backends the Layer created. A Redis given in Config.Redis is
// left open for its owner. Later calls return the first call's result.
func (l *Layer) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		if l.wb != nil {
			l.closeErr = l.wb.close(ctx)
		}
		l.closeOwned()
	})
	return l.closeErr
}

// Responses returns the full-response cache helper, or nil when the layer
// has no backend. In object mode servers normally leave it unused.
func (l *Layer) Responses() *Responses { return l.resp }

// Backend returns the configured backend name ("none", "lru", ...).
func (l *Layer) Backend() string { return l.backend }

// Strategy returns the configured strategy name.
func (l *Layer) Strategy() string { return l.strat }

// Mode returns the configured mode ("object" or "response").
func (l *Layer) Mode() string { return l.mode }

func consumerName() string {
	var b [3]byte
	_, _ = cryptorand(b[:])
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// entryTTL returns ttl plus jitter.
func (l *Layer) entryTTL(ttl time.Duration) time.Duration {
	if l.jitter > 0 {
		ttl += time.Duration(l.rnd() * float64(l.jitter))
	}
	return ttl
}
