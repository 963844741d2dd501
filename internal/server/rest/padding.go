package rest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/loadrig/loadrig/internal/domain"
)

// Payload padding: GET /api/products/{id}?pad=N and GET /api/products?pad=N
// add N filler bytes to each product, in a "padding" member, so a payload
// sweep can grow responses without a different dataset. It is the REST twin
// of the gRPC server's pad_bytes (Product.padding): the same filler bytes
// ('a'..'z' repeating), the same cap (DefaultMaxPadBytes), so the two
// protocols carry the same information at every size. The filler is ASCII,
// so N bytes of it are N bytes of JSON string (no escaping). It is highly
// compressible; a gzipped size measured on it is a best case.
//
// A padded representation is a different representation: its ETag gets a
// "-padN" suffix, and response caching keys it by N.

// filler is the shared, read-only filler string, built on first use.
type filler struct {
	once sync.Once
	s    string
}

// get returns n filler bytes (a substring of one shared string: no copy).
func (f *filler) get(n, maxN int) string {
	f.once.Do(func() {
		var b strings.Builder
		b.Grow(maxN)
		for i := range maxN {
			b.WriteByte('a' + byte(i%26))
		}
		f.s = b.String()
	})
	return f.s[:n]
}

// paddedProduct is a product with its padding.
type paddedProduct struct {
	domain.Product
	Padding string `json:"padding,omitempty"`
}

// paddedPage is a list page whose products carry padding.
type paddedPage struct {
	Products []paddedProduct `json:"products"`
	Total    int             `json:"total"`
	Offset   int             `json:"offset"`
	Limit    int             `json:"limit"`
}

// padParam reads the pad query parameter: 0 when absent.
func (h *Handler) padParam(r *http.Request) (int, error) {
	if !strings.Contains(r.URL.RawQuery, "pad=") {
		return 0, nil
	}
	return queryInt(r, "pad", 0, h.d.MaxPadBytes)
}

// padded returns p with pad filler bytes.
func (h *Handler) padded(p domain.Product, pad int) paddedProduct {
	return paddedProduct{Product: p, Padding: h.fill.get(pad, h.d.MaxPadBytes)}
}

// paddedList returns page with pad filler bytes in every product.
func (h *Handler) paddedList(page domain.ProductPage, pad int) paddedPage {
	out := paddedPage{Products: make([]paddedProduct, len(page.Products)), Total: page.Total, Offset: page.Offset, Limit: page.Limit}
	for i, p := range page.Products {
		out.Products[i] = h.padded(p, pad)
	}
	return out
}

// padTag is the ETag of a padded representation: tag with "-padN" before
// the closing quote; tag itself when pad is 0.
func padTag(tag string, pad int) string {
	if pad == 0 {
		return tag
	}
	return tag[:len(tag)-1] + "-pad" + strconv.Itoa(pad) + `"`
}
