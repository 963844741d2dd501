package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

// One Redis for the package: a real redis-server when installed, miniredis
// otherwise (the log says which).
var redisInst *rediscache.Instance

func TestMain(m *testing.M) { redistest.Main(m, &redisInst) }

var prefixSeq atomic.Int64

// uniquePrefix keeps tests sharing the Redis apart.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("test%d-%d:", os.Getpid(), prefixSeq.Add(1))
}

func newStore(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	if o.Latency == 0 {
		o.Latency = store.Off
	}
	if o.PerRow == 0 {
		o.PerRow = store.Off
	}
	return store.New(domain.Generate(1, domain.Counts{Users: 10, Products: 50, ReviewsPerProduct: 2, Orders: 10}), o)
}

func redisBackend(t *testing.T, in *rediscache.Instance) *rediscache.Backend {
	t.Helper()
	t.Logf("redis mode: %s at %s", in.Mode(), in.Addr())
	b, err := rediscache.Open(rediscache.Options{URL: in.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newLayer(t *testing.T, s domain.Catalog, cfg Config) *Layer {
	t.Helper()
	if cfg.Backend == BackendRedis && cfg.Redis == nil {
		cfg.Redis = redisBackend(t, redisInst)
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = uniquePrefix(t)
	}
	l, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

// traced returns a context carrying a fresh trace.
func traced(ctx context.Context) (context.Context, *domain.CacheTrace) {
	tr := &domain.CacheTrace{}
	return domain.WithCacheTrace(ctx, tr), tr
}

func getProduct(t *testing.T, l *Layer, id int64) (domain.Product, domain.CacheStatus) {
	t.Helper()
	ctx, tr := traced(t.Context())
	p, err := l.GetProduct(ctx, id)
	if err != nil {
		t.Fatalf("GetProduct(%d): %v", id, err)
	}
	return p, tr.Status()
}

func ptr[T any](v T) *T { return &v }

var backends = []string{BackendLRU, BackendTinyLFU, BackendRedis}

func TestAsideHitMiss(t *testing.T) {
	for _, be := range backends {
		t.Run(be, func(t *testing.T) {
			s := newStore(t, store.Options{})
			l := newLayer(t, s, Config{Backend: be})
			p1, st1 := getProduct(t, l, 3)
			p2, st2 := getProduct(t, l, 3)
			if st1 != domain.CacheMiss || st2 != domain.CacheHit || p1 != p2 {
				t.Fatalf("first %v second %v; products %+v / %+v", st1, st2, p1, p2)
			}
			if n := s.Stats().ByMethod["GetProduct"]; n != 1 {
				t.Fatalf("store GetProduct calls %d, want 1", n)
			}
			st := l.Stats()
			if st.Hits != 1 || st.Misses != 1 || st.Sets != 1 || st.StoreCallsSaved != 1 || st.Errors != 0 || st.HitRatio != 0.5 {
				t.Fatalf("stats %+v", st)
			}
			// Not-found is not cached and stays an error.
			if _, err := l.GetProduct(t.Context(), 999); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Fatalf("missing product: %v", err)
			}
			// Every other cached read path: second read is a hit, one store call.
			for name, read := range map[string]func(ctx context.Context) error{
				"GetUser":    func(ctx context.Context) error { _, err := l.GetUser(ctx, 2); return err },
				"GetOrder":   func(ctx context.Context) error { _, err := l.GetOrder(ctx, 2); return err },
				"UserOrders": func(ctx context.Context) error { _, err := l.UserOrders(ctx, 2); return err },
				"ListProducts": func(ctx context.Context) error {
					_, err := l.ListProducts(ctx, domain.ProductFilter{Category: "books"})
					return err
				},
				"ProductReviews": func(ctx context.Context) error { _, err := l.ProductReviews(ctx, 4, 0, 0); return err },
			} {
				for i, want := range []domain.CacheStatus{domain.CacheMiss, domain.CacheHit} {
					ctx, tr := traced(t.Context())
					if err := read(ctx); err != nil || tr.Status() != want {
						t.Fatalf("%s read %d: %v, status %v want %v", name, i, err, tr.Status(), want)
					}
				}
				if n := s.Stats().ByMethod[name]; n != 1 {
					t.Fatalf("%s: %d store calls, want 1", name, n)
				}
			}
		})
	}
}

func TestSingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, store.Options{Latency: 5 * time.Millisecond})
		l := newLayer(t, s, Config{Backend: BackendLRU})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := l.GetProduct(t.Context(), 7); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := s.Stats().ByMethod["GetProduct"]; n != 1 {
			t.Fatalf("20 concurrent misses made %d store calls, want 1", n)
		}
		st := l.Stats()
		if st.Misses != 20 || st.Loads != 1 || st.StoreCallsSaved != 19 {
			t.Fatalf("stats %+v", st)
		}
		// Batch misses are shared too.
		for range 5 {
			wg.Go(func() {
				if _, err := l.GetProducts(t.Context(), []int64{10, 11, 12}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := s.Stats().ByMethod["GetProducts"]; n != 1 {
			t.Fatalf("5 concurrent identical batches made %d store calls, want 1", n)
		}
	})
}

func TestSingleflightCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, store.Options{Latency: time.Second})
		l := newLayer(t, s, Config{Backend: BackendLRU})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := l.GetProduct(ctx, 1); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Millisecond {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
		time.Sleep(time.Second) // the shared load completes and is cached
		if _, st := getProduct(t, l, 1); st != domain.CacheHit {
			t.Fatalf("after the detached load, status %v", st)
		}
	})
}

