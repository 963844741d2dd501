package rediscache_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

func newCoord(t *testing.T, prefix string) *rediscache.Coord {
	t.Helper()
	b, err := rediscache.Open(rediscache.Options{URL: inst.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// A key space of its own per run (-count=N reuses the package's Redis).
	return rediscache.NewCoord(b, fmt.Sprintf("%s%d:", prefix, time.Now().UnixNano()), 0)
}

func TestCoordLease(t *testing.T) {
	c := newCoord(t, "lease-test:")
	ctx := t.Context()
	mustLead := func(holder string, want bool) {
		t.Helper()
		ok, err := c.Lead(ctx, "x", holder, time.Minute)
		if err != nil || ok != want {
			t.Fatalf("Lead(%s) = %v, %v; want %v", holder, ok, err, want)
		}
	}
	mustLead("a", true)
	mustLead("b", false)
	mustLead("a", true) // a renewal
	if err := c.Release(ctx, "x", "b"); err != nil {
		t.Fatal(err)
	}
	mustLead("b", false) // b cannot release a's lease
	if err := c.Release(ctx, "x", "a"); err != nil {
		t.Fatal(err)
	}
	mustLead("b", true)
}

func TestCoordPresence(t *testing.T) {
	c := newCoord(t, "presence-test:")
	ctx := t.Context()
	if _, err := c.PresenceAdd(ctx, "r", time.Minute, "1@n1", "2@n2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PresenceAdd(ctx, "r", time.Millisecond, "3@dead"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := c.PresenceMembers(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ms)
		if slices.Equal(ms, []string{"1@n1", "2@n2"}) {
			break // the expired entry is gone, the live ones stay
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %v", ms)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ms, err := c.PresenceRemove(ctx, "r", "1@n1")
	if err != nil || !slices.Equal(ms, []string{"2@n2"}) {
		t.Fatalf("after remove: %v %v", ms, err)
	}
	if err := c.PresenceRefresh(ctx, map[string][]string{"r": {"2@n2"}, "s": {"4@n1"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ms, _ := c.PresenceMembers(ctx, "s"); !slices.Equal(ms, []string{"4@n1"}) {
		t.Fatalf("refresh added %v", ms)
	}
}

func TestCoordDocCompareAndSet(t *testing.T) {
	c := newCoord(t, "doc-test:")
	ctx := t.Context()
	rev, ok, err := c.DocAppend(ctx, "d", 0, [][]byte{[]byte("op1"), []byte("op2")}, 0, nil)
	if err != nil || !ok || rev != 2 {
		t.Fatalf("append on 0: %d %v %v", rev, ok, err)
	}
	// Another node transformed against revision 1: refused, told 2.
	rev, ok, err = c.DocAppend(ctx, "d", 1, [][]byte{[]byte("late")}, 0, nil)
	if err != nil || ok || rev != 2 {
		t.Fatalf("stale append: %d %v %v", rev, ok, err)
	}
	if _, ok, _ := c.DocAppend(ctx, "d", 2, [][]byte{[]byte("op3")}, 3, []byte("snap3")); !ok {
		t.Fatal("append on 2 refused")
	}
	es, err := c.DocSince(ctx, "d", 1, 10)
	if err != nil || len(es) != 2 || es[0].Seq != 2 || string(es[1].Data) != "op3" {
		t.Fatalf("since 1: %+v %v", es, err)
	}
	rev, snapRev, snap, err := c.DocHead(ctx, "d")
	if err != nil || rev != 3 || snapRev != 3 || string(snap) != "snap3" {
		t.Fatalf("head: %d %d %q %v", rev, snapRev, snap, err)
	}
	// A seed below the stored revision changes nothing; above, it replaces.
	if r, _ := c.DocSeed(ctx, "d", 2, []byte("old")); r != 3 {
		t.Fatalf("seed below: %d", r)
	}
	if r, _ := c.DocSeed(ctx, "d", 9, []byte("snap9")); r != 9 {
		t.Fatalf("seed above: %d", r)
	}
	rev, snapRev, snap, _ = c.DocHead(ctx, "d")
	if es, _ := c.DocSince(ctx, "d", 0, 10); rev != 9 || snapRev != 9 || string(snap) != "snap9" || len(es) != 0 {
		t.Fatalf("after seed: %d %d %q, %d ops", rev, snapRev, snap, len(es))
	}
	// A document never written has revision 0 and no snapshot.
	if rev, snapRev, snap, err := c.DocHead(ctx, "none"); err != nil || rev != 0 || snapRev != 0 || snap != nil {
		t.Fatalf("empty head: %d %d %q %v", rev, snapRev, snap, err)
	}
}
