package httpdrv

import (
	"context"
	"testing"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

const helloResp = "HTTP/1.1 200 OK\r\nDate: Sat, 28 Nov 2026 18:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// benchDo runs one worker against an in-process loopback server that
// answers with a fixed /hello response and allocates nothing per request.
// The figure includes that server's CPU on the same cores, so it is for
// comparing paths, not for absolute cost (PERF-NOTES pins client and
// server to different cores for that).
func benchDo(b *testing.B, o Options) {
	o.URL = fixedServer(b, helloResp) + o.URL
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
}

// BenchmarkNetHTTP is the same request through the net/http path.
func BenchmarkNetHTTP(b *testing.B) {
	b.Run("constant", func(b *testing.B) { benchDo(b, Options{URL: "/hello", ForceNetHTTP: true}) })
	b.Run("templated", func(b *testing.B) {
		benchDo(b, Options{URL: "/products/{{zipf 1.1 1 10000}}?seq={{.Seq}}", Headers: []string{"X-Request-Id: {{uuid}}"}, ForceNetHTTP: true})
	})
}