func TestInvalidation(t *testing.T) {
	for _, be := range backends {
		for _, mode := range []string{InvalidateDelete, InvalidateUpdate} {
			t.Run(be+"/"+mode, func(t *testing.T) {
				s := newStore(t, store.Options{})
				l := newLayer(t, s, Config{Backend: be, Invalidation: mode})
				old, _ := getProduct(t, l, 5)
				if _, st := getProduct(t, l, 5); st != domain.CacheHit {
					t.Fatalf("warm read %v", st)
				}
				upd, err := l.UpdateProduct(t.Context(), 5, domain.ProductPatch{Price: ptr(42.0)})
				if err != nil || upd.Version != old.Version+1 {
					t.Fatalf("update %+v %v", upd, err)
				}
				p, st := getProduct(t, l, 5)
				want := domain.CacheMiss
				if mode == InvalidateUpdate {
					want = domain.CacheHit
				}
				if st != want || p.Version != upd.Version || p.Price != 42 {
					t.Fatalf("read after update: %v (want %v), %+v", st, want, p)
				}
			})
		}
	}
}

func TestWriteThrough(t *testing.T) {
	for _, be := range backends {
		t.Run(be, func(t *testing.T) {
			s := newStore(t, store.Options{})
			l := newLayer(t, s, Config{Backend: be, Strategy: StrategyWriteThrough})
			upd, err := l.UpdateProduct(t.Context(), 9, domain.ProductPatch{Stock: ptr(int64(3))})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := s.PeekProduct(9); got != upd {
				t.Fatalf("store %+v, returned %+v", got, upd)
			}
			p, st := getProduct(t, l, 9)
			if st != domain.CacheHit || p.Stock != 3 || p.Version != upd.Version {
				t.Fatalf("read after write-through: %v %+v", st, p)
			}
			if n := s.Stats().ByMethod["GetProduct"]; n != 0 {
				t.Fatalf("store reads %d, want 0", n)
			}
			// Conditional GET support: the version is known without the store.
			v, ok := l.ProductVersion(t.Context(), 9)
			if !ok || v.Version != upd.Version || !v.UpdatedAt.Equal(upd.UpdatedAt) {
				t.Fatalf("ProductVersion %+v %v", v, ok)
			}
		})
	}
}

func TestTTL(t *testing.T) {
	for _, be := range []string{BackendLRU, BackendTinyLFU} {
		t.Run(be, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStore(t, store.Options{})
				l := newLayer(t, s, Config{Backend: be, TTL: 10 * time.Second, TTLJitter: 10 * time.Second,
					Rand: func() float64 { return 0.5 }})
				getProduct(t, l, 1) // cached for 10s + 5s jitter
				time.Sleep(14 * time.Second)
				if _, st := getProduct(t, l, 1); st != domain.CacheHit {
					t.Fatalf("at 14s: %v, want HIT", st)
				}
				time.Sleep(2 * time.Second)
				if _, st := getProduct(t, l, 1); st != domain.CacheMiss {
					t.Fatalf("at 16s: %v, want MISS", st)
				}
				if st := l.Stats(); st.Expired < 1 {
					t.Fatalf("expiry not counted: %+v", st)
				}
			})
		})
	}
}

