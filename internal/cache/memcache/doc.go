// Package memcache holds loadrig's in-process cache backends: an LRU with
// per-entry TTL (hashicorp/golang-lru/v2 expirable) and a W-TinyLFU cache
// (maypok86/otter/v2). Both store opaque byte values (the cache layer's JSON)
// under string keys and satisfy cache.Backend, so they are interchangeable
// with Redis and pass the same cachetest conformance suite.
//
// TTLs are per entry and measured on an injectable clock (Options.Now), so
// expiry is exact under testing/synctest. For the LRU that means the
// deadline is kept next to the value and checked on Get, and expirable's own
// cache-wide TTL is left off: v2.0.7 supports only one TTL per cache (no
// per-entry jitter) and its clean-up goroutine can never be stopped ("done
// channel is never closed"), which would leak one goroutine per cache and
// hang a synctest bubble. Expired LRU entries are dropped when read or pushed
// out by size. Otter supports per-entry expiry and an injected clock
// natively; with a custom clock its periodic clean-up goroutine is not
// started, and Close stops it otherwise.
//
// Evictions (entries pushed out to respect Size) and expirations are counted
// separately in Stats.
package memcache
