package rest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// The hot-path benchmarks call the handler directly, without a socket or
// net/http's connection loop, so ns/op and allocs/op are the server's own
// work per request: the spine (request id, X-Cache, counters, access log,
// recovery), routing, the cache read and the response. BenchmarkHotPath/bare
// is the floor: a handler writing the same header set and body. A
// regression in the cached GET shows as allocs/op above the bare handler's
// (testdata/bench/resthot.sh measures the same path through wrk).
//
//	go test -run '^$' -bench HotPath -benchmem ./internal/server/rest/

// benchWriter is a reusable http.ResponseWriter: its header map is cleared,
// not reallocated, between requests, as net/http reuses a response's.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(c int)           { w.code = c }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *benchWriter) reset()                      { clear(w.h); w.code, w.n = 0, 0 }

func hotPath(b *testing.B, h http.Handler, wantCache string) {
	w := &benchWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/api/products/1", nil)
	// The connection scope server.HTTP gives every request (ConnContext).
	r = r.WithContext(server.ConnScope(r.Context(), nil))
	r.Header.Set("Accept", "*/*")
	h.ServeHTTP(w, r) // the miss that fills the cache
	w.reset()
	h.ServeHTTP(w, r)
	if w.code != 200 && w.code != 0 || w.n == 0 {
		b.Fatalf("status %d, %d bytes", w.code, w.n)
	}
	if got := w.h.Get("X-Cache"); got != wantCache {
		b.Fatalf("X-Cache = %q, want %q", got, wantCache)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}

// bareHandler writes the REST product response's header set and body as a
// plain handler does (Header().Set, one Write).
func bareHandler(b testing.TB) http.Handler {
	st := newTestStack(b, stack.Config{})
	h := NewHandler(Deps{Catalog: st.Catalog, Auth: st.Auth})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/products/1", nil))
	body := w.Body.Bytes()
	hdr := w.Result().Header
	cc, ct, tag, lm, vary, id := hdr.Get("Cache-Control"), hdr.Get("Content-Type"), hdr.Get("Etag"),
		hdr.Get("Last-Modified"), hdr.Get("Vary"), hdr.Get("X-Request-Id")
	clen := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", cc)
		hd.Set("Content-Type", ct)
		hd.Set("Etag", tag)
		hd.Set("Last-Modified", lm)
		hd.Set("Vary", vary)
		hd.Set("X-Cache", "HIT")
		hd.Set("X-Request-Id", id)
		hd.Set("Content-Length", clen)
		_, _ = w.Write(body)
	})
}

// BenchmarkHotPath: a cached GET /api/products/1 through the whole REST
// handler, per cache and mode, against the bare handler.
func BenchmarkHotPath(b *testing.B) {
	b.Run("bare", func(b *testing.B) { hotPath(b, bareHandler(b), "HIT") })
	for _, c := range []struct {
		name string
		cfg  stack.Config
	}{
		{"lru-object", stack.Config{Cache: "lru", StoreLatency: time.Millisecond}},
		{"lru-response", stack.Config{Cache: "lru", CacheMode: "response", StoreLatency: time.Millisecond}},
		{"tinylfu-object", stack.Config{Cache: "tinylfu", StoreLatency: time.Millisecond}},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := newTestStack(b, c.cfg)
			hotPath(b, serveHandler(st), "HIT")
		})
	}
}

func serveHandler(st *stack.Stack) http.Handler {
	return NewHandler(Deps{Catalog: st.Catalog, Auth: st.Auth, Stats: st.Stats, Responses: st.Responses()})
}