func TestBypass(t *testing.T) {
	s := newStore(t, store.Options{})
	l := newLayer(t, s, Config{Backend: BackendLRU})
	getProduct(t, l, 2)
	ctx, tr := traced(domain.WithBypass(t.Context()))
	if _, err := l.GetProduct(ctx, 2); err != nil || tr.Status() != domain.CacheBypass {
		t.Fatalf("bypass: %v %v", err, tr.Status())
	}
	if n := s.Stats().ByMethod["GetProduct"]; n != 2 {
		t.Fatalf("bypass did not read the store: %d calls", n)
	}
	if _, ok := l.ProductVersion(domain.WithBypass(t.Context()), 2); ok {
		t.Fatal("ProductVersion answered from cache on bypass")
	}
	if st := l.Stats(); st.Bypassed != 2 || st.Hits != 0 {
		t.Fatalf("stats %+v", st)
	}
	// No backend: pass-through, no mark unless bypass.
	none := newLayer(t, s, Config{})
	if _, st := getProduct(t, none, 2); st != domain.CacheNone {
		t.Fatalf("none backend marked %v", st)
	}
}

func TestBatchRead(t *testing.T) {
	for _, be := range backends {
		t.Run(be, func(t *testing.T) {
			s := newStore(t, store.Options{})
			l := newLayer(t, s, Config{Backend: be})
			getProduct(t, l, 1)
			getProduct(t, l, 2)
			ctx, tr := traced(t.Context())
			ps, err := l.GetProducts(ctx, []int64{1, 2, 3, 999, 4})
			if err != nil || tr.Status() != domain.CacheMiss {
				t.Fatalf("%v %v", err, tr.Status())
			}
			if ps[0].ID != 1 || ps[1].ID != 2 || ps[2].ID != 3 || ps[3].ID != 0 || ps[4].ID != 4 {
				t.Fatalf("batch %+v", ps)
			}
			if st := s.Stats(); st.ByMethod["GetProducts"] != 1 || st.Rows != 2+2 {
				t.Fatalf("store %+v: want one batch call loading only the 2 misses found", st)
			}
			ctx, tr = traced(t.Context())
			if _, err := l.GetProducts(ctx, []int64{1, 2, 3, 4}); err != nil || tr.Status() != domain.CacheHit {
				t.Fatalf("warm batch %v %v", err, tr.Status())
			}
			if n := s.Stats().ByMethod["GetProducts"]; n != 1 {
				t.Fatalf("warm batch hit the store")
			}
		})
	}
}

