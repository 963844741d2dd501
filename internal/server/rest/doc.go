// Package rest is loadrig's REST reference server: JSON over HTTP/1.1 in
// front of a domain.Catalog (the slow store, usually behind a cache
// strategy). It is one side of the experiment, so everything a cache or a
// client could exploit is explicit and observable:
//
//   - HTTP caching: strong ETags from entity versions ("p<id>-v<version>"),
//     Last-Modified, Cache-Control max-age (--max-age; 0 sends no-cache), and
//     conditional GETs. A conditional product GET asks the Catalog for the
//     version only (ProductVersion); when a cache knows it, the 304 costs no
//     store call.
//   - Full-response caching when Deps.Responses is set (--cache-mode
//     response): product reads are cached as rendered bytes with their
//     validators, so a hit costs no decode and no encode, and a conditional
//     hit is answered from the cached ETag.
//   - X-Cache on every response, from the domain.CacheTrace the cache layer
//     marks; a request with Cache-Control: no-cache (or Pragma: no-cache)
//     bypasses the server-side cache (X-Cache: BYPASS).
//   - X-Request-ID echoed (when printable, ≤128 bytes) or generated, and
//     carried by every log line of the request.
//   - /stats (the server's truth: cache, store, write-behind, connections,
//     requests per route), /metrics (Prometheus, a private registry), and
//     /debug/pprof when enabled.
//
// Payload sweeps: GET /api/products/{id}?pad=N and GET /api/products?pad=N
// add N filler bytes to each product (a "padding" member), the same filler
// and the same cap (DefaultMaxPadBytes, 4 MiB) as the gRPC server's
// pad_bytes, so REST/JSON and gRPC/protobuf can be compared at equal
// payloads (padding.go).
//
// Writes (POST /api/orders, PATCH and DELETE /api/products/{id}) need a bearer
// credential from POST /api/login: a JWT or an opaque session, whichever
// server.Authenticator is plugged in. Requests under /api/ are rate limited
// per client IP when a server.Limiter is given; a limiter failure lets the
// request through (and is counted), so a Redis outage never becomes a 5xx.
//
// Errors are application/problem+json (RFC 9457) with a "code" member; the
// one table mapping domain codes to statuses is in errors.go. The route
// surface is listed in routes.go.
//
// Handlers return errors instead of writing them; the adapter in handler.go
// writes the problem document. The middleware (request id, X-Cache, cache
// bypass, access log, per-route counts, panic recovery, rate limiting) and
// the operations routes (/healthz, /stats, /metrics, pprof) are not REST's:
// they are the listener's server.Spine, which GraphQL and WebSocket routes
// mount on too. NewHandler gives the handler a spine of its own; New mounts
// the routes on a shared one. Per-request work outside the Catalog is kept
// small (the spine's one Exchange, which is also the request's context
// values, and pooled encode buffers) because the benchmark compares this
// handler against a bare net/http handler serving the same bytes.
//
// # Hot path
//
// A cached GET /api/products/{id} (object mode, in-process cache) is the
// request load tests hit most, so it is kept close to a bare handler
// (hot.go): the product is written from the JSON the cache stored beside
// the decoded value (cache.Layer.GetProductJSON) instead of being encoded
// again, and its ETag, Last-Modified and Content-Length values are kept per
// product version in a fixed array, so a hit formats nothing and allocates
// nothing in the handler. The body is byte for byte the rendered one
// (TestCachedProductWrittenFromStoredJSON). BenchmarkHotPath measures the
// handler alone, with allocations; testdata/bench/resthot.sh the whole
// server against a bare net/http handler under wrk.
//
// # Measured cost
//
// go test -run XXX -bench 'Ratio|/par' -benchtime 2s ./internal/server/rest/
// (2 vCPUs, load average under 2, Go 1.26.8, redis-server 7.0.15 spawned on
// loopback, 2026-11-28). Ratio = bare handler time ÷ REST time for GET
// /api/products/1, the bare handler sending the same body and headers:
//
//	                          sequential (latency)   16 clients (throughput)
//	in-process LRU, object    0.87                   0.90  (21.9 vs 24.2 µs/req)
//	in-process LRU, response  0.93                   -
//	Redis aside, object       0.27                   0.50  (21.9 vs 43.6 µs/req)
//	Redis aside, response     0.30                   0.54  (21.9 vs 40.2 µs/req)
//
// Sequentially a Redis hit waits for a loopback round trip to another
// process: it added ~105 µs per request on the idle machine (145 vs 40
// µs/req) and ~50–60 µs while other jobs kept the CPUs busy, so the idle
// figure looks dominated by waking the processes rather than by work. With
// concurrent clients that wait overlaps with other requests' work and the
// CPU cost per request decides.
package rest
