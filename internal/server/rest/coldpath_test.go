package rest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// TestColdPath is the harness of testdata/bench/coldmiss.sh: it serves
// LOADRIG_COLD cached GET /api/products/1 requests (LOADRIG_COLD_CASE=bare:
// the bare handler of BenchmarkHotPath instead of the REST handler), each
// after writing through a buffer larger than the simulated caches, so
// every request starts cold as it does on a loaded server, where the
// other connections' requests and the kernel push a request's data out of
// the cache. Run under valgrind's cachegrind, the difference between two
// request counts is the cache misses one request costs, a count that does
// not move with the machine's load as wrk's throughput does. The request
// carries only what wrk sends (no Accept). Without LOADRIG_COLD it skips.
func TestColdPath(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LOADRIG_COLD"))
	if n <= 0 {
		t.Skip("a harness for testdata/bench/coldmiss.sh: set LOADRIG_COLD=N")
	}
	var h http.Handler
	if os.Getenv("LOADRIG_COLD_CASE") == "bare" {
		h = bareHandler(t)
	} else {
		h = serveHandler(newTestStack(t, stack.Config{Cache: "lru", StoreLatency: time.Millisecond}))
	}
	w := &benchWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/api/products/1", nil)
	r = r.WithContext(server.ConnScope(r.Context(), nil))
	h.ServeHTTP(w, r) // the miss that fills the cache
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection inside the count
	coldLoop(n, h, w, r)
	if w.code != 0 && w.code != http.StatusOK || w.n == 0 || w.h.Get("X-Cache") != "HIT" {
		t.Fatalf("last request: status %d, %d bytes, X-Cache %q; want a cached 200", w.code, w.n, w.h.Get("X-Cache"))
	}
}

// coldBuf is larger than coldmiss.sh's simulated last-level cache (2 MiB).
var coldBuf = make([]byte, 4<<20)

// evict writes one byte of every cache line of coldBuf.
//
//go:noinline
func evict() {
	for i := 0; i < len(coldBuf); i += 64 {
		coldBuf[i]++
	}
}

//go:noinline
func coldLoop(n int, h http.Handler, w *benchWriter, r *http.Request) {
	for range n {
		evict()
		w.reset()
		h.ServeHTTP(w, r)
	}
}