func TestListAndReviewInvalidation(t *testing.T) {
	s := newStore(t, store.Options{})
	l := newLayer(t, s, Config{Backend: BackendLRU, Invalidation: InvalidateUpdate})
	list := func() (domain.ProductPage, domain.CacheStatus) {
		ctx, tr := traced(t.Context())
		p, err := l.ListProducts(ctx, domain.ProductFilter{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		return p, tr.Status()
	}
	list()
	if _, st := list(); st != domain.CacheHit {
		t.Fatalf("list second read %v", st)
	}
	if _, err := l.UpdateProduct(t.Context(), 1, domain.ProductPatch{Price: ptr(1.5)}); err != nil {
		t.Fatal(err)
	}
	page, st := list()
	if st != domain.CacheMiss || page.Products[0].Price != 1.5 {
		t.Fatalf("list after update: %v %+v", st, page.Products[0])
	}
	rv := func() ([]domain.Review, domain.CacheStatus) {
		ctx, tr := traced(t.Context())
		r, err := l.ProductReviews(ctx, 3, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return r, tr.Status()
	}
	before, _ := rv()
	if _, err := l.CreateReviews(t.Context(), []domain.NewReview{{ProductID: 3, AuthorID: 1, Rating: 5, Text: "new"}}); err != nil {
		t.Fatal(err)
	}
	after, st := rv()
	if st != domain.CacheMiss || len(after) != len(before)+1 {
		t.Fatalf("reviews after create: %v, %d -> %d", st, len(before), len(after))
	}
	// An order changes stock: the product and the user's orders are invalidated.
	getProduct(t, l, 4)
	orders, _ := l.UserOrders(t.Context(), 3)
	if _, err := l.CreateOrder(t.Context(), domain.NewOrder{UserID: 3, Items: []domain.OrderItem{{ProductID: 4, Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	p, st := getProduct(t, l, 4)
	if truth, _ := s.PeekProduct(4); st != domain.CacheMiss || p != truth {
		t.Fatalf("product after order: %v %+v vs %+v", st, p, truth)
	}
	if now, _ := l.UserOrders(t.Context(), 3); len(now) != len(orders)+1 {
		t.Fatalf("user orders %d -> %d", len(orders), len(now))
	}
	// Delete.
	if err := l.DeleteProduct(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := l.GetProduct(t.Context(), 4); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("deleted product still readable: %v", err)
	}
}

// failing is a backend whose every call fails.
type failing struct{ calls atomic.Int64 }

func (f *failing) Get(context.Context, string) ([]byte, bool, error) {
	f.calls.Add(1)
	return nil, false, errors.New("boom")
}
func (f *failing) Set(context.Context, string, []byte, time.Duration) error {
	f.calls.Add(1)
	return errors.New("boom")
}
func (f *failing) Delete(context.Context, ...string) error { f.calls.Add(1); return errors.New("boom") }
func (f *failing) Close() error                            { return nil }

func TestBackendErrorsFallThrough(t *testing.T) {
	s := newStore(t, store.Options{})
	f := &failing{}
	l := newLayer(t, s, Config{Backend: "fake", backend: f})
	for range 3 {
		if _, err := l.GetProduct(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.GetProducts(t.Context(), []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.UpdateProduct(t.Context(), 1, domain.ProductPatch{Price: ptr(3.0)}); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Errors < 8 || st.Hits != 0 || f.calls.Load() == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRedisStoppedMidTest(t *testing.T) {
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s := newStore(t, store.Options{})
	l := newLayer(t, s, Config{Backend: BackendRedis, Redis: redisBackend(t, in)})
	getProduct(t, l, 1)
	if _, st := getProduct(t, l, 1); st != domain.CacheHit {
		t.Fatalf("warm read %v", st)
	}
	killAt := time.Now()
	in.Kill()
	t.Logf("kill took %v", time.Since(killAt))
	defer func(start time.Time) { t.Logf("outage reads took %v", time.Since(start)) }(time.Now())
	for range 5 {
		p, st := getProduct(t, l, 1) // no error: served by the store
		if p.ID != 1 || st != domain.CacheMiss {
			t.Fatalf("with Redis down: %+v %v", p, st)
		}
	}
	if _, err := l.UpdateProduct(t.Context(), 1, domain.ProductPatch{Price: ptr(2.0)}); err != nil {
		t.Fatalf("write with Redis down: %v", err)
	}
	errs := l.Stats().Errors
	if errs < 10 {
		t.Fatalf("errors %d, want >= 10 (5 gets + 5 sets + 1 delete)", errs)
	}
	restartAt := time.Now()
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", time.Since(restartAt))
	defer func() { t.Logf("recovered %v after restart", time.Since(restartAt)) }()
	// The pool redials by itself; poll a bounded number of times.
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, st := getProduct(t, l, 1)
		if st == domain.CacheHit {
			if p.Price != 2 {
				t.Fatalf("hit with stale product %+v", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cache hit within 5s of Redis coming back (stats %+v)", l.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	s := newStore(t, store.Options{})
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Backend: "memcached"}, "unknown cache backend"},
		{Config{Backend: BackendLRU, Strategy: "write-around"}, "unknown cache strategy"},
		{Config{Backend: BackendLRU, Strategy: StrategyWriteBehind}, "write-behind needs the redis backend"},
		{Config{Backend: BackendLRU, Strategy: StrategyWriteThrough, Invalidation: InvalidateDelete}, "contradicts"},
		{Config{Strategy: StrategyWriteThrough}, "needs a cache backend"},
		{Config{Backend: BackendRedis, Strategy: StrategyWriteBehind, Invalidation: InvalidateDelete, RedisURL: "redis://127.0.0.1:1"}, "contradicts"},
		{Config{Mode: ModeResponse}, "response caching needs a cache backend"},
		{Config{Backend: BackendRedis}, "needs a Redis"},
		{Config{Backend: BackendLRU, Invalidation: "lazy"}, "unknown invalidation"},
		{Config{Backend: BackendLRU, Mode: "page"}, "unknown cache mode"},
	} {
		_, err := New(s, tc.cfg)
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(s, Config{Backend: BackendRedis, Strategy: StrategyWriteBehind, Mode: ModeResponse, Redis: redisBackend(t, redisInst)}); err == nil {
		t.Error("write-behind in response mode accepted")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestResponses(t *testing.T) {
	s := newStore(t, store.Options{})
	l := newLayer(t, s, Config{Backend: BackendLRU, Mode: ModeResponse})
	r := l.Responses()
	renders := 0
	render := func(ctx context.Context) ([]byte, error) {
		renders++
		p, err := l.GetProduct(ctx, 6)
		return fmt.Appendf(nil, `{"price":%v}`, p.Price), err
	}
	do := func() (string, domain.CacheStatus) {
		ctx, tr := traced(t.Context())
		b, err := r.Do(ctx, r.Key("GET /api/products/6", "", ProductTag(6)), render)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), tr.Status()
	}
	first, st1 := do()
	second, st2 := do()
	if st1 != domain.CacheMiss || st2 != domain.CacheHit || first != second || renders != 1 {
		t.Fatalf("%v %v %q %q renders %d", st1, st2, first, second, renders)
	}
	if _, err := l.UpdateProduct(t.Context(), 6, domain.ProductPatch{Price: ptr(7.25)}); err != nil {
		t.Fatal(err)
	}
	third, st3 := do()
	if st3 != domain.CacheMiss || third != `{"price":7.25}` {
		t.Fatalf("after update: %v %q", st3, third)
	}
	// In response mode entities are not cached: the product read went to the store each render.
	if n := s.Stats().ByMethod["GetProduct"]; n != 2 {
		t.Fatalf("store reads %d, want 2", n)
	}
	ctx, tr := traced(domain.WithBypass(t.Context()))
	if _, err := r.Do(ctx, r.Key("GET /api/products/6", "", ProductTag(6)), render); err != nil || tr.Status() != domain.CacheBypass {
		t.Fatalf("bypass: %v %v", err, tr.Status())
	}
}

func TestFeedPublishes(t *testing.T) {
	s := newStore(t, store.Options{})
	feed := domain.NewFeed()
	sub := feed.Subscribe(domain.TopicProducts, 4, 8)
	defer sub.Close()
	l := newLayer(t, s, Config{Backend: BackendLRU, Feed: feed})
	p, _ := l.UpdateProduct(t.Context(), 8, domain.ProductPatch{Stock: ptr(int64(1))})
	select {
	case c := <-sub.C():
		if *c.Product != p {
			t.Fatalf("published %+v, want %+v", c.Product, p)
		}
	default:
		t.Fatal("no change published")
	}
}

func TestFeedPublishesEveryWrite(t *testing.T) {
	for _, backend := range []string{BackendNone, BackendLRU} {
		t.Run(backend, func(t *testing.T) {
			s := newStore(t, store.Options{})
			feed := domain.NewFeed()
			products := feed.Subscribe(domain.TopicProducts, 8, 9)
			reviews := feed.Subscribe(domain.TopicReviews, 8, 9)
			orders := feed.Subscribe(domain.TopicOrders, 8, 2)
			l := newLayer(t, s, Config{Backend: backend, Feed: feed})
			o, err := l.CreateOrder(t.Context(), domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 9, Quantity: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.CreateReviews(t.Context(), []domain.NewReview{{ProductID: 9, AuthorID: 2, Rating: 5, Text: "ok"}}); err != nil {
				t.Fatal(err)
			}
			if err := l.DeleteProduct(t.Context(), 9); err != nil {
				t.Fatal(err)
			}
			if e := <-orders.C(); e.Kind != domain.KindOrderCreated || e.Order.ID != o.ID || e.Key != 2 {
				t.Errorf("order event %+v", e)
			}
			if e := <-reviews.C(); e.Kind != domain.KindReviewAdded || e.Review.ProductID != 9 || e.Review.Text != "ok" {
				t.Errorf("review event %+v", e)
			}
			if e := <-products.C(); e.Kind != domain.KindProductDeleted || e.Key != 9 {
				t.Errorf("product event %+v", e)
			}
		})
	}
}

func TestStatsJSONShape(t *testing.T) {
	s := newStore(t, store.Options{})
	l := newLayer(t, s, Config{Backend: BackendRedis, Strategy: StrategyWriteBehind})
	getProduct(t, l, 1)
	if _, err := l.UpdateProduct(t.Context(), 1, domain.ProductPatch{Price: ptr(1.0)}); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(l.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"hits", "misses", "errors", "sets", "evictions", "store_calls_saved", "hit_ratio", "backend", "strategy"} {
		if _, ok := m[k]; !ok {
			t.Errorf("stats JSON lacks %q: %s", k, b)
		}
	}
	wb, _ := m["write_behind"].(map[string]any)
	for _, k := range []string{"backlog", "lag_ms", "flushed", "pending"} {
		if _, ok := wb[k]; !ok {
			t.Errorf("write_behind lacks %q: %s", k, b)
		}
	}
	if m["strategy"] != "write-behind" || wb["acknowledged"] != 1.0 {
		t.Errorf("stats %s", b)
	}
}

// hanging is a backend that, while down, fails each call after a read
// timeout, like a paused Redis.
type hanging struct {
	down  atomic.Bool
	calls atomic.Int64
	m     sync.Map
}

func (h *hanging) wait() error {
	h.calls.Add(1)
	if h.down.Load() {
		time.Sleep(500 * time.Millisecond)
		return errors.New("i/o timeout")
	}
	return nil
}
func (h *hanging) Get(_ context.Context, k string) ([]byte, bool, error) {
	if err := h.wait(); err != nil {
		return nil, false, err
	}
	v, ok := h.m.Load(k)
	if !ok {
		return nil, false, nil
	}
	return v.([]byte), true, nil
}
func (h *hanging) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	if err := h.wait(); err != nil {
		return err
	}
	h.m.Store(k, append([]byte(nil), v...))
	return nil
}
func (h *hanging) Delete(_ context.Context, ks ...string) error {
	if err := h.wait(); err != nil {
		return err
	}
	for _, k := range ks {
		h.m.Delete(k)
	}
	return nil
}
func (h *hanging) Close() error { return nil }

func TestBreakerSkipsHungBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, store.Options{})
		h := &hanging{}
		l := newLayer(t, s, Config{Backend: "fake", backend: h, BreakerThreshold: 2, BreakerCooldown: 5 * time.Second})
		getProduct(t, l, 1)
		if _, st := getProduct(t, l, 1); st != domain.CacheHit {
			t.Fatalf("warm read %v", st)
		}
		h.down.Store(true)
		start := time.Now()
		getProduct(t, l, 1) // Get times out (1), falls through; Set times out (2): breaker opens
		if d := time.Since(start); d != time.Second {
			t.Fatalf("first read with backend hung took %v, want 1s (two timeouts)", d)
		}
		calls := h.calls.Load()
		start = time.Now()
		for range 10 {
			if p, st := getProduct(t, l, 1); p.ID != 1 || st != domain.CacheMiss {
				t.Fatalf("with breaker open: %+v %v", p, st)
			}
		}
		if d := time.Since(start); d != 0 || h.calls.Load() != calls {
			t.Fatalf("open breaker still called the backend (%d calls, %v)", h.calls.Load()-calls, d)
		}
		st := l.Stats()
		if st.Breaker == nil || !st.Breaker.Open || st.Breaker.Opens != 1 || st.Breaker.Skips != 20 || st.Errors < 22 {
			t.Fatalf("stats %+v breaker %+v", st, st.Breaker)
		}
		// Backend back; after the cooldown one probe closes the breaker.
		h.down.Store(false)
		time.Sleep(5 * time.Second)
		getProduct(t, l, 1) // the probe Get succeeds and closes the breaker
		if _, st := getProduct(t, l, 1); st != domain.CacheHit {
			t.Fatalf("after recovery: %v", st)
		}
		if l.Stats().Breaker.Open {
			t.Fatal("breaker still open after a successful probe")
		}
	})
}
