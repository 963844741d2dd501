package gql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// APQCache is the automatic-persisted-query store: a hash → query map on an
// in-process LRU or a shared key-value store (Redis, through
// cache/rediscache), counting hits, misses and registrations for /stats.
// It is no allowlist: a persisted query is parsed, validated and limited
// like any other, and apqExt registers a query only when its hash matches
// and it passed every check.
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

// apqExt is gqlgen's extension.AutomaticPersistedQuery (same protocol,
// messages and codes, and the same extension.GetApqStats) with one change:
// a query sent with its hash is registered only once the operation context
// is built, that is after it parsed, validated, had its variables coerced
// and passed the depth and complexity limits (the extensions before it), so
// a refused query never occupies the store. gqlgen's registers it before
// parsing. Add it after the limits.
type apqExt struct{ cache *APQCache }

var _ interface {
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = apqExt{}

func (apqExt) ExtensionName() string { return "AutomaticPersistedQuery" }

func (a apqExt) Validate(graphql.ExecutableSchema) error {
	if a.cache == nil {
		return errors.New("apqExt.cache is nil")
	}
	return nil
}

// apqStatsKey is the key extension.GetApqStats reads.
const apqStatsKey = "APQ"

// MutateOperationParameters fills a hash-only request's query from the
// store and checks a sent query against its hash.
func (a apqExt) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	v := raw.Extensions["persistedQuery"]
	if v == nil {
		return nil
	}
	hash, version, ok := persistedQuery(v)
	if !ok {
		return gqlerror.Errorf("invalid APQ extension data")
	}
	if version != 1 {
		return gqlerror.Errorf("unsupported APQ version")
	}
	sent := raw.Query != ""
	if !sent {
		q, ok := a.cache.Get(ctx, hash)
		if !ok {
			err := gqlerror.Errorf("PersistedQueryNotFound")
			errcode.Set(err, CodePersistedNotFound)
			return err
		}
		raw.Query = q
	} else if queryHash(raw.Query) != hash {
		return gqlerror.Errorf("provided APQ hash does not match query")
	}
	graphql.GetOperationContext(ctx).Stats.SetExtension(apqStatsKey, &extension.ApqStats{Hash: hash, SentQuery: sent})
	return nil
}

// MutateOperationContext registers a sent query: it runs only when every
// check before it passed.
func (a apqExt) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if st, ok := opCtx.Stats.GetExtension(apqStatsKey).(*extension.ApqStats); ok && st.SentQuery {
		a.cache.Add(ctx, st.Hash, opCtx.RawQuery)
	}
	return nil
}

// persistedQuery reads {"sha256Hash": "...", "version": 1} as gqlgen's
// mapstructure decoding does: keys matched case-insensitively, unknown keys
// ignored, a missing key zero, a version of any JSON number kind.
func persistedQuery(v any) (hash string, version int64, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap {
		return "", 0, false
	}
	for k, x := range m {
		switch {
		case strings.EqualFold(k, "sha256Hash"):
			if hash, ok = x.(string); !ok && x != nil {
				return "", 0, false
			}
		case strings.EqualFold(k, "version"):
			switch n := x.(type) {
			case nil:
			case json.Number:
				i, err := n.Int64()
				if err != nil {
					return "", 0, false
				}
				version = i
			case float64: // truncated, as mapstructure does
				version = int64(n)
			case int:
				version = int64(n)
			case int64:
				version = n
			default:
				return "", 0, false
			}
		}
	}
	return hash, version, true
}

func queryHash(q string) string {
	b := sha256.Sum256([]byte(q))
	return hex.EncodeToString(b[:])
}
