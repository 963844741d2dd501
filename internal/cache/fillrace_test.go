package cache

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

// gatedStore holds the first GetProduct or GetProducts after it has read
// the store, until release is closed: a cache miss whose load read the old
// state and is slow to return it.
type gatedStore struct {
	*store.Store
	gated   atomic.Bool
	read    chan struct{} // receives after the gated store read
	release chan struct{}
}

func (g *gatedStore) gate() {
	if g.gated.CompareAndSwap(false, true) {
		g.read <- struct{}{}
		<-g.release
	}
}

func (g *gatedStore) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	p, err := g.Store.GetProduct(ctx, id)
	g.gate()
	return p, err
}

func (g *gatedStore) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
	ps, err := g.Store.GetProducts(ctx, ids)
	g.gate()
	return ps, err
}

// TestMissLoadRacingUpdate checks the cache-aside fill race: a miss reads
// version N from the store, an update writes N+1 and invalidates (or
// updates) the cached entry, then the miss's load returns and caches N.
// Without a guard the cache then serves N (and answers conditional GETs for
// it with 304) until the TTL ends, and a write-behind update reads N as its
// base. The late fill must be dropped.
func TestMissLoadRacingUpdate(t *testing.T) {
	type variant struct{ be, strat, inval string }
	vs := []variant{
		{BackendLRU, StrategyAside, InvalidateDelete},
		{BackendLRU, StrategyAside, InvalidateUpdate},
		{BackendTinyLFU, StrategyWriteThrough, ""},
		{BackendRedis, StrategyAside, InvalidateDelete},
		{BackendRedis, StrategyWriteThrough, ""},
		{BackendRedis, StrategyWriteBehind, ""},
	}
	for _, v := range vs {
		for _, batch := range []bool{false, true} {
			name := v.be + "/" + v.strat + "/" + v.inval
			if batch {
				name += "/batch"
			}
			t.Run(name, func(t *testing.T) {
				s := newStore(t, store.Options{})
				g := &gatedStore{Store: s, read: make(chan struct{}, 1), release: make(chan struct{})}
				l := newLayer(t, g, Config{Backend: v.be, Strategy: v.strat, Invalidation: v.inval})
				done := make(chan error, 1)
				go func() {
					var err error
					if batch {
						_, err = l.GetProducts(context.Background(), []int64{5})
					} else {
						_, err = l.GetProduct(context.Background(), 5)
					}
					done <- err
				}()
				<-g.read // the miss has read the old version
				upd, err := l.UpdateProduct(t.Context(), 5, domain.ProductPatch{Price: ptr(42.0)})
				if err != nil {
					t.Fatal(err)
				}
				close(g.release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				ctx, _ := traced(t.Context())
				p, err := l.GetProduct(ctx, 5)
				if err != nil {
					t.Fatal(err)
				}
				if p.Version != upd.Version || p.Price != 42 {
					t.Fatalf("after the update (version %d) the cache serves version %d, price %v", upd.Version, p.Version, p.Price)
				}
				if cv, ok := l.ProductVersion(t.Context(), 5); ok && cv.Version != upd.Version {
					t.Fatalf("ProductVersion says %d after the update to %d", cv.Version, upd.Version)
				}
			})
		}
	}
}
