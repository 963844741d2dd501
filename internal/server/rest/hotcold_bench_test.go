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

var coldBuf = make([]byte, 4<<20)

// evict writes through a buffer larger than the caches.
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

func TestColdPath(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LOADRIG_COLD"))
	if n == 0 {
		t.Skip("LOADRIG_COLD=N")
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
	h.ServeHTTP(w, r)
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	coldLoop(n, h, w, r)
}
