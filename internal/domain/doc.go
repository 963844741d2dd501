// Package domain holds loadrig's shared experiment domain: users, products,
// reviews and orders, the Catalog interface that the slow store and every
// cache strategy implement, and the domain error codes that each transport
// (HTTP status, gRPC code, GraphQL extension, WebSocket close code) maps at its
// edge.
//
// It imports nothing outside the standard library (ARCHITECTURE.md rule 1), so
// servers, the store and the caches can all depend on it without dragging each
// other in.
//
// Cache observability travels in the request context: a server attaches a
// *CacheTrace with WithCacheTrace, the cache decorator marks it (hit, miss,
// stale, bypass), and the server turns the mark into X-Cache / x-cache. A
// request asks to bypass the server-side cache with WithBypass.
package domain
