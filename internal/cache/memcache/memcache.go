package memcache

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/maypok86/otter/v2"
)

// DefaultMaxBytes is the bound of an in-process backend when
// Options.MaxBytes is zero: 64 MiB of keys, values and per-entry overhead.
const DefaultMaxBytes = 64 << 20

// EntryOverhead is the fixed cost charged per entry on top of its key and
// value bytes: the map slot, the policy's list node and the item header
// (value slice, decoded value, deadline) — about 128 bytes on 64-bit
// platforms. It keeps a flood of tiny entries bounded too.
const EntryOverhead = 128

// Options configure an in-process backend.
type Options struct {
	// MaxBytes bounds what the backend holds, in bytes, each entry costing
	// EntryCost; beyond it the policy (LRU or W-TinyLFU) evicts, and an
	// entry costing more than MaxBytes on its own is not stored. Zero
	// means DefaultMaxBytes (64 MiB).
	MaxBytes int64
	// Now is the clock for TTLs; it must be safe for concurrent use (otter
	// calls it from its maintenance goroutines). Nil means time.Now.
	Now func() time.Time
}

// EntryCost is what an entry is charged against Options.MaxBytes: its key
// and value bytes plus EntryOverhead. An entry that also holds its decoded
// value (SetValue with a non-nil obj) is charged its bytes twice: the
// decoded copy (strings and slices of its own) is estimated at the size of
// its encoding.
func EntryCost(key string, val []byte, obj any) int64 {
	c := int64(len(key)) + int64(len(val)) + EntryOverhead
	if obj != nil {
		c += int64(len(val))
	}
	return c
}

// Stats counts what the policy did on its own.
type Stats struct {
	Entries   int   `json:"entries"`   // entries held now (may include expired, not yet dropped)
	Bytes     int64 `json:"bytes"`     // their cost (EntryCost summed)
	MaxBytes  int64 `json:"max_bytes"` // the bound on Bytes
	Evictions int64 `json:"evictions"` // entries pushed out to respect MaxBytes
	Expired   int64 `json:"expired"`   // entries dropped because their TTL passed
	TooLarge  int64 `json:"too_large"` // entries not stored: each alone cost more than MaxBytes
}

type item struct {
	val  []byte
	obj  any           // the decoded value, when the writer supplied it (SetValue)
	exp  int64         // LRU: deadline on the LRU's clock (nanoseconds); 0 = never
	ttl  time.Duration // TinyLFU: lifetime handed to otter; <= 0 = never
	cost int64         // EntryCost, fixed at insertion
}

func deadline(now int64, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now + int64(ttl)
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow is the LRU's default clock: nanoseconds on the monotonic clock
// since the process started. It reads only the monotonic clock, half the
// cost of time.Now (wall and monotonic) on a virtual machine's clock
// source, once per hit of an entry with a TTL.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// LRU is a least-recently-used backend with per-entry TTL, bounded in bytes:
// hashicorp's simplelru keeps the recency order under one mutex, and each
// Set evicts from the cold end until the entries' cost fits MaxBytes again,
// so Bytes never exceeds the bound.
type LRU struct {
	mu        sync.Mutex
	c         *simplelru.LRU[string, *item] // pointers: a hit copies 8 bytes out, not the item
	bytes     int64                         // guarded by mu
	max       int64
	now       func() int64 // nanoseconds: Options.Now's, or nil for monoNow (called directly)
	evictions atomic.Int64
	expired   atomic.Int64
	tooLarge  atomic.Int64
}

// NewLRU returns an LRU backend.
func NewLRU(o Options) *LRU {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	var now func() int64
	if o.Now != nil {
		clock := o.Now
		now = func() int64 { return clock().UnixNano() }
	}
	// simplelru's own count bound is out of reach (the byte bound always
	// binds first: every entry costs at least EntryOverhead); it never
	// preallocates for it.
	c, err := simplelru.NewLRU[string, *item](math.MaxInt, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &LRU{c: c, max: o.MaxBytes, now: now}
}

// clock is the LRU's time in nanoseconds: monoNow, called directly (no
// closure to load on a hit), unless Options.Now replaced it.
func (l *LRU) clock() int64 {
	if l.now != nil {
		return l.now()
	}
	return monoNow()
}

// get returns the live item under key, or nil. Items are never modified
// once stored (a Set stores a new one), so it is read outside the lock.
func (l *LRU) get(key string) *item {
	l.mu.Lock()
	it, ok := l.c.Get(key)
	if ok && it.exp != 0 && l.clock() >= it.exp {
		l.c.Remove(key)
		l.bytes -= it.cost
		l.mu.Unlock()
		l.expired.Add(1)
		return nil
	}
	l.mu.Unlock()
	return it
}

// Get returns the value under key. The slice must not be modified.
func (l *LRU) Get(_ context.Context, key string) ([]byte, bool, error) {
	if it := l.get(key); it != nil {
		return it.val, true, nil
	}
	return nil, false, nil
}

// GetValue returns the bytes and, when stored with SetValue, the decoded
// value under key: the in-process fast path that skips decoding on a hit.
func (l *LRU) GetValue(_ context.Context, key string) ([]byte, any, bool, error) {
	if it := l.get(key); it != nil {
		return it.val, it.obj, true, nil
	}
	return nil, nil, false, nil
}

// Set stores a copy of val under key for ttl (<= 0: no expiry).
func (l *LRU) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return l.SetValue(ctx, key, val, nil, ttl)
}

// SetValue stores a copy of val and the decoded value obj (shared, so it
// must be treated as read-only by everyone) under key for ttl. An entry
// costing more than MaxBytes is not stored (and the key's older value is
// dropped, so no stale value outlives the write).
func (l *LRU) SetValue(_ context.Context, key string, val []byte, obj any, ttl time.Duration) error {
	cost := EntryCost(key, val, obj)
	if cost > l.max {
		l.tooLarge.Add(1)
		l.remove(key)
		return nil
	}
	it := &item{val: append([]byte(nil), val...), obj: obj, exp: deadline(l.clock(), ttl), cost: cost}
	var evicted int64
	l.mu.Lock()
	if old, ok := l.c.Peek(key); ok {
		l.bytes -= old.cost
	}
	l.c.Add(key, it)
	l.bytes += cost
	for l.bytes > l.max {
		_, old, ok := l.c.RemoveOldest()
		if !ok {
			break
		}
		l.bytes -= old.cost
		evicted++
	}
	l.mu.Unlock()
	if evicted > 0 {
		l.evictions.Add(evicted)
	}
	return nil
}

func (l *LRU) remove(key string) {
	l.mu.Lock()
	if old, ok := l.c.Peek(key); ok {
		l.c.Remove(key)
		l.bytes -= old.cost
	}
	l.mu.Unlock()
}

// Delete removes keys; missing keys are not an error.
func (l *LRU) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		l.remove(k)
	}
	return nil
}

