// Package memcache holds loadrig's in-process cache backends: an LRU with
// per-entry TTL (hashicorp/golang-lru/v2 simplelru under one mutex) and a
// W-TinyLFU cache (maypok86/otter/v2). Both store opaque byte values (the cache layer's JSON)
// under string keys and satisfy cache.Backend, so they are interchangeable
// with Redis and pass the same cachetest conformance suite.
//
// Both are bounded in bytes, not entries (Options.MaxBytes, 64 MiB by
// default): an entry costs its key and value bytes plus EntryOverhead (see
// EntryCost), so one client asking for large padded responses cannot grow
// the process past the bound however few entries that takes. golang-lru has
// no weigher, so the LRU keeps the byte count itself and evicts the coldest
// entries on each Set, under the lock that orders them; otter weighs entries
// natively (Options.Weigher with MaximumWeight).
//
// TTLs are per entry and measured on an injectable clock (Options.Now), so
// expiry is exact under testing/synctest. For the LRU that means the
// deadline is kept next to the value and checked on Get; golang-lru's
// expirable cache is not used: v2.0.7 supports only one TTL per cache (no
// per-entry jitter) and its clean-up goroutine can never be stopped ("done
// channel is never closed"), which would leak one goroutine per cache and
// hang a synctest bubble. Expired LRU entries are dropped when read or pushed
// out by size. Otter supports per-entry expiry and an injected clock
// natively; with a custom clock its periodic clean-up goroutine is not
// started, and Close stops it otherwise.
//
// Evictions (entries pushed out to respect MaxBytes) and expirations are counted
// separately in Stats.
package memcache
