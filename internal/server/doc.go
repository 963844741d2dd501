// Package server holds the protocol-neutral pieces every loadrig reference
// server shares: the listener lifecycle (Open / URL / Shutdown on
// 127.0.0.1:0, ARCHITECTURE.md convention 7), connection accounting
// (ConnStats, fed by http.Server.ConnState or a gRPC stats.Handler,
// convention 10), structured logging that carries the request id, bearer
// authentication (JWT or opaque sessions in an external store), and
// per-client rate limiting (an in-process GCRA, or any Limiter such as the
// Redis one in cache/rediscache).
//
// It lives apart from server/rest so the gRPC, GraphQL and WebSocket servers
// reuse exactly the same lifecycle, auth and limiter semantics: a comparison
// between protocols is then a comparison of protocols, not of two different
// rate limiters.
//
// The package imports no Redis client: Redis-backed sessions and limits are
// plugged in through the SessionStore and Limiter interfaces.
package server
