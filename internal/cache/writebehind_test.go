package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

func wbLayer(t *testing.T, s domain.Catalog, rb *rediscache.Backend, prefix string, wb WriteBehindConfig) *Layer {
	t.Helper()
	return newLayer(t, s, Config{Backend: BackendRedis, Strategy: StrategyWriteBehind, Redis: rb, KeyPrefix: prefix, WriteBehind: wb})
}

// writeN acknowledges n updates spread over 10 products and returns the
// last acknowledged state of each.
func writeN(t *testing.T, l *Layer, n int) map[int64]domain.Product {
	t.Helper()
	acked := map[int64]domain.Product{}
	for i := range n {
		id := int64(i%10 + 1)
		p, err := l.UpdateProduct(t.Context(), id, domain.ProductPatch{Price: ptr(float64(i) + 0.5), Stock: ptr(int64(i))})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		acked[id] = p
	}
	return acked
}

// waitFor polls cond for at most 10s (Redis and the flusher run in real time).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertInStore(t *testing.T, s *store.Store, acked map[int64]domain.Product) {
	t.Helper()
	for id, want := range acked {
		got, _ := s.PeekProduct(id)
		if got.Price != want.Price || got.Stock != want.Stock || got.Version != want.Version {
			t.Fatalf("product %d in store %+v, acknowledged %+v", id, got, want)
		}
	}
}

func TestWriteBehindDurability(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)

	// A process acknowledges writes but its flusher never runs.
	a := wbLayer(t, s, rb, prefix, WriteBehindConfig{NoFlusher: true})
	acked := writeN(t, a, 30)
	for id := range acked {
		if p, _ := s.PeekProduct(id); p.Version != 1 {
			t.Fatalf("store changed before any flush: %+v", p)
		}
	}
	// Reads see the acknowledged state from Redis.
	if p, st := getProduct(t, a, 3); st != domain.CacheHit || p != acked[3] {
		t.Fatalf("read after ack: %v %+v want %+v", st, p, acked[3])
	}
	if st := a.WriteBehindStats(); st.Backlog != 30 || st.Acknowledged != 30 || st.FlusherAlive {
		t.Fatalf("stats before flush %+v", st)
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A new flusher on the same Redis flushes everything.
	b := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "b"})
	waitFor(t, "backlog to drain", func() bool {
		st := b.WriteBehindStats()
		return st.Backlog == 0 && st.Flushed == 30 && rb.Client().PTTL(t.Context(), b.productKey(3)).Val() > 0
	})
	assertInStore(t, s, acked)
	st := b.WriteBehindStats()
	if st.Flushed != 30 || st.Upserted > 30 || st.Upserted < 10 || st.LagMS != 0 {
		t.Fatalf("stats after flush %+v", st)
	}
	if calls := s.Stats().ByMethod["UpsertProducts"]; calls > 30 {
		t.Fatalf("%d UpsertProducts calls for 30 entries: not batched", calls)
	}
	// Flushed entities get a TTL again.
	if ttl := rb.Client().PTTL(t.Context(), b.productKey(3)).Val(); ttl <= 0 {
		t.Fatalf("flushed key has no TTL: %v", ttl)
	}
}

func TestWriteBehindReclaimsAfterCrash(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	w := wbLayer(t, s, rb, prefix, WriteBehindConfig{NoFlusher: true})
	acked := writeN(t, w, 12)

	// Flusher "a" reads the batch and dies before writing the store or acking.
	a := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "a", crashAfterRead: true})
	waitFor(t, "flusher a to read and crash", func() bool {
		st := a.WriteBehindStats()
		return !st.FlusherAlive && st.Pending == 12
	})
	_ = a.Close(t.Context())
	if p, _ := s.PeekProduct(1); p.Version != 1 {
		t.Fatalf("crashed flusher wrote the store: %+v", p)
	}

	// Flusher "b" takes the abandoned entries over with XAUTOCLAIM.
	b := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "b", ClaimIdle: 50 * time.Millisecond})
	waitFor(t, "claimed backlog to drain", func() bool { return b.WriteBehindStats().Backlog == 0 })
	assertInStore(t, s, acked)
	if st := b.WriteBehindStats(); st.Claimed != 12 || st.Pending != 0 {
		t.Fatalf("stats %+v, want 12 claimed", st)
	}
}

func TestWriteBehindCloseDrains(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	w := wbLayer(t, s, rb, prefix, WriteBehindConfig{NoFlusher: true})
	acked := writeN(t, w, 40)

	l, err := New(s, Config{Backend: BackendRedis, Strategy: StrategyWriteBehind, Redis: rb, KeyPrefix: prefix,
		WriteBehind: WriteBehindConfig{Consumer: "drainer", BatchSize: 7}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	assertInStore(t, s, acked)
	if bl, _ := rb.StreamBacklog(t.Context(), prefix+ProductSlotTag+":wb", "flushers"); bl.Length != 0 {
		t.Fatalf("backlog after Close %+v", bl)
	}
}

// stuckStore never finishes an upsert.
type stuckStore struct{ *store.Store }

func (stuckStore) UpsertProducts(ctx context.Context, _ []domain.Product) (domain.UpsertResult, error) {
	<-ctx.Done()
	return domain.UpsertResult{}, ctx.Err()
}

func TestWriteBehindCloseDeadlineReportsRemaining(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	w := wbLayer(t, s, rb, prefix, WriteBehindConfig{NoFlusher: true})
	acked := writeN(t, w, 5)

	l, err := New(stuckStore{s}, Config{Backend: BackendRedis, Strategy: StrategyWriteBehind, Redis: rb, KeyPrefix: prefix,
		WriteBehind: WriteBehindConfig{Consumer: "stuck"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = l.Close(ctx)
	var de *DrainError
	if !errors.As(err, &de) || de.Remaining != 5 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want a DrainError with 5 remaining", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v past a 300ms deadline", d)
	}
	t.Log(err)

	// Nothing is lost: a healthy flusher later takes the entries over.
	b := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "healthy", ClaimIdle: 20 * time.Millisecond})
	waitFor(t, "backlog to drain", func() bool { return b.WriteBehindStats().Backlog == 0 })
	assertInStore(t, s, acked)
}

func TestWriteBehindValidationAndRedisDown(t *testing.T) {
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s := newStore(t, store.Options{})
	l := wbLayer(t, s, redisBackend(t, in), uniquePrefix(t), WriteBehindConfig{})
	if _, err := l.UpdateProduct(t.Context(), 1, domain.ProductPatch{Price: ptr(-1.0)}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("negative price: %v", err)
	}
	if _, err := l.UpdateProduct(t.Context(), 999, domain.ProductPatch{Price: ptr(1.0)}); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("missing product: %v", err)
	}
	in.Kill()
	p, err := l.UpdateProduct(t.Context(), 2, domain.ProductPatch{Price: ptr(9.5)})
	if err != nil || p.Price != 9.5 {
		t.Fatalf("write with Redis down: %+v %v", p, err)
	}
	if got, _ := s.PeekProduct(2); got != p {
		t.Fatalf("fallback did not write the store: %+v", got)
	}
	if st := l.Stats(); st.WriteBehind.Fallbacks != 1 || st.Errors < 1 {
		t.Fatalf("stats %+v", st)
	}
	// Shutdown with Redis gone: the drain gives up at the deadline and says
	// the backlog could not be read.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	var de *DrainError
	if err := l.Close(ctx); !errors.As(err, &de) || de.Remaining != -1 {
		t.Fatalf("Close with Redis down = %v", err)
	}
}
