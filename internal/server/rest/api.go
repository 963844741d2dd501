package rest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
)

// ---- products ----

func (h *Handler) listProducts(w http.ResponseWriter, r *http.Request) error {
	if !acceptsJSON(r.Header) {
		return errNotAcceptable
	}
	offset, err := queryInt(r, "offset", 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", domain.DefaultPageSize, domain.MaxPageSize)
	if err != nil {
		return err
	}
	pad, err := h.padParam(r)
	if err != nil {
		return err
	}
	if int64(limit)*int64(pad) > h.d.MaxResponse {
		return domain.Errorf(domain.CodeInvalid, "limit × pad = %d × %d bytes is over the %d-byte response budget (--max-response); ask for fewer products or less padding",
			limit, pad, h.d.MaxResponse)
	}
	f := domain.ProductFilter{Category: r.URL.Query().Get("category"), Offset: offset, Limit: limit}
	if h.whole {
		return h.cachedList(w, r, f, pad)
	}
	page, err := h.d.Catalog.ListProducts(r.Context(), f)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	if pad > 0 {
		writeJSON(w, http.StatusOK, h.paddedList(page, pad))
		return nil
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// getProduct answers conditional requests from the version alone when the
// Catalog knows it without a store read (a cache does): the 304 then costs
// no store call. A bypassing request always reads the store.
func (h *Handler) getProduct(w http.ResponseWriter, r *http.Request, seg string) error {
	id, err := jsonID(r, seg)
	if err != nil {
		return err
	}
	pad, err := h.padParam(r)
	if err != nil {
		return err
	}
	if h.whole {
		return h.cachedProduct(w, r, id, pad)
	}
	ctx := server.Context(w, r)
	if conditional(r) && !domain.Bypass(ctx) {
		if v, ok := h.d.Catalog.ProductVersion(ctx, id); ok {
			tag := padTag(etag('p', id, v.Version), pad)
			if notModified(r, tag, v.UpdatedAt) {
				domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
				h.setValidators(w, tag, v.UpdatedAt)
				h.notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
	}
	if pad == 0 && h.pj != nil {
		p, raw, err := h.pj.GetProductJSON(ctx, id)
		if err != nil {
			return err
		}
		if raw != nil {
			h.writeProductJSON(w, r, id, p, raw)
			return nil
		}
		h.writeEntity(w, r, etag('p', p.ID, p.Version), p.UpdatedAt, *p)
		return nil
	}
	p, err := h.d.Catalog.GetProduct(ctx, id)
	if err != nil {
		return err
	}
	if pad > 0 {
		h.writeEntity(w, r, padTag(etag('p', p.ID, p.Version), pad), p.UpdatedAt, h.padded(p, pad))
		return nil
	}
	h.writeEntity(w, r, etag('p', p.ID, p.Version), p.UpdatedAt, p)
	return nil
}

// reviewsPage is the body of GET /api/products/{id}/reviews.
type reviewsPage struct {
	ProductID int64           `json:"product_id"`
	Reviews   []domain.Review `json:"reviews"`
	Offset    int             `json:"offset"`
	Limit     int             `json:"limit"`
}

func (h *Handler) productReviews(w http.ResponseWriter, r *http.Request) error {
	id, err := jsonPathID(r)
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset", 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", domain.DefaultPageSize, domain.MaxPageSize)
	if err != nil {
		return err
	}
	if h.whole {
		return h.cachedReviews(w, r, id, offset, limit)
	}
	rs, err := h.d.Catalog.ProductReviews(r.Context(), id, offset, limit)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []domain.Review{}
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	writeJSON(w, http.StatusOK, reviewsPage{ProductID: id, Reviews: rs, Offset: offset, Limit: limit})
	return nil
}

// patchProduct applies {"price": .., "stock": ..} (any non-empty subset).
// The cache strategy invalidates or updates its copy; the change is then
// published to the feed for streaming clients.
func (h *Handler) patchProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := principal(r).RequireAdmin("changing a product"); err != nil {
		return err
	}
	var patch domain.ProductPatch
	if err := h.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	if patch.Price == nil && patch.Stock == nil {
		return domain.Errorf(domain.CodeInvalid, `nothing to update: send {"price": 12.5} and/or {"stock": 7}`)
	}
	if err := domain.ValidatePatch(patch); err != nil {
		return err
	}
	p, err := h.d.Catalog.UpdateProduct(r.Context(), id, patch)
	if err != nil {
		return err
	}
	if h.d.Publish != nil {
		h.d.Publish.PublishProduct(p)
	}
	hd := w.Header()
	hd["Etag"] = []string{etag('p', p.ID, p.Version)}
	hd["Last-Modified"] = []string{p.UpdatedAt.UTC().Format(http.TimeFormat)}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (h *Handler) deleteProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := principal(r).RequireAdmin("deleting a product"); err != nil {
		return err
	}
	if err := h.d.Catalog.DeleteProduct(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- users and orders ----

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	id, err := jsonPathID(r)
	if err != nil {
		return err
	}
	if !principal(r).CanSee(id) {
		return notYours("user", id)
	}
	u, err := h.d.Catalog.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	h.writeEntity(w, r, etag('u', u.ID, u.Version), u.UpdatedAt, u)
	return nil
}

// userOrdersBody is the body of GET /api/users/{id}/orders.
type userOrdersBody struct {
	UserID int64          `json:"user_id"`
	Orders []domain.Order `json:"orders"`
}

func (h *Handler) userOrders(w http.ResponseWriter, r *http.Request) error {
	id, err := jsonPathID(r)
	if err != nil {
		return err
	}
	if !principal(r).CanSee(id) {
		return notYours("user", id)
	}
	os, err := h.d.Catalog.UserOrders(r.Context(), id)
	if err != nil {
		return err
	}
	if os == nil {
		os = []domain.Order{}
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	writeJSON(w, http.StatusOK, userOrdersBody{UserID: id, Orders: os})
	return nil
}

func (h *Handler) getOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := jsonPathID(r)
	if err != nil {
		return err
	}
	o, err := h.d.Catalog.GetOrder(r.Context(), id)
	if err != nil {
		return err
	}
	if !principal(r).CanSee(o.UserID) {
		return notYours("order", id)
	}
	h.writeEntity(w, r, etag('o', o.ID, o.Version), o.UpdatedAt, o)
	return nil
}

// createOrder places {"items": [{"product_id": 3, "quantity": 2}]} for the
// authenticated user and answers 201 with the order and a Location header.
// The order's user is the token's: a user_id naming anyone else is 403.
// Items are bounded (domain.ValidateOrder): 1..100 items, quantities
// 1..1000.
func (h *Handler) createOrder(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		UserID int64 `json:"user_id"`
		Items  []struct {
			ProductID int64 `json:"product_id"`
			Quantity  int64 `json:"quantity"`
		} `json:"items"`
	}
	if err := h.decodeJSON(w, r, &in); err != nil {
		return err
	}
	p := principal(r)
	if in.UserID < 0 {
		return domain.Errorf(domain.CodeInvalid, "user_id must be a positive integer")
	}
	if in.UserID != 0 && in.UserID != p.UserID {
		return domain.Errorf(domain.CodeForbidden, "orders are placed for the logged-in user (%d), not user %d; drop user_id or log in as that user", p.UserID, in.UserID)
	}
	no := domain.NewOrder{UserID: p.UserID, Items: make([]domain.OrderItem, len(in.Items))}
	for i, it := range in.Items {
		no.Items[i] = domain.OrderItem{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	if err := domain.ValidateOrder(no.Items); err != nil {
		return err
	}
	o, err := h.d.Catalog.CreateOrder(r.Context(), no)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd["Location"] = []string{"/api/orders/" + strconv.FormatInt(o.ID, 10)}
	hd["Etag"] = []string{etag('o', o.ID, o.Version)}
	writeJSON(w, http.StatusCreated, o)
	return nil
}

// ---- login ----

// loginResponse is the body of POST /api/login.
type loginResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	Scheme    string    `json:"scheme"` // "jwt" or "session"
	ExpiresAt time.Time `json:"expires_at"`
	UserID    int64     `json:"user_id"`
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := h.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Email == "" || in.Password == "" {
		return domain.Errorf(domain.CodeInvalid, `send {"email": "user1@example.com", "password": "..."}`)
	}
	if h.d.Login == nil {
		return domain.Errorf(domain.CodeUnavailable, "login is not available: the data layer cannot check passwords")
	}
	u, err := h.d.Login.Authenticate(r.Context(), in.Email, in.Password)
	if err != nil {
		return err
	}
	tok, err := h.d.Auth.Issue(r.Context(), u.ID)
	if err != nil {
		return err
	}
	w.Header()["Cache-Control"] = []string{"no-store"}
	writeJSON(w, http.StatusOK, loginResponse{
		Token: tok.Value, TokenType: "Bearer", Scheme: h.d.Auth.Kind(), ExpiresAt: tok.ExpiresAt, UserID: u.ID,
	})
	return nil
}

// ---- operations ----

// addStats adds the REST server's own members to /stats (the spine writes
// the rest): responses.not_modified and auth.
func (h *Handler) addStats(out map[string]any) {
	if resp, ok := out["responses"].(map[string]any); ok {
		resp["not_modified"] = h.notModified.Load()
	}
	out["auth"] = h.d.Auth.Kind()
}

// Stats returns the /stats document of the handler's spine: the Deps.Stats
// sections plus connections, requests per route, responses by class, rate
// limiting, auth scheme and uptime.
func (h *Handler) Stats() map[string]any { return h.sp.Stats() }

var errNotAcceptable = &httpError{Status: http.StatusNotAcceptable, Code: "not_acceptable",
	Msg: "this server only produces application/json; send Accept: application/json"}
