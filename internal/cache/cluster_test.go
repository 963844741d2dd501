package cache

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store"
)

// redisCluster starts a real redis-server in cluster mode on a free
// loopback port, owning all 16384 slots: a one-node Redis Cluster, which
// refuses a script or transaction whose keys hash to different slots
// (CROSSSLOT) exactly as a many-node cluster does. It returns the port.
func redisCluster(t *testing.T) string {
	t.Helper()
	bins := redistest.Require(t, "redis-server", "redis-cli") // redis-cli assigns the slots
	bin, cli := bins[0], bins[1]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir := t.TempDir()
	srv := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
		"--cluster-config-file", dir+"/nodes.conf", "--dir", dir, "--save", "", "--appendonly", "no")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	run := func(args ...string) string {
		out, _ := exec.Command(cli, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
		return string(out)
	}
	deadline := time.Now().Add(20 * time.Second) // hang guard only
	for !strings.Contains(run("PING"), "PONG") {
		if time.Now().After(deadline) {
			t.Fatal("redis-server (cluster mode) did not answer PING")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := run("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); !strings.Contains(out, "OK") {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %s", out)
	}
	for !strings.Contains(run("CLUSTER", "INFO"), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %s", run("CLUSTER", "INFO"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port
}

// TestWriteBehindOnRedisCluster: on a real Redis Cluster, write-behind's
// multi-key steps — the patch script (product + stream), the stock
// reservation script (every product of an order + stream) — run in Redis,
// not in the fallback to the store, because the product keys and the
// stream share the {p} hash tag; an order past the stock is refused at
// once, and the flusher brings every acknowledged state to the store.
func TestWriteBehindOnRedisCluster(t *testing.T) {
	port := redisCluster(t)
	rb, err := rediscache.Open(rediscache.Options{URL: "redis+cluster://127.0.0.1:" + port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.Close() })
	if !rb.IsCluster() {
		t.Fatal("not a cluster client")
	}
	s := newStore(t, store.Options{})
	prefix := uniquePrefix(t)
	l := wbLayer(t, s, rb, prefix, WriteBehindConfig{})
	ctx := t.Context()
	if k, st := l.productKey(4), l.wb.cfg.Stream; k != prefix+"{p}:4" || st != prefix+"{p}:wb" {
		t.Fatalf("keys %q and %q, want the {p} hash tag on both", k, st)
	}
	for _, id := range []int64{4, 5, 6} {
		if _, err := l.UpdateProduct(ctx, id, domain.ProductPatch{Stock: ptr(int64(7))}); err != nil {
			t.Fatalf("patch %d: %v", id, err)
		}
	}
	order := domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 4, Quantity: 2}, {ProductID: 5, Quantity: 3}, {ProductID: 6, Quantity: 7}}}
	if _, err := l.CreateOrder(ctx, order); err != nil {
		t.Fatalf("order over three products: %v", err)
	}
	if _, err := l.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: 1}, {ProductID: 6, Quantity: 1}}}); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("order past product 6's stock (0 left): %v, want a conflict", err)
	}
	if wb := l.WriteBehindStats(); wb.Fallbacks != 0 {
		t.Fatalf("write-behind stats %+v: writes fell back to the store (CROSSSLOT?)", wb)
	}
	want := map[int64]int64{4: 5, 5: 4, 6: 0}
	for id, stock := range want {
		if p, st := getProduct(t, l, id); p.Stock != stock || st != domain.CacheHit {
			t.Errorf("product %d in Redis: stock %d (%v), want %d", id, p.Stock, st, stock)
		}
	}
	deadline := time.Now().Add(20 * time.Second) // hang guard only
	for id, stock := range want {
		for {
			if p, _ := s.PeekProduct(id); p.Stock == stock {
				break
			}
			if time.Now().After(deadline) {
				p, _ := s.PeekProduct(id)
				t.Fatalf("product %d in the store: stock %d, want %d after the flush; %+v", id, p.Stock, stock, l.WriteBehindStats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The flusher acknowledges (XACK + XDEL) after the upsert: the backlog
	// empties just after the store has the states.
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		bl, err := rb.StreamBacklog(cctx, l.wb.cfg.Stream, "flushers")
		cancel()
		if err == nil && bl.Length == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog %+v, %v", bl, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWriteBehindMovesLegacyStream: a backlog an older build left in the
// stream's former name (KeyPrefix + "wb", before the {p} hash tag) is
// carried over at start and flushed: an upgrade loses no acknowledged
// write.
func TestWriteBehindMovesLegacyStream(t *testing.T) {
	s := newStore(t, store.Options{})
	rb := redisBackend(t, redisInst)
	prefix := uniquePrefix(t)
	ctx := t.Context()
	p, _ := s.PeekProduct(8)
	p.Stock, p.Version = 4242, p.Version+1
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rb.SetAndAppend(ctx, prefix+"p:8", b, prefix+"wb"); err != nil {
		t.Fatal(err)
	}
	l := wbLayer(t, s, rb, prefix, WriteBehindConfig{})
	deadline := time.Now().Add(20 * time.Second) // hang guard only
	for {
		if got, _ := s.PeekProduct(8); got.Stock == 4242 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the legacy stream's entry never reached the store: %+v", l.WriteBehindStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Moved, not copied: the old name holds nothing (a missing stream is
	// an error here, or an empty backlog).
	if bl, err := rb.StreamBacklog(ctx, prefix+"wb", "flushers"); err == nil && bl.Length != 0 {
		t.Fatalf("legacy stream still holds %+v", bl)
	}
}
