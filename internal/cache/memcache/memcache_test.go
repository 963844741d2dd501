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
		b := memcache.NewLRU(memcache.Options{MaxBytes: 10_000 * 256})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestTinyLFUConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend {
		b := memcache.NewTinyLFU(memcache.Options{MaxBytes: 10_000 * 256})
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// entriesOf is the byte bound that holds exactly n entries of keyLen-byte
// keys and one-byte values.
func entriesOf(n, keyLen int) int64 {
	return int64(n) * memcache.EntryCost(string(make([]byte, keyLen)), []byte("v"), nil)
}

func TestLRUEvictsAndCounts(t *testing.T) {
	b := memcache.NewLRU(memcache.Options{MaxBytes: entriesOf(10, 2)})
	for i := range 25 {
		_ = b.Set(t.Context(), fmt.Sprintf("%02d", i), []byte("v"), time.Hour)
	}
	st := b.Stats()
	if st.Entries != 10 || st.Evictions != 15 || st.Bytes != entriesOf(10, 2) {
		t.Fatalf("stats %+v, want 10 entries and 15 evictions", st)
	}
	if _, ok, _ := b.Get(t.Context(), "00"); ok {
		t.Fatal("least recently used entry survived")
	}
	if _, ok, _ := b.Get(t.Context(), "24"); !ok {
		t.Fatal("newest entry was evicted")
	}
}

func TestTinyLFUEvictsAndCounts(t *testing.T) {
	b := memcache.NewTinyLFU(memcache.Options{MaxBytes: entriesOf(10, 3)})
	defer b.Close()
	for i := range 200 {
		_ = b.Set(t.Context(), fmt.Sprintf("%03d", i), []byte("v"), time.Hour)
	}
	b.CleanUp()
	st := b.Stats()
	if st.Entries != 10 || st.Evictions != 190 || st.Bytes != entriesOf(10, 3) {
		t.Fatalf("stats %+v, want 10 entries and 190 evictions", st)
	}
}

// TestBoundedInBytes: values of very different sizes are held to MaxBytes
// by their cost, not their count; replacing a key re-charges it; Delete and
// expiry give bytes back; an entry larger than the whole bound is refused
// and takes the key's older value with it.
func TestBoundedInBytes(t *testing.T) {
	const max = 64 << 10
	for name, b := range map[string]interface {
		cache.Backend
		Stats() memcache.Stats
	}{"lru": memcache.NewLRU(memcache.Options{MaxBytes: max}), "tinylfu": memcache.NewTinyLFU(memcache.Options{MaxBytes: max})} {
		cleanUp := func() {
			if c, ok := b.(interface{ CleanUp() }); ok {
				c.CleanUp()
			}
		}
		ctx := t.Context()
		for i := range 2000 {
			_ = b.Set(ctx, fmt.Sprint("k", i), make([]byte, 1+(i*7919)%4096), time.Hour)
			if i%100 == 0 {
				cleanUp()
				if st := b.Stats(); st.Bytes > max || st.MaxBytes != max {
					t.Fatalf("%s: after %d sets: %+v, want bytes <= %d", name, i+1, st, max)
				}
			}
		}
		cleanUp()
		st := b.Stats()
		if st.Bytes > max || st.Bytes < max/2 || st.Evictions == 0 {
			t.Fatalf("%s: %+v, want bytes in [%d, %d] and evictions", name, st, max/2, max)
		}
		// Replacing a value re-charges the key: bytes follow the new size.
		_ = b.Delete(ctx, "small")
		cleanUp()
		before := b.Stats().Bytes
		_ = b.Set(ctx, "small", make([]byte, 10), time.Hour)
		_ = b.Set(ctx, "small", make([]byte, 20), time.Hour)
		cleanUp()
		if _, ok, _ := b.Get(ctx, "small"); ok {
			st := b.Stats()
			if st.Bytes > max {
				t.Fatalf("%s: %+v after replacing", name, st)
			}
		}
		_ = b.Delete(ctx, "small")
		cleanUp()
		if got := b.Stats().Bytes; got > before {
			t.Fatalf("%s: bytes %d after delete, were %d before the key", name, got, before)
		}
		// Too large alone: refused, and the key's old value is gone.
		_ = b.Set(ctx, "big", []byte("old"), time.Hour)
		_ = b.Set(ctx, "big", make([]byte, max), time.Hour)
		cleanUp()
		if _, ok, _ := b.Get(ctx, "big"); ok {
			t.Fatalf("%s: a value past the bound is readable (new or stale)", name)
		}
		if st := b.Stats(); st.TooLarge != 1 || st.Bytes > max {
			t.Fatalf("%s: %+v, want one too_large", name, st)
		}
		b.Close()
	}
}

// TestLRUBytesExact: the LRU's byte count is exact at every step (it
// evicts under the same lock it counts under), a decoded value is charged
// its bytes twice, and deletes and expiry bring the count back to zero.
func TestLRUBytesExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := memcache.NewLRU(memcache.Options{MaxBytes: 1 << 20})
		ctx := t.Context()
		_ = b.Set(ctx, "a", make([]byte, 100), time.Second)
		_ = b.SetValue(ctx, "bb", make([]byte, 50), struct{}{}, time.Hour)
		want := int64(1+100+memcache.EntryOverhead) + int64(2+2*50+memcache.EntryOverhead)
		if st := b.Stats(); st.Bytes != want || st.Entries != 2 {
			t.Fatalf("stats %+v, want %d bytes", st, want)
		}
		_ = b.Set(ctx, "bb", make([]byte, 10), time.Hour) // no decoded value now
		want = int64(1+100+memcache.EntryOverhead) + int64(2+10+memcache.EntryOverhead)
		if st := b.Stats(); st.Bytes != want {
			t.Fatalf("after replace: %+v, want %d bytes", st, want)
		}
		time.Sleep(2 * time.Second)
		if _, ok, _ := b.Get(ctx, "a"); ok {
			t.Fatal("not expired")
		}
		_ = b.Delete(ctx, "bb", "missing")
		if st := b.Stats(); st.Bytes != 0 || st.Entries != 0 || st.Expired != 1 {
			t.Fatalf("stats %+v, want empty", st)
		}
	})
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

// TestGetAllocFree: a hit costs no allocation on either backend (the REST
// hot path reads through it on every cached request).
func TestGetAllocFree(t *testing.T) {
	for name, b := range map[string]cache.Backend{"lru": memcache.NewLRU(memcache.Options{}), "tinylfu": memcache.NewTinyLFU(memcache.Options{})} {
		ctx := t.Context()
		_ = b.Set(ctx, "key", []byte("value"), time.Hour)
		if n := testing.AllocsPerRun(200, func() {
			if _, ok, _ := b.Get(ctx, "key"); !ok {
				t.Fatal("miss")
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per hit, want 0", name, n)
		}
		b.Close()
	}
}
