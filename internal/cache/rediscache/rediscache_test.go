package rediscache_test

import (
	"fmt"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/cache/cachetest"
	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
)

// One Redis per test package (COMMON.md): a real redis-server when
// installed, miniredis otherwise.
var (
	inst *rediscache.Instance
	db   atomic.Int64
)

func TestMain(m *testing.M) { redistest.Main(m, &inst) }

// newBackend returns a backend on a fresh, flushed key space.
func newBackend(t *testing.T) *rediscache.Backend {
	t.Helper()
	t.Logf("redis mode: %s at %s", inst.Mode(), inst.Addr())
	b, err := rediscache.Open(rediscache.Options{URL: inst.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Client().FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend { return newBackend(t) }, cachetest.AdvanceWith(inst.FastForward))
}

func TestModeAndDialHook(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err == nil && inst.Mode() != rediscache.ModeSpawned {
		t.Fatalf("redis-server is installed but mode is %s", inst.Mode())
	}
	b := newBackend(t)
	if err := b.Set(t.Context(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Dials < 1 || st.Commands < 2 || st.TotalConns < 1 {
		t.Fatalf("stats %+v: the hook did not count the dial and commands", st)
	}
}

// TestNoPhantomCommandErrors checks that a healthy Redis shows no command
// errors: go-redis sends CLIENT SETINFO on every new connection and ignores
// its failure on Redis before 7.2, which must not count as an error.
func TestNoPhantomCommandErrors(t *testing.T) {
	b := newBackend(t)
	for i := range 4 { // several connections, each with its setup commands
		if err := b.Set(t.Context(), fmt.Sprintf("k%d", i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Get(t.Context(), "absent"); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.CommandErrors != 0 {
		t.Fatalf("command_errors = %d against a healthy Redis (%+v)", st.CommandErrors, st)
	}
}

func TestEmbeddedFallback(t *testing.T) {
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{NoSpawn: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Mode() != rediscache.ModeEmbedded {
		t.Fatalf("mode %s", in.Mode())
	}
	b, _ := rediscache.Open(rediscache.Options{URL: in.URL()})
	defer b.Close()
	if err := b.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	ext, err := rediscache.Start(t.Context(), rediscache.StartOptions{URL: in.URL()})
	if err != nil || ext.Mode() != rediscache.ModeExternal || ext.Addr() != in.Addr() {
		t.Fatalf("external: %v %v", ext, err)
	}
	ext.Close() // must not stop the server it does not own
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("closing an external instance stopped the server: %v", err)
	}
}

func TestMissingBinaryFallsBack(t *testing.T) {
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{Binary: "no-such-redis-server-binary"})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Mode() != rediscache.ModeEmbedded {
		t.Fatalf("mode %s", in.Mode())
	}
}

func TestKillRestartSamePort(t *testing.T) {
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	t.Logf("redis mode: %s", in.Mode())
	b, _ := rediscache.Open(rediscache.Options{URL: in.URL()})
	defer b.Close()
	_ = b.Set(t.Context(), "k", []byte("v"), 0)
	in.Kill()
	if _, _, err := b.Get(t.Context(), "k"); err == nil {
		t.Fatal("Get succeeded with Redis killed")
	}
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects on its own; allow a bounded number of attempts.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.Set(t.Context(), "k2", []byte("v2"), 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := b.Stats(); st.Dials < 2 {
		t.Fatalf("expected a redial after restart, stats %+v", st)
	}
}

func TestStreamOps(t *testing.T) {
	b := newBackend(t)
	ctx := t.Context()
	const stream, group = "s", "g"
	if err := b.EnsureGroup(ctx, stream, group); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureGroup(ctx, stream, group); err != nil {
		t.Fatalf("EnsureGroup twice: %v", err)
	}
	for i := range 3 {
		if _, err := b.SetAndAppend(ctx, fmt.Sprint("p", i), []byte(fmt.Sprint(i)), stream); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, _ := b.Get(ctx, "p2"); !ok || string(v) != "2" {
		t.Fatalf("SetAndAppend did not set the key: %q", v)
	}
	msgs, err := b.ReadGroup(ctx, stream, group, "a", 2, 0)
	if err != nil || len(msgs) != 2 || msgs[0].Key != "p0" || string(msgs[1].Value) != "1" || msgs[0].Time.IsZero() {
		t.Fatalf("ReadGroup %+v %v", msgs, err)
	}
	bl, err := b.StreamBacklog(ctx, stream, group)
	if err != nil || bl.Length != 3 || bl.Pending != 2 || bl.Oldest.IsZero() {
		t.Fatalf("backlog %+v %v", bl, err)
	}
	// Consumer "a" dies; "b" claims its pending entries.
	claimed, next, err := b.AutoClaim(ctx, stream, group, "b", 0, "0-0", 10)
	if err != nil || len(claimed) != 2 || next != "0-0" {
		t.Fatalf("AutoClaim %+v %q %v", claimed, next, err)
	}
	if err := b.AckDelete(ctx, stream, group, claimed[0].ID, claimed[1].ID); err != nil {
		t.Fatal(err)
	}
	rest, _ := b.ReadGroup(ctx, stream, group, "b", 10, 0)
	if len(rest) != 1 || rest[0].Key != "p2" {
		t.Fatalf("rest %+v", rest)
	}
	_ = b.AckDelete(ctx, stream, group, rest[0].ID)
	if bl, _ := b.StreamBacklog(ctx, stream, group); bl.Length != 0 || bl.Pending != 0 || !bl.Oldest.IsZero() {
		t.Fatalf("backlog after acks %+v", bl)
	}
	if err := b.Expire(ctx, time.Minute, "p0"); err != nil {
		t.Fatal(err)
	}
	if d := b.Client().PTTL(ctx, "p0").Val(); d <= 0 || d > time.Minute {
		t.Fatalf("PTTL after Expire %v", d)
	}
}

func TestBadURL(t *testing.T) {
	if _, err := rediscache.Open(rediscache.Options{URL: "http://x"}); err == nil {
		t.Fatal("http:// accepted")
	}
	if _, err := rediscache.Open(rediscache.Options{}); err == nil {
		t.Fatal("empty URL accepted")
	}
	b, err := rediscache.Open(rediscache.Options{URL: "redis+cluster://127.0.0.1:1?addr=127.0.0.1:2"})
	if err != nil || !b.IsCluster() {
		t.Fatalf("cluster URL: %v", err)
	}
	b.Close()
}
