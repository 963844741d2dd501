package gql

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
)

// APQCache is the automatic-persisted-query store: a hash → query map on an
// in-process LRU or a shared key-value store (Redis, through
// cache/rediscache), counting hits, misses and registrations for /stats.
// It is no allowlist: a persisted query is parsed, validated and limited
// like any other, and gqlgen's APQ extension registers a query only when
// its hash matches.
type APQCache struct {
	kind               string
	get                func(ctx context.Context, hash string) (string, bool)
	add                func(ctx context.Context, hash, query string)
	hits, misses, adds atomic.Int64
}

var _ graphql.Cache[string] = (*APQCache)(nil)

// NewAPQLRU keeps up to size queries in process.
func NewAPQLRU(size int) *APQCache {
	if size <= 0 {
		size = DefaultAPQSize
	}
	c := lru.New[string](size)
	return &APQCache{kind: "lru", get: c.Get, add: c.Add}
}

// KV is the key-value store NewAPQStore needs; *rediscache.Backend is one.
type KV interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

// NewAPQStore keeps queries in kv under prefix+"apq:"+hash for ttl
// (DefaultAPQTTL when <= 0). A store error reads as a miss (the client
// resends the query) and a failed write is dropped: APQ degrades to plain
// queries, never to errors.
func NewAPQStore(kv KV, prefix string, ttl time.Duration) *APQCache {
	if ttl <= 0 {
		ttl = DefaultAPQTTL
	}
	return &APQCache{
		kind: "redis",
		get: func(ctx context.Context, hash string) (string, bool) {
			b, ok, err := kv.Get(ctx, prefix+"apq:"+hash)
			if err != nil || !ok {
				return "", false
			}
			return string(b), true
		},
		add: func(ctx context.Context, hash, query string) {
			_ = kv.Set(ctx, prefix+"apq:"+hash, []byte(query), ttl)
		},
	}
}

// Get looks a hash up.
func (c *APQCache) Get(ctx context.Context, hash string) (string, bool) {
	q, ok := c.get(ctx, hash)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return q, ok
}

// Add registers a query under its (verified) hash.
func (c *APQCache) Add(ctx context.Context, hash, query string) {
	c.adds.Add(1)
	c.add(ctx, hash, query)
}
