// Package stack builds what every reference server of one process shares:
// the seeded slow store, the cache layer over it, the Redis it may need
// (the user's, a spawned redis-server or embedded miniredis), the product
// change feed, the bearer authenticator and the rate limiter — all from one
// Config that the CLI fills from the shared server flags. `serve rest`,
// `serve grpc`, `serve all` and `loadrig demo` build a Stack and hand its
// pieces to the protocol handlers, so two protocols in one process measure
// the same data, cache and limits.
//
// Close order matters and is encoded here: the servers stop first (their
// owners), then Stack.Close drains the write-behind backlog into the store
// within the caller's deadline, closes the Redis client and stops any Redis
// the stack started.
package stack
