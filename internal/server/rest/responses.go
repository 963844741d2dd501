package rest

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/domain"
)

// Full-response caching (Deps.Responses, the cache layer's response mode):
// instead of caching entities and rendering JSON on every hit, the handler
// caches the rendered response — validators and body — and a hit writes
// stored bytes with no decode and no encode. The cost moves to
// invalidation: the layer's writes bump per-tag generations, so every
// response that shows a product goes stale at once.
//
// A cached entry is an envelope: "<etag>\n<last-modified>\n<body>". The
// ETag and Last-Modified lines may be empty (list pages carry neither).

// envelope renders a cached response.
func envelope(tag string, modified time.Time, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(tag)
	buf.WriteByte('\n')
	if !modified.IsZero() {
		buf.WriteString(modified.UTC().Format(http.TimeFormat))
	}
	buf.WriteByte('\n')
	if err := encodeTo(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// openEnvelope splits a cached response; ok is false for a corrupt entry.
func openEnvelope(b []byte) (tag, modified string, body []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", "", nil, false
	}
	j := bytes.IndexByte(b[i+1:], '\n')
	if j < 0 {
		return "", "", nil, false
	}
	return string(b[:i]), string(b[i+1 : i+1+j]), b[i+2+j:], true
}

// serveCached answers a GET from the response cache: key and render as for
// cache.Responses.Do. The 304 decision uses the cached validators, so a
// conditional hit costs neither a store call nor a body.
func (h *Handler) serveCached(w http.ResponseWriter, r *http.Request, key string, render func(context.Context) ([]byte, error)) error {
	b, err := h.d.Responses.Do(r.Context(), key, render)
	if err != nil {
		return err
	}
	tag, lm, body, ok := openEnvelope(b)
	if !ok {
		return domain.Errorf(domain.CodeInternal, "corrupt cached response")
	}
	hd := w.Header()
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	if tag != "" {
		hd["Etag"] = []string{tag}
	}
	if lm != "" {
		hd["Last-Modified"] = []string{lm}
	}
	if tag != "" && conditional(r) && notModified(r, tag, parseTime(lm)) {
		h.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd["Content-Type"] = jsonCT
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func (h *Handler) cachedProduct(w http.ResponseWriter, r *http.Request, id int64, pad int) error {
	q := strconv.FormatInt(id, 10)
	if pad > 0 {
		q += "&pad=" + strconv.Itoa(pad)
	}
	key := h.d.Responses.Key("GET /api/products/{id}", q, cache.ProductTag(id))
	return h.serveCached(w, r, key, func(ctx context.Context) ([]byte, error) {
		p, err := h.d.Catalog.GetProduct(ctx, id)
		if err != nil {
			return nil, err
		}
		if pad > 0 {
			return envelope(padTag(etag('p', p.ID, p.Version), pad), p.UpdatedAt, h.padded(p, pad))
		}
		return envelope(etag('p', p.ID, p.Version), p.UpdatedAt, p)
	})
}

func (h *Handler) cachedList(w http.ResponseWriter, r *http.Request, f domain.ProductFilter, pad int) error {
	q := "category=" + f.Category + "&offset=" + strconv.Itoa(f.Offset) + "&limit=" + strconv.Itoa(f.Limit)
	if pad > 0 {
		q += "&pad=" + strconv.Itoa(pad)
	}
	key := h.d.Responses.Key("GET /api/products", q, cache.ListTag)
	return h.serveCached(w, r, key, func(ctx context.Context) ([]byte, error) {
		page, err := h.d.Catalog.ListProducts(ctx, f)
		if err != nil {
			return nil, err
		}
		if pad > 0 {
			return envelope("", time.Time{}, h.paddedList(page, pad))
		}
		return envelope("", time.Time{}, page)
	})
}

func (h *Handler) cachedReviews(w http.ResponseWriter, r *http.Request, id int64, offset, limit int) error {
	q := strconv.FormatInt(id, 10) + "&offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(limit)
	key := h.d.Responses.Key("GET /api/products/{id}/reviews", q, cache.ProductTag(id))
	return h.serveCached(w, r, key, func(ctx context.Context) ([]byte, error) {
		rs, err := h.d.Catalog.ProductReviews(ctx, id, offset, limit)
		if err != nil {
			return nil, err
		}
		if rs == nil {
			rs = []domain.Review{}
		}
		return envelope("", time.Time{}, reviewsPage{ProductID: id, Reviews: rs, Offset: offset, Limit: limit})
	})
}

// parseTime parses a stored Last-Modified; zero when absent or bad.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := http.ParseTime(s)
	return t
}
