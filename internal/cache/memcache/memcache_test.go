package memcache_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/cache/cachetest"
	"github.com/loadrig/loadrig/internal/cache/memcache"
)

func TestLRUConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend {
		b := memcache.NewLRU(memcache.Options{Size: 10_000})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestTinyLFUConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend {
		b := memcache.NewTinyLFU(memcache.Options{Size: 10_000})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestLRUEvictsAndCounts(t *testing.T) {
	b := memcache.NewLRU(memcache.Options{Size: 10})
	for i := range 25 {
		_ = b.Set(t.Context(), fmt.Sprint(i), []byte("v"), time.Hour)
	}
	st := b.Stats()
	if st.Entries != 10 || st.Evictions != 15 {
		t.Fatalf("stats %+v, want 10 entries and 15 evictions", st)
	}
	if _, ok, _ := b.Get(t.Context(), "0"); ok {
		t.Fatal("least recently used entry survived")
	}
	if _, ok, _ := b.Get(t.Context(), "24"); !ok {
		t.Fatal("newest entry was evicted")
	}
}

func TestTinyLFUEvictsAndCounts(t *testing.T) {
	b := memcache.NewTinyLFU(memcache.Options{Size: 10})
	defer b.Close()
	for i := range 200 {
		_ = b.Set(t.Context(), fmt.Sprint(i), []byte("v"), time.Hour)
	}
	b.CleanUp()
	st := b.Stats()
	if st.Entries != 10 || st.Evictions != 190 {
		t.Fatalf("stats %+v, want 10 entries and 190 evictions", st)
	}
}

func TestInjectedClock(t *testing.T) {
	var now atomic.Int64 // unix seconds; otter reads the clock from its own goroutines
	now.Store(1000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	for name, b := range map[string]cache.Backend{
		"lru":     memcache.NewLRU(memcache.Options{Now: clock}),
		"tinylfu": memcache.NewTinyLFU(memcache.Options{Now: clock}),
	} {
		_ = b.Set(t.Context(), "k", []byte("v"), time.Minute)
		now.Add(59)
		if _, ok, _ := b.Get(t.Context(), "k"); !ok {
			t.Errorf("%s: expired early", name)
		}
		now.Add(2)
		if _, ok, _ := b.Get(t.Context(), "k"); ok {
			t.Errorf("%s: not expired on the injected clock", name)
		}
		now.Store(1000)
		b.Close()
	}
}

func TestExpiredCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := memcache.NewLRU(memcache.Options{})
		_ = b.Set(t.Context(), "k", []byte("v"), time.Second)
		time.Sleep(2 * time.Second)
		if _, ok, _ := b.Get(t.Context(), "k"); ok {
			t.Fatal("not expired")
		}
		if st := b.Stats(); st.Expired != 1 || st.Evictions != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestValueFastPath(t *testing.T) {
	for name, b := range map[string]interface {
		cache.Backend
		cache.ValueBackend
	}{"lru": memcache.NewLRU(memcache.Options{}), "tinylfu": memcache.NewTinyLFU(memcache.Options{})} {
		type obj struct{ N int }
		_ = b.SetValue(t.Context(), "k", []byte(`{"N":1}`), obj{1}, time.Hour)
		raw, o, ok, err := b.GetValue(t.Context(), "k")
		if err != nil || !ok || string(raw) != `{"N":1}` || o != (obj{1}) {
			t.Errorf("%s: GetValue = %q %v %v %v", name, raw, o, ok, err)
		}
		_ = b.Set(t.Context(), "k", []byte(`{"N":2}`), time.Hour)
		if _, o, ok, _ := b.GetValue(t.Context(), "k"); !ok || o != nil {
			t.Errorf("%s: Set kept a stale decoded value %v", name, o)
		}
		b.Close()
	}
}
