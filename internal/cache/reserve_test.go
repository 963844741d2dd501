package cache

import (
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

// Under write-behind the acknowledged stock lives in Redis: an order past
// it is refused at once, before any flush, and concurrent orders never
// take stock below zero.
func TestWriteBehindReservesStockInRedis(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	l := wbLayer(t, s, rb, prefix, WriteBehindConfig{NoFlusher: true}) // nothing reaches the store's products
	ctx := t.Context()
	stock := int64(7)
	if _, err := l.UpdateProduct(ctx, 4, domain.ProductPatch{Stock: &stock}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.PeekProduct(4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := range 20 {
		wg.Go(func() {
			_, err := l.CreateOrder(ctx, domain.NewOrder{UserID: int64(i%5 + 1), Items: []domain.OrderItem{{ProductID: 4, Quantity: 1}}})
			mu.Lock()
			defer mu.Unlock()
			switch domain.ErrorCode(err) {
			case "":
				ok++
			case domain.CodeConflict:
				conflicts++
			default:
				t.Errorf("order: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 7 || conflicts != 13 {
		t.Fatalf("%d orders placed, %d refused; want 7 and 13 (stock 7 acknowledged, not yet flushed)", ok, conflicts)
	}
	p, st := getProduct(t, l, 4)
	if p.Stock != 0 || st != domain.CacheHit {
		t.Fatalf("product in Redis %+v (%v), want stock 0", p, st)
	}
	if now, _ := s.PeekProduct(4); now.Stock != before.Stock {
		t.Fatalf("store stock moved before any flush: %d -> %d", before.Stock, now.Stock)
	}
	// Unknown products and users leave the stock alone.
	if _, err := l.CreateOrder(ctx, domain.NewOrder{UserID: 1, Items: []domain.OrderItem{{ProductID: 99999, Quantity: 1}}}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("unknown product: %v", err)
	}
	stock = 5
	if _, err := l.UpdateProduct(ctx, 4, domain.ProductPatch{Stock: &stock}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateOrder(ctx, domain.NewOrder{UserID: 9999, Items: []domain.OrderItem{{ProductID: 4, Quantity: 2}}}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("unknown user: %v", err)
	}
	if p, _ := getProduct(t, l, 4); p.Stock != 5 {
		t.Fatalf("a refused order kept its reservation: stock %d, want 5", p.Stock)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A flusher brings the store to the acknowledged state.
	f := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "f"})
	waitFor(t, "backlog to drain", func() bool { st := f.WriteBehindStats(); return st.Backlog == 0 && st.Flushed > 0 })
	if p, _ := s.PeekProduct(4); p.Stock != 5 {
		t.Fatalf("store after flush: stock %d, want 5", p.Stock)
	}
	orders, _ := s.UserOrders(ctx, 1)
	if len(orders) == 0 {
		t.Fatal("orders were not recorded in the store")
	}
}

// A flusher that dies (its alive key expires) has its pending entries
// claimed by the next flusher within seconds, not after ClaimIdle.
func TestWriteBehindClaimsDeadFlusherPromptly(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	a := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "dead", crashAfterRead: true, ClaimIdle: time.Hour})
	acked := writeN(t, a, 10)
	waitFor(t, "the doomed flusher to read", func() bool { return a.WriteBehindStats().Pending > 0 })
	_ = a.Close(t.Context())
	start := time.Now()
	b := wbLayer(t, s, rb, prefix, WriteBehindConfig{Consumer: "heir", ClaimIdle: time.Hour})
	waitFor(t, "backlog to drain", func() bool { return b.WriteBehindStats().Backlog == 0 })
	if d := time.Since(start); d > HeartbeatTTL+3*HeartbeatEvery {
		t.Fatalf("took %v to claim a dead flusher's entries", d)
	}
	assertInStore(t, s, acked)
	if b.WriteBehindStats().Claimed == 0 {
		t.Fatal("nothing claimed")
	}
}
