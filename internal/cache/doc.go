// Package cache holds loadrig's caching strategies, written as decorators:
// each strategy is a domain.Catalog wrapping another domain.Catalog (the
// slow store), independent of the Backend that holds the bytes
// (memcache.LRU, memcache.TinyLFU, rediscache.Backend).
package cache
