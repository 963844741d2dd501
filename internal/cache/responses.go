package cache

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/loadrig/loadrig/internal/domain"
)

// Tags name what a cached response depends on; Layer writes invalidate them.
const ListTag = "products" // any product list page: invalidated by every product change

// ProductTag is the tag of responses that show product id (the product, its
// reviews): invalidated when the product, its stock or its reviews change.
func ProductTag(id int64) string { return "p" + strconv.FormatInt(id, 10) }

// UserTag is the tag of responses that show user id's orders: invalidated
// when the user places an order.
func UserTag(id int64) string { return "u" + strconv.FormatInt(id, 10) }

// Responses is full-response caching: servers store rendered bytes (a JSON
// body, or a small envelope of status, headers and body of their choosing)
// keyed by route and query, and the Layer's writes invalidate them by tag.
//
// Invalidation is by generation: every tag has a counter in this process,
// a response's key embeds the current generation of each tag it depends on,
// and Invalidate bumps the counters, so all dependent keys stop being found
// at once (O(1), no key scan, no tag sets in Redis); orphaned entries expire
// by TTL. The counters live in the process, so with several server
// processes sharing one Redis, a write in one process leaves the others'
// responses stale until their TTL — object mode, whose entity keys are
// shared, does not have this limit.
//
// Hits and misses count in the Layer's Stats and mark the request's
// domain.CacheTrace like entity reads.
type Responses struct {
	l    *Layer
	gens [genStripes]atomic.Int64 // tag generations, striped by tag hash
}

// genStripes is the number of generation counters. Tags and ids come from
// clients (any product id can be asked for), so generations live in a
// fixed array, not a map a client could grow: tags that share a stripe
// invalidate each other, which costs an extra miss, never a stale hit.
const genStripes = 4096

func (r *Responses) gen(tag string) *atomic.Int64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(tag); i++ {
		h ^= uint64(tag[i])
		h *= 1099511628211
	}
	return &r.gens[h%genStripes]
}

// Key returns the cache key of the response to route (e.g.
// "GET /api/products/{id}" with the id filled in) and its canonical query
// string, depending on tags.
func (r *Responses) Key(route, query string, tags ...string) string {
	var sb strings.Builder
	sb.Grow(len(r.l.prefix) + len(r.l.nonce) + len(route) + len(query) + 16*len(tags) + 8)
	sb.WriteString(r.l.prefix)
	sb.WriteString("resp:")
	sb.WriteString(r.l.nonce)
	sb.WriteByte(':')
	sb.WriteString(route)
	sb.WriteByte('?')
	sb.WriteString(query)
	for _, t := range tags {
		sb.WriteByte('#')
		sb.WriteString(t)
		sb.WriteByte('=')
		sb.WriteString(strconv.FormatInt(r.gen(t).Load(), 10))
	}
	return sb.String()
}

// Get returns the cached response under key, marking HIT or MISS; on
// bypass it returns a miss and marks BYPASS. Backend errors read as misses.
func (r *Responses) Get(ctx context.Context, key string) ([]byte, bool) {
	if domain.Bypass(ctx) {
		r.l.bypassed.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheBypass)
		return nil, false
	}
	v, ok, err := r.l.b.Get(ctx, key)
	if err != nil {
		r.l.errs.Add(1)
	}
	if err != nil || !ok {
		r.l.misses.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
		return nil, false
	}
	r.l.hits.Add(1)
	r.l.saved.Add(1)
	domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
	return v, true
}

// Set stores body under key for the Layer's TTL (with jitter).
func (r *Responses) Set(ctx context.Context, key string, body []byte) {
	if domain.Bypass(ctx) {
		return
	}
	if err := r.l.b.Set(ctx, key, body, r.l.entryTTL(r.l.ttl)); err != nil {
		r.l.errs.Add(1)
		return
	}
	r.l.sets.Add(1)
}

// Do returns the cached response under key or renders, caches and returns
// it; concurrent misses of one key render once (singleflight). Render
// errors are returned and not cached. On bypass it renders without caching.
func (r *Responses) Do(ctx context.Context, key string, render func(context.Context) ([]byte, error)) ([]byte, error) {
	if b, ok := r.Get(ctx, key); ok {
		return b, nil
	}
	if domain.Bypass(ctx) {
		return render(ctx)
	}
	return loadShared(r.l, ctx, key, func(c context.Context) ([]byte, error) {
		b, err := render(c)
		if err == nil {
			r.Set(c, key, b)
		}
		return b, err
	})
}

// Invalidate makes every cached response depending on any of tags
// unreachable. Safe on a nil *Responses (a layer without backend).
func (r *Responses) Invalidate(tags ...string) {
	if r == nil {
		return
	}
	for _, t := range tags {
		r.gen(t).Add(1)
	}
}
