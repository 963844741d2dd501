package gql_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// BenchmarkProductByID compares GraphQL product(id) with REST
// GET /api/products/{id}, both served from the same in-process LRU cache
// (one stack, warm), both selecting every product field, over loopback
// with 8×GOMAXPROCS client goroutines each on its own keep-alive
// connection. ns/op is wall time per request (client + server, both in
// this process) and cpu-ns/op the process CPU per request. The two run in
// interleaved rounds (round1/rest, round1/graphql, round2/rest, ...), and
// each round logs REST ÷ GraphQL CPU per request: GraphQL's req/s as a
// fraction of REST's on the same cores, measured back to back.
//
//	go test -run XXX -bench 'ProductByID$' -benchtime 20000x ./internal/server/gql/
func BenchmarkProductByID(b *testing.B) {
	st, err := stack.New(context.Background(), stack.Config{Cache: "lru"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close(context.Background()) })
	rs := httptest.NewServer(rest.NewHandler(rest.Deps{Catalog: st.Catalog, Auth: st.Auth, Stats: st.Stats}))
	b.Cleanup(rs.Close)
	gs := httptest.NewServer(gql.NewHandler(gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Stats: st.Stats,
		Options: gql.Options{DataLoader: true, APQ: gql.NewAPQLRU(100)}}))
	b.Cleanup(gs.Close)

	const body = `{"query":"query P($id: ID!) { product(id: $id) { id name description category price stock version updatedAt } }","variables":{"id":"7"}}`
	restReq := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, rs.URL+"/api/products/7", nil)
		return r
	}
	gqlReq := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, gs.URL+"/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	const rounds = 3
	for i := 1; i <= rounds; i++ {
		var restCPU, gqlCPU float64
		b.Run(fmt.Sprintf("round%d/rest", i), func(b *testing.B) { restCPU = par(b, restReq, `"id":7`) })
		b.Run(fmt.Sprintf("round%d/graphql", i), func(b *testing.B) { gqlCPU = par(b, gqlReq, `"store_calls":0`) })
		if restCPU > 0 && gqlCPU > 0 {
			b.Logf("round %d: GraphQL req/s ÷ REST by CPU = %.2f (%.0f vs %.0f cpu-ns/op)", i, restCPU/gqlCPU, gqlCPU, restCPU)
		}
	}
}

// cpuTime is the process's user + system CPU time in ns: on a shared,
// oversubscribed machine CPU per request is the steadier measure (req/s on
// the same cores is its inverse), wall time per request the noisier one.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// par runs requests from newReq in parallel and returns the process CPU
// per request; the warm-up response must contain want (the GraphQL one
// proves the cache answered: no store call).
func par(b *testing.B, newReq func() *http.Request, want string) float64 {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := range 2 {
		resp, err := c.Do(newReq())
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || i == 1 && !strings.Contains(string(got), want) {
			b.Fatalf("warm-up: %d %s (want %s)", resp.StatusCode, got, want)
		}
	}
	c.CloseIdleConnections()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer c.CloseIdleConnections()
		for pb.Next() {
			resp, err := c.Do(newReq())
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	perOp := float64(cpuTime()-cpu0) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	return perOp
}
