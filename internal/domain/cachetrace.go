package domain

import (
	"context"
	"sync/atomic"
)

// CacheStatus is how the server-side cache served a request.
type CacheStatus int32

// Cache statuses, from least to most informative; a request that touched
// several keys reports the "worst" (MISS beats HIT).
const (
	CacheNone   CacheStatus = iota // no cache consulted
	CacheHit                       // every key came from the cache
	CacheStale                     // served from cache past its freshness
	CacheMiss                      // at least one key was loaded from the store
	CacheBypass                    // the request asked to skip the cache
)

// String returns the X-Cache header value for s.
func (s CacheStatus) String() string {
	switch s {
	case CacheHit:
		return "HIT"
	case CacheStale:
		return "STALE"
	case CacheMiss:
		return "MISS"
	case CacheBypass:
		return "BYPASS"
	}
	return "BYPASS" // CacheNone: no cache in the path
}

// CacheTrace collects the cache status of one request. Safe for concurrent use
// (GraphQL resolvers run in parallel).
type CacheTrace struct{ s atomic.Int32 }

// Mark records s, keeping the most significant status seen so far.
func (t *CacheTrace) Mark(s CacheStatus) {
	if t == nil {
		return
	}
	for {
		old := t.s.Load()
		if CacheStatus(old) >= s || t.s.CompareAndSwap(old, int32(s)) {
			return
		}
	}
}

// Status returns the status recorded so far.
func (t *CacheTrace) Status() CacheStatus {
	if t == nil {
		return CacheNone
	}
	return CacheStatus(t.s.Load())
}

// TraceKey and BypassKey are the context keys WithCacheTrace and WithBypass
// use. They are exported so a transport's own per-request context can
// answer them from state it already holds (internal/server.Exchange does:
// one allocation per request for every request-scoped value) instead of
// one context.WithValue each. Outside such a context, use the functions.
type (
	TraceKey  struct{}
	BypassKey struct{}
)

// WithCacheTrace returns ctx carrying t.
func WithCacheTrace(ctx context.Context, t *CacheTrace) context.Context {
	return context.WithValue(ctx, TraceKey{}, t)
}

// CacheTraceFrom returns the trace in ctx, or nil (Mark on nil is a no-op).
func CacheTraceFrom(ctx context.Context) *CacheTrace {
	t, _ := ctx.Value(TraceKey{}).(*CacheTrace)
	return t
}

// WithBypass marks ctx so cache decorators read through to the store
// (Cache-Control: no-cache on the request).
func WithBypass(ctx context.Context) context.Context {
	return context.WithValue(ctx, BypassKey{}, true)
}

// Bypass reports whether ctx asks to skip the cache.
func Bypass(ctx context.Context) bool {
	b, _ := ctx.Value(BypassKey{}).(bool)
	return b
}
