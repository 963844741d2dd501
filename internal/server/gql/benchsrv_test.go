package gql_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// discardWriter is the cheapest http.ResponseWriter: the handler-only
// benchmarks measure the server's own work, with no socket or client.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// BenchmarkProductByIDHandler is BenchmarkProductByID without the network
// and the client: each handler served in process, one request at a time,
// so ns/op is the server's own CPU per request.
//
//	go test -run XXX -bench ProductByIDHandler ./internal/server/gql/
func BenchmarkProductByIDHandler(b *testing.B) {
	st, err := stack.New(context.Background(), stack.Config{Cache: "lru"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close(context.Background()) })
	rh := rest.NewHandler(rest.Deps{Catalog: st.Catalog, Auth: st.Auth, Stats: st.Stats})
	gh := gql.NewHandler(gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Stats: st.Stats,
		Options: gql.Options{DataLoader: true, APQ: gql.NewAPQLRU(100)}})
	const body = `{"query":"query P($id: ID!) { product(id: $id) { id name description category price stock version updatedAt } }","variables":{"id":"7"}}`
	run := func(b *testing.B, h http.Handler, newReq func() *http.Request) {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, newReq())
		if w.status != 0 && w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
		b.ReportAllocs()
		cpu0, n := cpuTime(), 0
		for b.Loop() {
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, newReq())
			n++
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
	}
	b.Run("rest", func(b *testing.B) {
		run(b, rh, func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "/api/products/7", nil)
			r.RemoteAddr = "127.0.0.1:1"
			return r
		})
	})
	b.Run("graphql", func(b *testing.B) {
		run(b, gh, func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.RemoteAddr = "127.0.0.1:1"
			return r
		})
	})
}
