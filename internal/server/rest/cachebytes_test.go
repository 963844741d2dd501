package rest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/loadrig/loadrig/internal/server/stack"
)

// TestResponseCacheBoundedInBytes: large padded responses cached in
// response mode fill the in-process cache far past its byte bound (10 MiB
// of responses through a 512 KiB cache); /stats shows the bytes held never
// above the bound, evictions doing the work, and the server's live heap
// stays flat (an entry-count bound would keep all of them). Not parallel:
// it reads the process's heap.
func TestResponseCacheBoundedInBytes(t *testing.T) {
	const (
		bound = 512 << 10
		pad   = 64 << 10
		n     = 160
	)
	for _, backend := range []string{"lru", "tinylfu"} {
		t.Run(backend, func(t *testing.T) {
			rt, _ := newStackTest(t, stack.Config{Cache: backend, CacheMode: "response", CacheMaxBytes: bound}, Deps{})
			cacheStats := func() map[string]any {
				t.Helper()
				var st map[string]any
				rt.get("/stats").json(t, &st)
				c, ok := st["cache"].(map[string]any)
				if !ok {
					t.Fatalf("/stats has no cache section: %v", st)
				}
				return c
			}
			num := func(c map[string]any, k string) int64 {
				t.Helper()
				v, ok := c[k].(float64)
				if !ok {
					t.Fatalf("/stats cache.%s = %v, want a number", k, c[k])
				}
				return int64(v)
			}
			if c := cacheStats(); num(c, "max_bytes") != bound || num(c, "bytes") != 0 {
				t.Fatalf("empty cache: %v", c)
			}
			// Warm up what is built once (the 4 MiB padding source), with a
			// bypassing request that caches nothing.
			wantStatus(t, rt.get("/api/products/1?pad=1", "Cache-Control", "no-cache"), 200)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range n {
				// 50 products × 4 pad sizes: every request a new key.
				path := fmt.Sprintf("/api/products/%d?pad=%d", 1+i%50, pad+i/50)
				r := rt.get(path)
				wantStatus(t, r, 200)
				if len(r.body) < pad {
					t.Fatalf("%s: %d bytes, want the padding", path, len(r.body))
				}
				if i%50 == 49 {
					if c := cacheStats(); num(c, "bytes") > bound {
						t.Fatalf("after %d responses: cache holds %d bytes, bound %d", i+1, num(c, "bytes"), bound)
					}
				}
			}
			c := cacheStats()
			if num(c, "bytes") > bound || num(c, "bytes") < bound/2 || num(c, "evictions") < n-bound/pad {
				t.Fatalf("after %d responses of %d KiB: %v; want bound/2 <= bytes <= %d and >= %d evictions", n, pad>>10, c, bound, n-bound/pad)
			}
			runtime.GC()
			runtime.GC() // a second cycle empties sync.Pool victim caches
			runtime.ReadMemStats(&after)
			grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("live heap %+d KiB after %d MiB of responses; cache %d of %d KiB", grew>>10, n*pad>>20, num(c, "bytes")>>10, bound>>10)
			if grew > 3<<20 { // unbounded, it would be the 10 MiB
				t.Errorf("live heap grew %d KiB after %d MiB of responses through a %d KiB cache; want it flat", grew>>10, n*pad>>20, bound>>10)
			}
			// The cache still works: the last response is a hit (LRU; W-TinyLFU
			// may refuse a key seen once, by design).
			if backend != "lru" {
				return
			}
			last := fmt.Sprintf("/api/products/%d?pad=%d", 1+(n-1)%50, pad+(n-1)/50)
			if x := rt.get(last).Header.Get("X-Cache"); x != "HIT" {
				t.Errorf("last response re-read: X-Cache %q, want HIT", x)
			}
		})
	}
}