// Stats reports entries, bytes, evictions and expirations.
func (l *LRU) Stats() Stats {
	l.mu.Lock()
	n, b := l.c.Len(), l.bytes
	l.mu.Unlock()
	return Stats{Entries: n, Bytes: b, MaxBytes: l.max, Evictions: l.evictions.Load(),
		Expired: l.expired.Load(), TooLarge: l.tooLarge.Load()}
}

// Close releases nothing (the LRU starts no goroutine) and returns nil.
func (l *LRU) Close() error { return nil }

// TinyLFU is a W-TinyLFU backend (otter): it admits new entries only when
// they are likely to be hotter than what they would evict, which keeps hit
// ratios high under skewed (Zipf) workloads with scans. It is bounded in
// bytes through otter's weigher (an entry weighs its EntryCost); otter
// evicts in its maintenance, which runs on writes, so the weighted size may
// pass MaxBytes briefly while a write's eviction is pending.
type TinyLFU struct {
	c         *otter.Cache[string, item]
	max       int64
	evictions atomic.Int64
	expired   atomic.Int64
	tooLarge  atomic.Int64
}

// clock adapts an injected Now to otter's Clock. Tick returns nil: no
// periodic clean-up goroutine; expired entries are dropped on access and
// during otter's own maintenance.
type clock struct{ now func() time.Time }

func (c clock) NowNano() int64                      { return c.now().UnixNano() }
func (c clock) Tick(time.Duration) <-chan time.Time { return nil }

// NewTinyLFU returns a W-TinyLFU backend.
func NewTinyLFU(o Options) *TinyLFU {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	t := &TinyLFU{max: o.MaxBytes}
	opts := &otter.Options[string, item]{
		MaximumWeight: uint64(o.MaxBytes),
		// cost <= MaxBytes (SetValue refuses more), and a weight is a
		// uint32: past 4 GiB it saturates, which only evicts earlier.
		Weigher: func(_ string, it item) uint32 { return uint32(min(it.cost, math.MaxUint32)) },
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
//
// An entry costing more than MaxBytes is not stored (and the key's older
// value is dropped).
func (t *TinyLFU) SetValue(_ context.Context, key string, val []byte, obj any, ttl time.Duration) error {
	cost := EntryCost(key, val, obj)
	if cost > t.max {
		t.tooLarge.Add(1)
		t.c.Invalidate(key)
		return nil
	}
	t.c.Set(key, item{val: append([]byte(nil), val...), obj: obj, ttl: ttl, cost: cost})
	return nil
}

// Delete removes keys; missing keys are not an error.
func (t *TinyLFU) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		t.c.Invalidate(k)
	}
	return nil
}

// Stats reports entries, bytes (otter's weighted size), evictions and
// expirations. It first runs otter's pending maintenance, so what it
// reports includes every write made before the call.
func (t *TinyLFU) Stats() Stats {
	t.c.CleanUp()
	return Stats{Entries: t.c.EstimatedSize(), Bytes: int64(t.c.WeightedSize()), MaxBytes: t.max,
		Evictions: t.evictions.Load(), Expired: t.expired.Load(), TooLarge: t.tooLarge.Load()}
}

// Close stops otter's clean-up goroutine, if one runs.
func (t *TinyLFU) Close() error {
	t.c.StopAllGoroutines()
	return nil
}

// CleanUp runs otter's pending maintenance (evictions, expirations) now, so
// Stats is exact; the cache does it on its own over time.
func (t *TinyLFU) CleanUp() { t.c.CleanUp() }
