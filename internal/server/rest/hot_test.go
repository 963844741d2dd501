package rest

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// A hit written from the cache's stored JSON (hot.go) is byte for byte
// what the rendering path writes — body and headers — and follows every
// change of the product; a conditional hit is a 304.
func TestCachedProductWrittenFromStoredJSON(t *testing.T) {
	t.Parallel()
	for _, cache := range []string{"lru", "tinylfu"} {
		t.Run(cache, func(t *testing.T) {
			t.Parallel()
			rt, _ := newStackTest(t, stack.Config{Cache: cache}, Deps{})
			if rt.h.pj == nil {
				t.Fatal("the stack's cache layer does not offer GetProductJSON")
			}
			same := func(a, b response) {
				t.Helper()
				if !bytes.Equal(a.body, b.body) {
					t.Fatalf("bodies differ:\n%s\n%s", a.body, b.body)
				}
				for _, k := range []string{"Etag", "Last-Modified", "Content-Length", "Content-Type", "Cache-Control", "Vary"} {
					if a.Header.Get(k) != b.Header.Get(k) || a.Header.Get(k) == "" {
						t.Fatalf("%s: %q vs %q", k, a.Header.Get(k), b.Header.Get(k))
					}
				}
			}
			check := func(wantStock int64) {
				t.Helper()
				miss := rt.get("/api/products/7")
				wantStatus(t, miss, http.StatusOK)
				hit := rt.get("/api/products/7")
				wantStatus(t, hit, http.StatusOK)
				if miss.Header.Get("X-Cache") != "MISS" || hit.Header.Get("X-Cache") != "HIT" {
					t.Fatalf("X-Cache %q then %q, want MISS then HIT", miss.Header.Get("X-Cache"), hit.Header.Get("X-Cache"))
				}
				same(miss, hit)
				// The rendering path: a bypassing read encodes the store's product.
				fresh := rt.get("/api/products/7", "Cache-Control", "no-cache")
				same(fresh, hit)
				var p domain.Product
				hit.json(t, &p)
				if p.ID != 7 || p.Stock != wantStock {
					t.Fatalf("product %+v, want id 7 stock %d", p, wantStock)
				}
				nm := rt.get("/api/products/7", "If-None-Match", hit.Header.Get("Etag"))
				wantStatus(t, nm, http.StatusNotModified)
				if nm.Header.Get("Etag") != hit.Header.Get("Etag") || nm.Header.Get("X-Cache") != "HIT" || len(nm.body) != 0 {
					t.Fatalf("304: headers %v, body %q", nm.Header, nm.body)
				}
			}
			check(rt.getStock(t, 7))
			tok := rt.login()
			for _, stock := range []int64{5, 123456} { // the body's length changes too
				r := rt.do(http.MethodPatch, "/api/products/7", map[string]int64{"stock": stock}, "Authorization", tok)
				wantStatus(t, r, http.StatusOK)
				check(stock)
			}
		})
	}
}

// getStock reads a product's stock past the caches.
func (rt *restTest) getStock(t *testing.T, id int64) int64 {
	t.Helper()
	p, err := rt.store.GetProduct(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Stock
}
