package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

func TestGetProductJSON(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{BackendLRU, BackendTinyLFU, BackendRedis} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLayer(t, newStore(t, store.Options{}), Config{Backend: backend})
			ctx := context.Background()

			// A miss loads the store, returns no bytes and counts a miss.
			c, tr := traced(ctx)
			p, raw, err := l.GetProductJSON(c, 3)
			if err != nil || p.ID != 3 || raw != nil || tr.Status() != domain.CacheMiss {
				t.Fatalf("miss: %+v, raw %q, %v, trace %v", p, raw, err, tr.Status())
			}
			// A hit: the stored JSON of that very product from an in-process
			// backend; Redis keeps no decoded value, so no bytes there.
			c, tr = traced(ctx)
			p2, raw, err := l.GetProductJSON(c, 3)
			if err != nil || *p2 != *p || tr.Status() != domain.CacheHit {
				t.Fatalf("hit: %+v, %v, trace %v", p2, err, tr.Status())
			}
			if backend == BackendRedis {
				if raw != nil {
					t.Fatalf("redis hit returned bytes %q", raw)
				}
			} else if want, _ := json.Marshal(p); !bytes.Equal(raw, want) {
				t.Fatalf("raw = %s, want json.Marshal(p) = %s", raw, want)
			} else if p3, _, _ := l.GetProductJSON(ctx, 3); p3 != p2 {
				// The kept product itself, shared, not a copy per hit.
				t.Fatalf("two hits returned two copies of the product (%p, %p)", p2, p3)
			}
			// A bypass reads the store: no bytes, marked BYPASS.
			c, tr = traced(domain.WithBypass(ctx))
			if _, raw, err = l.GetProductJSON(c, 3); err != nil || raw != nil || tr.Status() != domain.CacheBypass {
				t.Fatalf("bypass: raw %q, %v, trace %v", raw, err, tr.Status())
			}
			// After a write the old bytes are gone: the next read is the new
			// version, and its bytes (on the following hit) encode it.
			up, err := l.UpdateProduct(ctx, 3, domain.ProductPatch{Stock: ptr(int64(77))})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				p, raw, err = l.GetProductJSON(ctx, 3)
				if err != nil || p.Version != up.Version || p.Stock != 77 {
					t.Fatalf("after update: %+v, %v (want version %d)", p, err, up.Version)
				}
				if want, _ := json.Marshal(p); raw != nil && !bytes.Equal(raw, want) {
					t.Fatalf("after update raw = %s, want %s", raw, want)
				}
			}
			// A missing product is the store's not-found.
			if _, _, err = l.GetProductJSON(ctx, 1<<40); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Fatalf("missing product: %v", err)
			}
			s := l.Stats()
			wantHits := int64(2)
			if backend != BackendRedis {
				wantHits++ // the second hit that checked the product is shared
			}
			if s.Hits != wantHits || s.Misses != 3 || s.Bypassed != 1 {
				t.Errorf("stats: hits %d misses %d bypassed %d, want %d, 3, 1", s.Hits, s.Misses, s.Bypassed, wantHits)
			}
		})
	}
}

// TestProductKeySlots: product keys come from a fixed array of slots; ids
// sharing a slot each get their own key, a repeated id costs no allocation,
// and reads of colliding ids through the cache return their own products.
func TestProductKeySlots(t *testing.T) { // not parallel: AllocsPerRun
	l := newLayer(t, newStore(t, store.Options{}), Config{Backend: BackendLRU})
	for _, id := range []int64{1, 1 + keySlots, 1, 1 + 2*keySlots, 1 + keySlots, -1} {
		if got, want := l.productKey(id), l.key(ProductSlotTag+":", id); got != want {
			t.Fatalf("productKey(%d) = %q, want %q", id, got, want)
		}
	}
	l.productKey(42)
	if n := testing.AllocsPerRun(100, func() { l.productKey(42) }); n != 0 {
		t.Fatalf("a repeated id allocates %v times", n)
	}
	// A read after another id took its slot finds the entry it cached.
	ctx := context.Background()
	if _, _, err := l.GetProductJSON(ctx, 2); err != nil {
		t.Fatal(err)
	}
	l.productKey(2 + keySlots)
	c, tr := traced(ctx)
	if p, _, err := l.GetProductJSON(c, 2); err != nil || p.ID != 2 || tr.Status() != domain.CacheHit {
		t.Fatalf("product 2 again: %+v, %v, trace %v", p, err, tr.Status())
	}
}
