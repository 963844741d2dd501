// Package cachetest is the conformance suite every cache.Backend passes:
// in-process LRU and W-TinyLFU, and Redis (a real redis-server in tests,
// miniredis only when none is installed). One suite keeps the backends
// interchangeable under the cache strategies.
//
// TTL subtests run inside testing/synctest by default, so backends on the
// process clock (memcache) expire exactly and instantly; a backend whose
// clock is elsewhere (Redis) passes RealTime(), and the TTL subtests then
// use short TTLs and bounded real waits.
package cachetest
