// Package cache holds loadrig's caching strategies, written as decorators:
// a Layer is a domain.Catalog wrapping another domain.Catalog (the slow
// store), independent of the Backend that holds the bytes
// (memcache.LRU, memcache.TinyLFU, rediscache.Backend). Servers build one
// with New(store, Config) and use it wherever they would use the store.
//
// # Strategies
//
// Reads are cache-aside in every strategy: look up the key, on a miss load
// from the store and cache the result. Every miss path — single keys,
// batches, list pages, rendered responses — goes through one singleflight
// group, so N concurrent misses of a key cost one store call (the followers
// count as store calls saved). The shared load is detached from the first
// caller's cancellation so one impatient client cannot fail the others;
// each caller still returns when its own context ends. Errors (not found)
// are never cached.
//
// Writes differ:
//   - aside: write the store, then delete the cached entity (Invalidation
//     "delete", its default: the next read is a MISS with the new version)
//     or overwrite it ("update": the next read is a HIT).
//   - write-through: write the store, then put the new entity in the cache
//     (always "update"; "delete" is rejected as a contradiction).
//   - write-behind (Redis only): a product update is validated, applied to
//     the current entity (from Redis, else the store), and written to Redis
//     together with an entry in a Redis Stream in one MULTI/EXEC, then
//     acknowledged. A flusher in a consumer group reads the stream, keeps
//     the latest state per product, writes the batch with one store
//     UpsertProducts call and XACKs+XDELs the entries (so XLEN is the
//     backlog); entries a crashed flusher left pending are taken over with
//     XAUTOCLAIM after ClaimIdle. Close drains the backlog within the
//     caller's deadline and returns a *DrainError saying what remains.
//     Only product updates (PATCH price/stock) are write-behind: orders,
//     reviews and deletes go to the store synchronously because they must be
//     validated against the truth (stock may not go negative); an order that
//     takes stock from a product whose update is still queued is flushed
//     over with last-writer-wins. Reads of a product (single and batch)
//     see a queued update at once, from Redis; list pages are loaded from
//     the store and show it only after the flush. Durability is Redis's
//     own: the spawned redis-server runs without persistence. On a Redis
//     Cluster the product keys and the stream carry one hash tag
//     (ProductSlotTag: "<prefix>{p}:<id>", "<prefix>{p}:wb"), so every
//     multi-key step — the MULTI/EXEC, the stock reservation script over
//     all of an order's products, the patch script — stays in one slot;
//     the price is that products live on one node there.
//
// Every write, in every strategy, also invalidates what derives from the
// entity: list pages (a generation counter bumped per product change, so
// invalidation is O(1) and old pages expire by ListTTL), review pages (a
// per-product generation), a user's orders (CreateOrder deletes them), and
// tagged responses (below).
//
// A known cache-aside race remains: a read that loaded the old state just
// before a write can store it just after the write's invalidation. The
// layer narrows it (a write forgets the key's in-flight singleflight load)
// but cannot close it without compare-and-set on the backend; TTL bounds it.
//
// # Object versus full-response caching
//
// Object mode (the default) caches domain entities; servers render each
// response from them. ProductVersion answers from the cached product
// without a store call, which is what lets a conditional GET return 304
// without touching the store. Response mode caches nothing in the layer:
// servers cache rendered bytes with Layer.Responses, keyed by route and
// query and tagged with what they show (ProductTag, UserTag, ListTag); the
// layer's writes invalidate tags by bumping per-process generations that
// are part of the keys. That makes invalidation O(1) but local to the
// process: several server processes sharing one Redis see each other's
// writes only at TTL (object mode has no such limit — its keys are shared).
//
// # Values
//
// Backends store JSON bytes. Redis keeps them as plain strings (GET/SET),
// not hashes: one round trip per read, one encoding across backends, nested
// slices (order items) without extra encoding; the cost is re-encoding the
// whole entity per write and decoding per hit (about 3µs for a product on
// the project machine). In-process backends additionally keep the decoded
// value next to the bytes (ValueBackend), so an in-process hit costs no
// decode; such values are shared by all readers and are read-only.
//
// # Failures
//
// A backend error never reaches the caller: reads fall through to the
// store, failed writes to the cache are skipped, and each failure counts in
// Stats.Errors (cache_errors). go-redis redials on its own, so hits resume
// when Redis returns. A circuit breaker in front of Redis
// (Config.BreakerThreshold, BreakerCooldown) stops calling it after
// consecutive failures, so a hung Redis costs one read timeout per cooldown
// instead of one per request; one probe per cooldown detects recovery.
// Under write-behind, a product update that Redis cannot
// take is written to the store synchronously (Stats.WriteBehind.Fallbacks).
//
// # Stats
//
// Stats has JSON tags for the servers' /stats: hits, misses, hit_ratio,
// sets, evictions, expired, errors, store_calls_saved, loads, bypassed, and
// write_behind {backlog, pending, lag_ms, acknowledged, flushed, ...}.
// A request's cache outcome is marked on its domain.CacheTrace (HIT, MISS,
// BYPASS); domain.WithBypass makes every read go to the store.
package cache
