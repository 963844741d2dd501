// Package rediscache is loadrig's only home of go-redis (ARCHITECTURE.md
// rule 4): the Redis cache backend, the stream operations write-behind
// needs, and the launcher that finds a Redis for the user.
//
// Backend wraps a redis.UniversalClient built from a URL, so a single node
// and a Redis Cluster (redis+cluster:// URL) both work. It fails fast (short
// timeouts, no retries) because the cache layer falls through to the store
// on any error rather than waiting. A go-redis hook counts dials and
// commands for connection accounting; Client exposes the client so a
// server's other Redis users (rate limiting, sessions) share the pool.
//
// Values are plain strings holding the cache layer's JSON. The alternative,
// one Redis hash per entity (HSET field per attribute), would allow partial
// updates (HINCRBY stock) and HGET of one field, but it costs a map
// conversion per read, loses the entity's nested slices (order items) or
// needs them encoded anyway, and makes every backend different; JSON keeps
// one encoding across in-process and Redis backends and one GET per read.
// Its cost is re-encoding the whole entity on every write and decoding it on
// every hit (a few µs for a product).
//
// Write-behind uses SetAndAppend (SET + XADD in one MULTI/EXEC), a consumer
// group (EnsureGroup, ReadGroup), AckDelete (XACK + XDEL, so XLEN is the
// backlog) and AutoClaim (XAUTOCLAIM) to take over entries a crashed flusher
// left pending. MULTI/EXEC and the multi-key scripts (ReserveStock: every
// product of an order and the stream; PatchProduct) need all their keys in
// one slot on a cluster: the cache layer names them with one hash tag
// (cache.ProductSlotTag, "<prefix>{p}:<id>" and "<prefix>{p}:wb"), as
// EventLog does per topic ("<prefix>ws:{topic}:seq" and ":log").
//
// Relay (relay.go) carries domain.Feed events between server processes over
// Redis pub/sub (PUBLISH + PSUBSCRIBE, or SPUBLISH + SSUBSCRIBE per watched
// topic for Redis 7 sharded pub/sub): publishing is queued and pipelined so
// the Feed's publisher never waits, failures are counted, and go-redis
// subscribes again by itself when Redis comes back. EventLog numbers the
// WebSocket server's events per topic and keeps them in a Stream (INCR and
// XADD MAXLEN ~ in one script, entry id "<seq>-0", XRANGE by seq), so
// every node shares one numbering and it survives a server restart. With
// the relay (WithRelay), AppendEvent also PUBLISHes (SPUBLISH) the
// numbered event in that script, on a channel with the topic's hash tag
// ("<prefix>feed:{topic}", the slot of its keys): Redis runs one script at
// a time, so every node, the appending one included, receives a topic's
// events in seq order.
//
// Start finds a Redis for a server: the user's --redis-url (mode
// "external"), else a redis-server from PATH spawned as a child on a free
// 127.0.0.1 port with persistence off (mode "spawned"), else embedded
// miniredis (mode "embedded-miniredis"). Instance.Kill and Restart let tests
// take Redis away mid-run and bring it back on the same port.
package rediscache
