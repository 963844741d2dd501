package rest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// wantFiller fails unless s is n bytes of the gRPC server's filler
// ('a'..'z' repeating).
func wantFiller(t *testing.T, s string, n int) {
	t.Helper()
	if len(s) != n {
		t.Fatalf("padding is %d bytes, want %d", len(s), n)
	}
	for i := range len(s) {
		if s[i] != 'a'+byte(i%26) {
			t.Fatalf("padding byte %d = %q, want %q", i, s[i], 'a'+byte(i%26))
		}
	}
}

func TestPadMatchesGRPCCap(t *testing.T) {
	t.Parallel()
	if DefaultMaxPadBytes != grpcsrv.DefaultMaxPadBytes {
		t.Fatalf("REST pad cap %d != gRPC pad_bytes cap %d: a payload sweep would ask them for different sizes",
			DefaultMaxPadBytes, grpcsrv.DefaultMaxPadBytes)
	}
}

func TestPad(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"object", "response"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			rt, _ := newStackTest(t, stack.Config{Cache: "lru", CacheMode: mode}, Deps{MaxPadBytes: 5000})

			plain := rt.get("/api/products/3")
			wantStatus(t, plain, 200)
			var want domain.Product
			plain.json(t, &want)

			for range 2 { // the second read is a cache hit
				r := rt.get("/api/products/3?pad=1000")
				wantStatus(t, r, 200)
				var got paddedProduct
				r.json(t, &got)
				wantFiller(t, got.Padding, 1000)
				if !got.Product.UpdatedAt.Equal(want.UpdatedAt) {
					t.Errorf("updated_at %v, want %v", got.Product.UpdatedAt, want.UpdatedAt)
				}
				got.Product.UpdatedAt = want.UpdatedAt
				if got.Product != want {
					t.Errorf("padded product %+v, want %+v", got.Product, want)
				}
				// The body grows by the filler plus `,"padding":""`.
				if d := len(r.body) - len(plain.body); d != 1000+len(`,"padding":""`) {
					t.Errorf("padded body is %d bytes longer, want %d", d, 1000+len(`,"padding":""`))
				}
				tag := fmt.Sprintf(`"p3-v%d-pad1000"`, want.Version)
				if r.Header.Get("Etag") != tag {
					t.Errorf("padded ETag %q, want %q", r.Header.Get("Etag"), tag)
				}
			}
			tag := fmt.Sprintf(`"p3-v%d-pad1000"`, want.Version)
			wantStatus(t, rt.get("/api/products/3?pad=1000", "If-None-Match", tag), 304)
			// The unpadded representation's ETag does not validate a padded one.
			wantStatus(t, rt.get("/api/products/3?pad=1000", "If-None-Match", plain.Header.Get("Etag")), 200)
			wantStatus(t, rt.get("/api/products/3?pad=0", "If-None-Match", plain.Header.Get("Etag")), 304)

			r := rt.get("/api/products?limit=4&pad=300")
			wantStatus(t, r, 200)
			var page paddedPage
			r.json(t, &page)
			if len(page.Products) != 4 || page.Limit != 4 || page.Total == 0 {
				t.Fatalf("padded page: %d products, limit %d, total %d", len(page.Products), page.Limit, page.Total)
			}
			for _, p := range page.Products {
				wantFiller(t, p.Padding, 300)
			}
			var unpadded domain.ProductPage
			rt.get("/api/products?limit=4").json(t, &unpadded)
			if unpadded.Products[0].ID != page.Products[0].ID || unpadded.Total != page.Total {
				t.Errorf("padded page starts at %d, unpadded at %d", page.Products[0].ID, unpadded.Products[0].ID)
			}
			if b := rt.get("/api/products?limit=4"); strings.Contains(string(b.body), "padding") {
				t.Error("an unpadded page carries padding")
			}

			for _, q := range []string{"/api/products/3?pad=5001", "/api/products/3?pad=-1", "/api/products/3?pad=lots", "/api/products?pad=5001"} {
				r := rt.get(q)
				wantStatus(t, r, 400)
				if !strings.Contains(string(r.body), "pad must be an integer in 0..5000") {
					t.Errorf("%s: body %s", q, r.body)
				}
			}
		})
	}
}
