package memcache

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
)

// DefaultSize is the capacity, in entries, when Options.Size is zero.
const DefaultSize = 100_000

// Options configure an in-process backend.
type Options struct {
	// Size is the maximum number of entries; beyond it the policy (LRU or
	// W-TinyLFU) evicts. Zero means DefaultSize (100,000).
	Size int
	// Now is the clock for TTLs; it must be safe for concurrent use (otter
	// calls it from its maintenance goroutines). Nil means time.Now.
	Now func() time.Time
}

// Stats counts what the policy did on its own.
type Stats struct {
	Entries   int   `json:"entries"`   // entries held now (may include expired, not yet dropped)
	Evictions int64 `json:"evictions"` // entries pushed out to respect Size
	Expired   int64 `json:"expired"`   // entries dropped because their TTL passed
}

type item struct {
	val []byte
	obj any           // the decoded value, when the writer supplied it (SetValue)
	exp int64         // LRU: unix nanos deadline; 0 = never
	ttl time.Duration // TinyLFU: lifetime handed to otter; <= 0 = never
}

func deadline(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now.Add(ttl).UnixNano()
}

// LRU is a least-recently-used backend with per-entry TTL.
type LRU struct {
	c         *expirable.LRU[string, item]
	now       func() time.Time
	evictions atomic.Int64
	expired   atomic.Int64
}

// NewLRU returns an LRU backend.
func NewLRU(o Options) *LRU {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// ttl 0: expirable's cache-wide TTL and its unstoppable janitor are off;
	// per-entry deadlines are checked in Get (see doc.go).
	return &LRU{c: expirable.NewLRU[string, item](o.Size, nil, 0), now: o.Now}
}

func (l *LRU) get(key string) (item, bool) {
	it, ok := l.c.Get(key)
	if !ok {
		return item{}, false
	}
	if it.exp != 0 && l.now().UnixNano() >= it.exp {
		// Remove only if it is still the same expired entry.
		if cur, ok := l.c.Peek(key); ok && cur.exp == it.exp {
			l.c.Remove(key)
			l.expired.Add(1)
		}
		return item{}, false
	}
	return it, true
}

// Get returns the value under key. The slice must not be modified.
func (l *LRU) Get(_ context.Context, key string) ([]byte, bool, error) {
	it, ok := l.get(key)
	return it.val, ok, nil
}

// GetValue returns the bytes and, when stored with SetValue, the decoded
// value under key: the in-process fast path that skips decoding on a hit.
func (l *LRU) GetValue(_ context.Context, key string) ([]byte, any, bool, error) {
	it, ok := l.get(key)
	return it.val, it.obj, ok, nil
}

// Set stores a copy of val under key for ttl (<= 0: no expiry).
func (l *LRU) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return l.SetValue(ctx, key, val, nil, ttl)
}

// SetValue stores a copy of val and the decoded value obj (shared, so it
// must be treated as read-only by everyone) under key for ttl.
func (l *LRU) SetValue(_ context.Context, key string, val []byte, obj any, ttl time.Duration) error {
	it := item{val: append([]byte(nil), val...), obj: obj, exp: deadline(l.now(), ttl)}
	if l.c.Add(key, it) {
		l.evictions.Add(1)
	}
	return nil
}

// Delete removes keys; missing keys are not an error.
func (l *LRU) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		l.c.Remove(k)
	}
	return nil
}

// Stats reports entries, evictions and expirations.
func (l *LRU) Stats() Stats {
	return Stats{Entries: l.c.Len(), Evictions: l.evictions.Load(), Expired: l.expired.Load()}
}

// Close releases nothing (the LRU starts no goroutine) and returns nil.
func (l *LRU) Close() error { return nil }

// TinyLFU is a W-TinyLFU backend (otter): it admits new entries only when
// they are likely to be hotter than what they would evict, which keeps hit
// ratios high under skewed (Zipf) workloads with scans.
type TinyLFU struct {
	c         *otter.Cache[string, item]
	evictions atomic.Int64
	expired   atomic.Int64
}

// clock adapts an injected Now to otter's Clock. Tick returns nil: no
// periodic clean-up goroutine; expired entries are dropped on access and
// during otter's own maintenance.
type clock struct{ now func() time.Time }

func (c clock) NowNano() int64                      { return c.now().UnixNano() }
func (c clock) Tick(time.Duration) <-chan time.Time { return nil }

// NewTinyLFU returns a W-TinyLFU backend.
func NewTinyLFU(o Options) *TinyLFU {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	t := &TinyLFU{}
	opts := &otter.Options[string, item]{
		MaximumSize: o.Size,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, item]) time.Duration {
			if e.Value.ttl <= 0 {
				return 100 * 365 * 24 * time.Hour
			}
			return e.Value.ttl
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[string, item]) {
			switch e.Cause {
			case otter.CauseOverflow:
				t.evictions.Add(1)
			case otter.CauseExpiration:
				t.expired.Add(1)
			}
		},
	}
	if o.Now != nil {
		opts.Clock = clock{now: o.Now}
	}
	t.c = otter.Must(opts)
	return t
}

// Get returns the value under key. The slice must not be modified.
func (t *TinyLFU) Get(_ context.Context, key string) ([]byte, bool, error) {
	it, ok := t.c.GetIfPresent(key)
	return it.val, ok, nil
}

// GetValue returns the bytes and, when stored with SetValue, the decoded
// value under key.
func (t *TinyLFU) GetValue(_ context.Context, key string) ([]byte, any, bool, error) {
	it, ok := t.c.GetIfPresent(key)
	return it.val, it.obj, ok, nil
}

// Set stores a copy of val under key for ttl (<= 0: no expiry).
func (t *TinyLFU) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return t.SetValue(ctx, key, val, nil, ttl)
}

// SetValue stores a copy of val and the read-only decoded value obj under
// key for ttl.
func (t *TinyLFU) SetValue(_ context.Context, key string, val []byte, obj any, ttl time.Duration) error {
	t.c.Set(key, item{val: append([]byte(nil), val...), obj: obj, ttl: ttl})
	return nil
}

// Delete removes keys; missing keys are not an error.
func (t *TinyLFU) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		t.c.Invalidate(k)
	}
	return nil
}

// Stats reports entries, evictions and expirations.
func (t *TinyLFU) Stats() Stats {
	return Stats{Entries: t.c.EstimatedSize(), Evictions: t.evictions.Load(), Expired: t.expired.Load()}
}

// Close stops otter's clean-up goroutine, if one runs.
func (t *TinyLFU) Close() error {
	t.c.StopAllGoroutines()
	return nil
}

// CleanUp runs otter's pending maintenance (evictions, expirations) now, so
// Stats is exact; the cache does it on its own over time.
func (t *TinyLFU) CleanUp() { t.c.CleanUp() }
