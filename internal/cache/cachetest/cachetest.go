package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
)

// Option adjusts Run.
type Option func(*config)

type config struct {
	realTime bool
	advance  func(time.Duration)
}

// RealTime runs the TTL subtests with real waits (short TTLs, bounded
// waits), for backends whose clock the test process does not control.
func RealTime() Option { return func(c *config) { c.realTime = true } }

// AdvanceWith also calls f after every real wait of the TTL subtests, for
// a backend whose clock must be moved by hand (embedded miniredis:
// Instance.FastForward). Implies RealTime.
func AdvanceWith(f func(time.Duration)) Option {
	return func(c *config) { c.realTime, c.advance = true, f }
}

// Run checks newBackend's backends against the Backend contract. newBackend
// is called once per subtest (inside a synctest bubble for TTL subtests
// unless RealTime is given) and should register its own cleanup; it must
// return an empty backend each time.
func Run(t *testing.T, newBackend func(t *testing.T) cache.Backend, opts ...Option) {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	ctx := func(t *testing.T) context.Context { return t.Context() }

	t.Run("MissingKey", func(t *testing.T) {
		b := newBackend(t)
		v, ok, err := b.Get(ctx(t), "nope")
		if err != nil || ok || v != nil {
			t.Fatalf("Get(missing) = %q, %v, %v; want nil, false, nil", v, ok, err)
		}
	})

	t.Run("SetGet", func(t *testing.T) {
		b := newBackend(t)
		vals := map[string][]byte{
			"a":        []byte(`{"id":1}`),
			"binary":   {0, 1, 2, 0xff, 0, '\n'},
			"empty":    {},
			"unicode":  []byte("żółw ☃"),
			"key with": []byte("spaces in key"),
		}
		for k, v := range vals {
			if err := b.Set(ctx(t), k, v, time.Hour); err != nil {
				t.Fatalf("Set(%q): %v", k, err)
			}
		}
		for k, want := range vals {
			got, ok, err := b.Get(ctx(t), k)
			if err != nil || !ok || !bytes.Equal(got, want) {
				t.Fatalf("Get(%q) = %q, %v, %v; want %q", k, got, ok, err, want)
			}
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		b := newBackend(t)
		_ = b.Set(ctx(t), "k", []byte("one"), time.Hour)
		_ = b.Set(ctx(t), "k", []byte("two"), time.Hour)
		if got, ok, _ := b.Get(ctx(t), "k"); !ok || string(got) != "two" {
			t.Fatalf("after overwrite Get = %q, %v", got, ok)
		}
	})

	t.Run("SetCopiesValue", func(t *testing.T) {
		b := newBackend(t)
		v := []byte("original")
		_ = b.Set(ctx(t), "k", v, time.Hour)
		copy(v, "mutated!")
		if got, _, _ := b.Get(ctx(t), "k"); string(got) != "original" {
			t.Fatalf("backend kept the caller's slice: %q", got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		b := newBackend(t)
		for _, k := range []string{"a", "b", "c"} {
			_ = b.Set(ctx(t), k, []byte(k), time.Hour)
		}
		if err := b.Delete(ctx(t), "a", "c", "missing"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := b.Delete(ctx(t)); err != nil {
			t.Fatalf("Delete(): %v", err)
		}
		for k, want := range map[string]bool{"a": false, "b": true, "c": false} {
			if _, ok, err := b.Get(ctx(t), k); ok != want || err != nil {
				t.Fatalf("after Delete, Get(%q) ok=%v err=%v; want ok=%v", k, ok, err, want)
			}
		}
	})

	t.Run("LargeValue", func(t *testing.T) {
		b := newBackend(t)
		v := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		if err := b.Set(ctx(t), "big", v, time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.Get(ctx(t), "big"); err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("1 MiB value did not round-trip (ok=%v err=%v len=%d)", ok, err, len(got))
		}
	})

	t.Run("ManyKeys", func(t *testing.T) {
		b := newBackend(t)
		for i := range 1000 {
			if err := b.Set(ctx(t), fmt.Sprint("k", i), []byte(fmt.Sprint(i)), time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 1000 {
			if got, ok, _ := b.Get(ctx(t), fmt.Sprint("k", i)); !ok || string(got) != fmt.Sprint(i) {
				t.Fatalf("k%d = %q, %v", i, got, ok)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		b := newBackend(t)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 100 {
					k := fmt.Sprintf("w%d-%d", w, i%10)
					want := fmt.Sprintf("%d-%d", w, i)
					if err := b.Set(ctx(t), k, []byte(want), time.Hour); err != nil {
						t.Error(err)
						return
					}
					if got, ok, err := b.Get(ctx(t), k); err != nil || !ok || string(got) != want {
						t.Errorf("worker %d read %q, %v, %v; want %q", w, got, ok, err, want)
						return
					}
					// Contend on shared keys nobody asserts on.
					_ = b.Set(ctx(t), fmt.Sprint("shared", i%3), []byte(want), time.Hour)
					_ = b.Delete(ctx(t), fmt.Sprint("shared", (i+1)%3))
				}
			})
		}
		wg.Wait()
	})

	t.Run("MultiGet", func(t *testing.T) {
		b := newBackend(t)
		m, ok := b.(cache.MultiGetter)
		if !ok {
			t.Skip("backend has no MGet; the cache layer reads key by key")
		}
		_ = b.Set(ctx(t), "x", []byte("1"), time.Hour)
		_ = b.Set(ctx(t), "z", []byte("3"), time.Hour)
		got, err := m.MGet(ctx(t), []string{"x", "y", "z"})
		if err != nil || len(got) != 3 || string(got[0]) != "1" || got[1] != nil || string(got[2]) != "3" {
			t.Fatalf("MGet = %q, %v", got, err)
		}
		if ms, ok := b.(cache.MultiSetter); ok {
			if err := ms.MSet(ctx(t), []string{"p", "q"}, [][]byte{[]byte("P"), []byte("Q")}, []time.Duration{time.Hour, 0}); err != nil {
				t.Fatal(err)
			}
			if got, _ := m.MGet(ctx(t), []string{"p", "q"}); string(got[0]) != "P" || string(got[1]) != "Q" {
				t.Fatalf("after MSet, MGet = %q", got)
			}
		}
	})

	ttl := func(t *testing.T, unit time.Duration, wait func(time.Duration)) {
		b := newBackend(t)
		c := t.Context()
		_ = b.Set(c, "short", []byte("s"), 4*unit)
		_ = b.Set(c, "forever", []byte("f"), 0)
		_ = b.Set(c, "reset", []byte("r1"), 4*unit)
		_ = b.Set(c, "reset", []byte("r2"), 0) // replacing a value replaces its TTL
		_ = b.Set(c, "long", []byte("l"), 100*unit)
		wait(unit)
		if _, ok, _ := b.Get(c, "short"); !ok {
			t.Fatal("entry expired before its TTL")
		}
		wait(7 * unit)
		if _, ok, err := b.Get(c, "short"); ok || err != nil {
			t.Fatalf("entry still present after twice its TTL (err %v)", err)
		}
		for _, k := range []string{"forever", "reset", "long"} {
			if _, ok, _ := b.Get(c, k); !ok {
				t.Fatalf("%q expired but should not have", k)
			}
		}
	}
	t.Run("TTL", func(t *testing.T) {
		if cfg.realTime {
			ttl(t, 50*time.Millisecond, func(d time.Duration) {
				time.Sleep(d)
				if cfg.advance != nil {
					cfg.advance(d)
				}
			})
			return
		}
		synctest.Test(t, func(t *testing.T) { ttl(t, time.Second, time.Sleep) })
	})
}
