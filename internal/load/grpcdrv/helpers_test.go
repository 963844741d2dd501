package grpcdrv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
	"github.com/loadrig/loadrig/internal/store"
)

// protoDir is the repository's proto root, for the --proto path.
const protoDir = "../../../proto"

// hitCatalog marks every GetProduct as a cache hit (a stand-in cache).
type hitCatalog struct{ domain.Catalog }

func (c hitCatalog) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	if domain.Bypass(ctx) {
		domain.CacheTraceFrom(ctx).Mark(domain.CacheBypass)
	} else {
		domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
	}
	return c.Catalog.GetProduct(ctx, id)
}

type target struct {
	addr string
	srv  *grpcsrv.Server
	cat  domain.Catalog
	auth []string // metadata with a bearer token of user 1, for UploadReviews
}

// newTarget serves the reference server on 127.0.0.1:0 over a fast store
// of 50 products and 10 users.
func newTarget(t testing.TB, opts grpcsrv.Options) *target {
	t.Helper()
	ds := domain.Generate(1, domain.Counts{Users: 10, Products: 50, ReviewsPerProduct: 1})
	cat := store.New(ds, store.Options{Latency: store.Off, PerRow: store.Off, Pool: -1})
	opts.Catalog = hitCatalog{cat}
	if opts.Auth == nil {
		opts.Auth = server.NewJWT(server.JWTOptions{})
	}
	tok, err := opts.Auth.Issue(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := grpcsrv.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &target{addr: s.Addr().String(), srv: s, cat: cat, auth: []string{"authorization: Bearer " + tok.Value}}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newDriver(t testing.TB, opts Options) *Driver {
	t.Helper()
	d, err := New(testCtx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// sink records the events of operations run outside the engine.
type sink struct {
	mu        sync.Mutex
	sent      int
	latencies []time.Duration
}

func (s *sink) MessageSent(n int) {
	s.mu.Lock()
	s.sent += n
	s.mu.Unlock()
}

func (s *sink) MessageReceived(d time.Duration) {
	s.mu.Lock()
	s.latencies = append(s.latencies, d)
	s.mu.Unlock()
}

func (s *sink) Phase(load.Phase, time.Duration) {}

// do runs n operations on one worker and returns their outcomes.
func do(t testing.TB, d *Driver, n int, sk load.EventSink) []load.Outcome {
	t.Helper()
	w, err := d.NewWorker(testCtx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var outs []load.Outcome
	for i := range n {
		outs = append(outs, w.Do(testCtx(t), load.NewOp(uint64(i), sk)))
	}
	return outs
}
