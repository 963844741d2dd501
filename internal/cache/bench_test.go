package cache

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

// BenchmarkAsideHit measures the cache-aside hit path of GetProduct: one
// backend read and one JSON decode, no store call. The store has its default
// latency so any accidental store call would show.
func BenchmarkAsideHit(b *testing.B) {
	for _, be := range backends {
		b.Run(be, func(b *testing.B) {
			s := store.New(domain.Generate(1, domain.Counts{Users: 10, Products: 100, Orders: 1}), store.Options{})
			cfg := Config{Backend: be, KeyPrefix: "bench:"}
			if be == BackendRedis {
				rb, err := rediscache.Open(rediscache.Options{URL: redisInst.URL()})
				if err != nil {
					b.Fatal(err)
				}
				defer rb.Close()
				b.Logf("redis mode: %s", redisInst.Mode())
				cfg.Redis = rb
			}
			l, err := New(s, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			ctx := context.Background()
			for id := int64(1); id <= 100; id++ {
				if _, err := l.GetProduct(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			calls := s.Stats().Calls
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				tr := &domain.CacheTrace{}
				c := domain.WithCacheTrace(ctx, tr)
				id := int64(0)
				for pb.Next() {
					id = id%100 + 1
					if _, err := l.GetProduct(c, id); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if s.Stats().Calls != calls {
				b.Fatalf("hit path called the store")
			}
		})
	}
}

// BenchmarkJSONDecodeProduct is the decode share of an in-process hit.
func BenchmarkJSONDecodeProduct(b *testing.B) {
	p := domain.Generate(1, domain.Counts{Products: 1}).Products[0]
	raw, _ := json.Marshal(p)
	b.ReportAllocs()
	for b.Loop() {
		var out domain.Product
		if err := json.Unmarshal(raw, &out); err != nil {
			b.Fatal(err)
		}
	}
}
