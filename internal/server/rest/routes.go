package rest

// registerRoutes lists the whole surface of the REST server. The /api/
// routes are the contract external scripts rely on (issue 3); keep them
// stable.
func (h *Handler) registerRoutes() {
	// Reads. The two product reads take ?pad=N (padding.go): N filler
	// bytes per product, the twin of the gRPC server's pad_bytes.
	h.handle("GET /api/products", h.api(h.listProducts))
	// The hot path (hot.go): the spine serves it without the mux.
	h.handleSegment("GET /api/products/{id}", h.getProduct)
	h.handle("GET /api/products/{id}/reviews", h.api(h.productReviews))
	// A user's data: its owner or an admin (others get 404); 401 without
	// a credential.
	h.handle("GET /api/users/{id}", h.api(h.requireAuth(h.getUser)))
	h.handle("GET /api/users/{id}/orders", h.api(h.requireAuth(h.userOrders)))
	h.handle("GET /api/orders/{id}", h.api(h.requireAuth(h.getOrder)))

	// Writes: a bearer credential from POST /api/login is required; product
	// writes need an admin (403 otherwise); an order is the caller's.
	h.handle("POST /api/orders", h.api(h.requireAuth(h.createOrder)))
	h.handle("PATCH /api/products/{id}", h.api(h.requireAuth(h.patchProduct)))
	h.handle("DELETE /api/products/{id}", h.api(h.requireAuth(h.deleteProduct)))
	h.handle("POST /api/login", h.api(h.login))

	// Operations (/healthz, /stats, /metrics, /debug/pprof) are the
	// spine's: every transport on the listener shares them.

	// Everything else: problem+json 404, or 405 with Allow.
	h.sp.Fallback(h.api(h.notFound))
}
