package httpdrv

import (
	"context"
	"testing"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

const helloResp = "HTTP/1.1 200 OK\r\nDate: Sat, 28 Nov 2026 18:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// etagResp is helloResp with validators: under Revalidate every request
// after the first carries If-None-Match and If-Modified-Since, and every
// answer updates the remembered validators (the most work revalidation
// adds per request).
const etagResp = "HTTP/1.1 200 OK\r\nDate: Sat, 28 Nov 2026 18:00:00 GMT\r\nContent-Type: text/plain\r\nETag: \"p42-v7\"\r\nLast-Modified: Sat, 28 Nov 2026 17:00:00 GMT\r\nContent-Length: 13\r\n\r\nHello, World!"

// benchDo runs one worker against an in-process loopback server that
// answers with a fixed /hello response and allocates nothing per request.
// The figure includes that server's CPU on the same cores, so it is for
// comparing paths, not for absolute cost (PERF-NOTES pins client and
// server to different cores for that).
func benchDo(b *testing.B, o Options) {
	benchDoResp(b, o, helloResp)
}

// benchDoResp is benchDo against a server answering resp.
func benchDoResp(b *testing.B, o Options, resp string) {
	o.URL = fixedServer(b, resp) + o.URL
	d, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	w, err := d.NewWorker(context.Background(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	op := load.NewOp(0, nil)
	if out := w.Do(ctx, op); out.Err != metrics.OK {
		b.Fatal(out.Err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if out := w.Do(ctx, op); out.Err != metrics.OK {
			b.Fatal(out.Err)
		}
	}
}

// BenchmarkFastPath is one keep-alive GET /hello on the fast path.
func BenchmarkFastPath(b *testing.B) {
	b.Run("constant", func(b *testing.B) { benchDo(b, Options{URL: "/hello"}) })
	b.Run("templated", func(b *testing.B) {
		benchDo(b, Options{URL: "/products/{{zipf 1.1 1 10000}}?seq={{.Seq}}", Headers: []string{"X-Request-Id: {{uuid}}"}})
	})
	b.Run("pooled", func(b *testing.B) { benchDo(b, Options{URL: "/hello", Connections: 1}) })
	b.Run("etag", func(b *testing.B) { benchDoResp(b, Options{URL: "/hello"}, etagResp) })
	b.Run("revalidate", func(b *testing.B) { benchDoResp(b, Options{URL: "/hello", Revalidate: true}, etagResp) })
	b.Run("revalidate-shared", func(b *testing.B) {
		benchDoResp(b, Options{URL: "/hello", Revalidate: true, RevalidateShared: true}, etagResp)
	})
	b.Run("revalidate-zipf", func(b *testing.B) {
		// 10,000 URLs: first visits allocate a key and an entry.
		benchDoResp(b, Options{URL: "/products/{{zipf 1.1 1 10000}}", Revalidate: true}, etagResp)
	})
}

// BenchmarkNetHTTP is the same request through the net/http path.
func BenchmarkNetHTTP(b *testing.B) {
	b.Run("constant", func(b *testing.B) { benchDo(b, Options{URL: "/hello", ForceNetHTTP: true}) })
	b.Run("templated", func(b *testing.B) {
		benchDo(b, Options{URL: "/products/{{zipf 1.1 1 10000}}?seq={{.Seq}}", Headers: []string{"X-Request-Id: {{uuid}}"}, ForceNetHTTP: true})
	})
	b.Run("etag", func(b *testing.B) { benchDoResp(b, Options{URL: "/hello", ForceNetHTTP: true}, etagResp) })
	b.Run("revalidate", func(b *testing.B) {
		benchDoResp(b, Options{URL: "/hello", Revalidate: true, ForceNetHTTP: true}, etagResp)
	})
}

// BenchmarkRevalCache is the fast path's per-request revalidation work
// without the network: look the URL up, insert the conditional headers
// into a copy of the request, take the response's validators and update the
// entry in place.
func BenchmarkRevalCache(b *testing.B) {
	b.Run("worker", func(b *testing.B) { benchRevalCache(b, false) })
	b.Run("shared", func(b *testing.B) { benchRevalCache(b, true) }) // uncontended lock
}

func benchRevalCache(b *testing.B, shared bool) {
	c := &revalCache{s: newRevalStore(DefaultRevalidateEntries, shared)}
	req := []byte("GET /api/products/42 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: loadrig\r\n\r\n")
	head, key := len(req)-2, req[4:20]
	tag, lm := []byte(`"p42-v7"`), []byte("Sat, 28 Nov 2026 17:00:00 GMT")
	b.ReportAllocs()
	for b.Loop() {
		c.begin(req, head, key)
		c.etag = append(c.etag, tag...)
		c.lastMod = append(c.lastMod, lm...)
		c.remember()
	}
}
