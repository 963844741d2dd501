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
// metadata), and accounting plus logging. Domain errors become gRPC status
// codes in one table (errors.go). Connections and streams are counted by a
// stats.Handler (ARCHITECTURE.md convention 10) into server.ConnStats, and
// everything is exposed on an admin HTTP handler as /stats (JSON) and
// /metrics (Prometheus, derived from /stats so the two never disagree).
//
// Price changes pushed by WatchPrices come from a shared *domain.Feed: the
// REST server publishes to it when a product is patched, and PriceTicker can
// drive it on its own for demos.
package grpcsrv
