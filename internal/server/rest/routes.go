package rest

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerRoutes lists the whole surface of the REST server. The /api/
// routes are the contract external scripts rely on (issue 3); keep them
// stable.
func (h *Handler) registerRoutes() {
	// Reads. The two product reads take ?pad=N (padding.go): N filler
	// bytes per product, the twin of the gRPC server's pad_bytes.
	h.handle("GET /api/products", h.api(h.listProducts))
	h.handle("GET /api/products/{id}", h.api(h.getProduct))
	h.handle("GET /api/products/{id}/reviews", h.api(h.productReviews))
	h.handle("GET /api/users/{id}", h.api(h.getUser))
	h.handle("GET /api/users/{id}/orders", h.api(h.userOrders))
	h.handle("GET /api/orders/{id}", h.api(h.getOrder))

	// Writes: a bearer credential from POST /api/login is required.
	h.handle("POST /api/orders", h.api(h.requireAuth(h.createOrder)))
	h.handle("PATCH /api/products/{id}", h.api(h.requireAuth(h.patchProduct)))
	h.handle("DELETE /api/products/{id}", h.api(h.requireAuth(h.deleteProduct)))
	h.handle("POST /api/login", h.api(h.login))

	// Operations.
	h.handle("GET /healthz", h.api(h.healthz))
	h.handle("GET /stats", h.api(h.stats))
	h.d.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	h.handle("GET /metrics", promhttp.HandlerFor(h.d.Registry, promhttp.HandlerOpts{Registry: h.d.Registry}))
	if h.d.Pprof {
		h.handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
		h.handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
		h.handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
		h.handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
		h.handle("POST /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
		h.handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	}

	// Everything else: problem+json 404, or 405 with Allow.
	h.mux.Handle("/", h.api(h.notFound))
}
