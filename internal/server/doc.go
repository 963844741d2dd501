// Package server holds the protocol-neutral pieces every loadrig reference
// server shares: the listener lifecycle (Open / URL / Shutdown on
// 127.0.0.1:0, ARCHITECTURE.md convention 7), connection accounting
// (ConnStats, fed by http.Server.ConnState or a gRPC stats.Handler,
// convention 10), structured logging that carries the request id, bearer
// authentication (JWT or opaque sessions in an external store), and
// per-client rate limiting (an in-process GCRA, or any Limiter such as the
// Redis one in cache/rediscache).
//
// The HTTP spine (spine.go, middleware.go, exchange.go) is the front every
// HTTP transport shares: Middleware pieces (AssignRequestID, CacheStatus,
// Bypass, AccessLog, Count, Recover, RateLimit) that share one per-request
// Exchange, and a Spine per listener that applies them to one mux and
// serves /healthz, /stats and /metrics for every transport mounted on it.
// The Spine runs the pieces' work inline, in one function, rather than as
// seven wrapped handlers (TestSpineMatchesChain keeps the two alike), hands
// the matched route's counters to the Exchange instead of looking the
// pattern up, and reads only the monotonic clock: on a virtual machine's
// clock a time.Now costs about twice a time.Since.
// Deps is the dependency set every transport is built from (filled by
// server/stack), and Runner / RunAll the one lifecycle shape of every
// server.
//
// It lives apart from server/rest so the gRPC, GraphQL and WebSocket servers
// reuse exactly the same lifecycle, auth and limiter semantics: a comparison
// between protocols is then a comparison of protocols, not of two different
// rate limiters.
//
// The package imports no Redis client: Redis-backed sessions and limits are
// plugged in through the SessionStore and Limiter interfaces.
package server
