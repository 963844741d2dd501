// Package grpcsrv is loadrig's reference gRPC server: the loadrig.v1
// ShopService (one call of each RPC kind) over the same domain.Catalog stack
// — slow store plus cache strategy — as the REST server, so that a REST vs
// gRPC comparison measures the protocols and not two different back ends.
//
// Beyond the service it carries what standard gRPC tooling expects: server
// reflection (v1 and v1alpha, for grpcurl, ghz and loadrig's own driver), the
// grpc.health.v1 service (grpc-health-probe), a keepalive enforcement policy
// that accepts loadrig's own client pings, and an explicit maximum receive
// size whose breach is ResourceExhausted.
//
// Cross-cutting behaviour lives in chained interceptors, each one concern:
// request ids (x-request-id metadata, echoed in the response header), cache
// observability (a domain.CacheTrace per call, reported as the x-cache header
// metadata), accounting plus logging, and an optional per-client-IP rate
// limit with the REST server's semantics (ResourceExhausted plus a
// retry-after header; a failing limiter lets calls through). Domain errors become gRPC status
// codes in one table (errors.go). Connections and streams are counted by a
// stats.Handler (ARCHITECTURE.md convention 10) into server.ConnStats, or,
// with Options.ListenerAccounting, by the listener and the interceptors at
// no per-call cost (a stats.Handler makes grpc-go allocate ~20 objects per
// call); wire bytes are counted on the connections either way; and
// everything is exposed on an admin HTTP handler as /stats (JSON) and
// /metrics (Prometheus, derived from /stats so the two never disagree).
//
// Price changes pushed by WatchPrices come from a shared *domain.Feed: the
// server stack's cache layer publishes every acknowledged product update to
// it (a REST PATCH included), and PriceTicker can drive it for demos.
//
// The only write, UploadReviews, needs "authorization: Bearer <token>"
// metadata (a token from Login or REST's /api/login). Its reviews are the
// token's user's: a message's author_id may be 0 or that user's id, any
// other id ends the stream with PermissionDenied (REST's 403 for an order
// naming another user_id); the reads stay open.
package grpcsrv
