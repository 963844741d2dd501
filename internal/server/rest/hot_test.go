package rest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

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

// TestCachedProductAllocations guards the hot path's allocation count: a
// cached GET /api/products/{id} through the whole handler (spine included)
// allocates the Exchange and, outside a server's connection scope (as
// here), the request copy that carries it — nothing per header, per byte
// of body or for the product (it was 15 before hot.go; a product copy
// escaping to the heap on every hit once made it 3).
func TestCachedProductAllocations(t *testing.T) {
	st := newTestStack(t, stack.Config{Cache: "lru"})
	h := serveHandler(st)
	w := &benchWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/api/products/1", nil)
	h.ServeHTTP(w, r) // the miss that fills the cache
	allocs := testing.AllocsPerRun(200, func() {
		w.reset()
		h.ServeHTTP(w, r)
	})
	if w.code != http.StatusOK || w.h.Get("X-Cache") != "HIT" || w.h.Get("Etag") == "" {
		t.Fatalf("status %d, headers %v", w.code, w.h)
	}
	if allocs > 2 {
		t.Errorf("allocations per cached GET = %v, want ≤ 2", allocs)
	}
}

// TestValidatorMemoBody: a slot's body is its cached JSON and a newline,
// rebuilt when the cache holds other bytes for the same product version
// (a refill) or another product shares the slot; never another's body.
func TestValidatorMemoBody(t *testing.T) {
	t.Parallel()
	var m validatorMemo
	p := domain.Product{ID: 7, Version: 3, UpdatedAt: time.Unix(1_700_000_000, 0)}
	raw1 := []byte(`{"id":7,"name":"a"}`)
	raw2 := []byte(`{"id":7,"name":"b"}`) // a refill: same version, same length, other bytes
	other := domain.Product{ID: 7 + memoSlots, Version: 3}
	rawO := []byte(`{"id":1031}`)
	p4 := domain.Product{ID: 7, Version: 4, UpdatedAt: time.Unix(1_700_000_100, 0)}
	raw3 := []byte(`{"id":7,"version":4}`)
	for i, c := range []struct {
		p    *domain.Product
		raw  []byte
		want string
	}{
		{&p, raw1, `{"id":7,"name":"a"}` + "\n"},
		{&p, raw1, `{"id":7,"name":"a"}` + "\n"},
		{&p, raw2, `{"id":7,"name":"b"}` + "\n"},
		{&other, rawO, `{"id":1031}` + "\n"},
		{&p, raw2, `{"id":7,"name":"b"}` + "\n"},
		{&p4, raw3, `{"id":7,"version":4}` + "\n"}, // a new version: new bytes, its own ETag
	} {
		v := m.get(c.p.ID, c.p, c.raw)
		if string(v.body) != c.want || v.clen[0] != strconv.Itoa(len(c.want)) || v.etag[0] != etag('p', c.p.ID, c.p.Version) {
			t.Fatalf("step %d: body %q, Content-Length %s, ETag %s; want body %q", i, v.body, v.clen[0], v.etag[0], c.want)
		}
	}
	if a, b := m.get(p.ID, &p, raw2), m.get(p.ID, &p, raw2); a != b {
		t.Fatal("the same bytes twice made two slots' worth of values")
	}
}
