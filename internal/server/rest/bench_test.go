package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server/stack"
)

// The benchmarks compare whole request round trips over loopback
// (httptest server, net/http client in the same process), so ns/op is
// client + server time per request:
//
//   - seq: one keep-alive connection, one request at a time (latency);
//   - par: 16 goroutines with a connection each (throughput: CPU per
//     request, Redis round trips overlapping with other requests' work).
//
// The closing note's ratios are bare ns/op ÷ REST ns/op from one run:
//
//	go test -run XXX -bench . -benchtime 1s ./internal/server/rest/

func getOnce(b *testing.B, c *http.Client, req *http.Request) *http.Response {
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	return resp
}

// benchURL runs the seq and par sub-benchmarks against url; wantCache, if
// set, is the X-Cache every measured response must carry (checked after a
// warm-up request).
func benchURL(b *testing.B, url string, wantCache string) {
	b.Run("seq", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		getOnce(b, c, req)
		if r := getOnce(b, c, req); wantCache != "" && r.Header.Get("X-Cache") != wantCache {
			b.Fatalf("X-Cache = %q, want %s", r.Header.Get("X-Cache"), wantCache)
		}
		b.ReportAllocs()
		for b.Loop() {
			getOnce(b, c, req)
		}
	})
	b.Run("par", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8) // 8 × GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			for pb.Next() {
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}

func serveBench(b *testing.B, st *stack.Stack) string {
	h := NewHandler(Deps{Catalog: st.Catalog, Auth: st.Auth, Stats: st.Stats, Responses: st.Responses()})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkBareHandler is the baseline: a net/http handler writing the
// same bytes as the REST product response — the same body and the same
// header set (the values are constants here), so the comparison measures
// the REST handler's work, not the cost of HTTP headers both must send.
func BenchmarkBareHandler(b *testing.B) {
	benchURL(b, bareServer(b)+"/api/products/1", "")
}

// bareServer serves the bare handler and returns its URL.
func bareServer(b *testing.B) string {
	st := newTestStack(b, stack.Config{})
	p, err := st.Store.GetProduct(context.Background(), 1)
	if err != nil {
		b.Fatal(err)
	}
	w := httptest.NewRecorder()
	writeJSON(w, 200, p)
	body := w.Body.Bytes()
	tag, lm := etag('p', 1, p.Version), p.UpdatedAt.UTC().Format(http.TimeFormat)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Etag", tag)
		h.Set("Last-Modified", lm)
		h.Set("Cache-Control", "no-cache")
		h.Set("Vary", "Accept")
		h.Set("X-Cache", "HIT")
		h.Set("X-Request-Id", "9f86d081-1k3")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkRESTInProcessCache serves GET /api/products/1 from the LRU
// cache (object mode: every request a HIT, entity decoded and rendered).
func BenchmarkRESTInProcessCache(b *testing.B) {
	st := newTestStack(b, stack.Config{Cache: "lru", StoreLatency: 2 * time.Millisecond})
	benchURL(b, serveBench(b, st)+"/api/products/1", "HIT")
}

// BenchmarkRESTInProcessResponseCache is the LRU in response mode: stored
// bytes, no decode, no encode.
func BenchmarkRESTInProcessResponseCache(b *testing.B) {
	st := newTestStack(b, stack.Config{Cache: "lru", CacheMode: "response", StoreLatency: 2 * time.Millisecond})
	benchURL(b, serveBench(b, st)+"/api/products/1", "HIT")
}

// BenchmarkRESTRedisAside serves GET /api/products/1 from Redis
// cache-aside (every request a HIT: one GET to Redis, JSON decode, render).
func BenchmarkRESTRedisAside(b *testing.B) {
	b.Logf("redis mode: %s", redisInst.Mode())
	st := newTestStack(b, stack.Config{Cache: "redis", StoreLatency: 2 * time.Millisecond, KeyPrefix: "bench:"})
	benchURL(b, serveBench(b, st)+"/api/products/1", "HIT")
}

// BenchmarkRESTRedisAsideResponseCache is Redis cache-aside in response
// mode: one GET to Redis, bytes written as stored.
func BenchmarkRESTRedisAsideResponseCache(b *testing.B) {
	st := newTestStack(b, stack.Config{Cache: "redis", CacheMode: "response", StoreLatency: 2 * time.Millisecond, KeyPrefix: "benchr:"})
	benchURL(b, serveBench(b, st)+"/api/products/1", "HIT")
}

// BenchmarkRatio interleaves requests to the bare handler and to the REST
// server request by request, in the same time window, and reports
// bare-time ÷ REST-time as "ratio": a same-pass ratio that host noise
// (other processes on the machine) affects equally on both sides. The
// goals: ≥ 0.7 for the in-process cache, ≥ 0.5 for Redis cache-aside.
func BenchmarkRatio(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  stack.Config
	}{
		{"inprocess", stack.Config{Cache: "lru", StoreLatency: 2 * time.Millisecond}},
		{"inprocess-response", stack.Config{Cache: "lru", CacheMode: "response", StoreLatency: 2 * time.Millisecond}},
		{"redis-aside", stack.Config{Cache: "redis", StoreLatency: 2 * time.Millisecond, KeyPrefix: "ratio:"}},
		{"redis-aside-response", stack.Config{Cache: "redis", CacheMode: "response", StoreLatency: 2 * time.Millisecond, KeyPrefix: "ratior:"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			bare := bareServer(b) + "/api/products/1"
			restURL := serveBench(b, newTestStack(b, c.cfg)) + "/api/products/1"
			cb := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			cr := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer cb.CloseIdleConnections()
			defer cr.CloseIdleConnections()
			rb, _ := http.NewRequest(http.MethodGet, bare, nil)
			rr, _ := http.NewRequest(http.MethodGet, restURL, nil)
			getOnce(b, cb, rb)
			getOnce(b, cr, rr)
			if r := getOnce(b, cr, rr); r.Header.Get("X-Cache") != "HIT" {
				b.Fatalf("X-Cache = %q, want HIT", r.Header.Get("X-Cache"))
			}
			var tb, tr time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				getOnce(b, cb, rb)
				t1 := time.Now()
				getOnce(b, cr, rr)
				tb += t1.Sub(t0)
				tr += time.Since(t1)
			}
			b.ReportMetric(float64(tb)/float64(tr), "ratio")
			b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N), "bare-ns/req")
			b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), "rest-ns/req")
		})
	}
}
