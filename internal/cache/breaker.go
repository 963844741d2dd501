package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Defaults of the remote-backend circuit breaker.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = time.Second
)

// errBreakerOpen is what a guarded backend returns while its breaker is
// open: the layer treats it like any backend error (fall through, counted).
var errBreakerOpen = errors.New("cache backend skipped: circuit breaker open after repeated failures")

// breaker stops calling a remote backend for a cooldown after consecutive
// failures. A Redis that refuses connections fails in microseconds, but one
// that hangs (paused, partitioned) costs every request a full read timeout;
// with the breaker open, requests go straight to the store, and after each
// cooldown a single probe call tests whether Redis is back.
type breaker struct {
	threshold int64
	cooldown  time.Duration
	now       func() time.Time

	fails     atomic.Int64 // consecutive failures
	openUntil atomic.Int64 // unix nanos; 0 = closed
	opens     atomic.Int64 // times it opened
	skips     atomic.Int64 // calls not made because it was open
}

// allow reports whether a call may go to the backend: always when closed;
// when open, only one probe per elapsed cooldown.
func (b *breaker) allow() bool {
	u := b.openUntil.Load()
	if u == 0 {
		return true
	}
	now := b.now().UnixNano()
	if now >= u && b.openUntil.CompareAndSwap(u, now+int64(b.cooldown)) {
		return true // the probe
	}
	b.skips.Add(1)
	return false
}

// record counts a call's outcome. A caller's cancellation says nothing
// about the backend: it is neither a success nor a failure. Anything else
// that failed — a timeout included, the hung-Redis case the breaker exists
// for — is a failure.
func (b *breaker) record(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if err == nil {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		if b.openUntil.Load() != 0 {
			b.openUntil.Store(0)
		}
		return
	}
	if n := b.fails.Add(1); n >= b.threshold {
		if b.openUntil.Swap(b.now().UnixNano()+int64(b.cooldown)) == 0 {
			b.opens.Add(1)
		}
	}
}

func (b *breaker) isOpen() bool { return b.openUntil.Load() != 0 }

// guarded wraps a remote backend with a breaker, keeping its batch
// capabilities.
type guarded struct {
	b  Backend
	br *breaker
}

func (g *guarded) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if !g.br.allow() {
		return nil, false, errBreakerOpen
	}
	v, ok, err := g.b.Get(ctx, key)
	g.br.record(err)
	return v, ok, err
}

func (g *guarded) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if !g.br.allow() {
		return errBreakerOpen
	}
	err := g.b.Set(ctx, key, val, ttl)
	g.br.record(err)
	return err
}

func (g *guarded) Delete(ctx context.Context, keys ...string) error {
	if !g.br.allow() {
		return errBreakerOpen
	}
	err := g.b.Delete(ctx, keys...)
	g.br.record(err)
	return err
}

func (g *guarded) MGet(ctx context.Context, keys []string) ([][]byte, error) {
	if !g.br.allow() {
		return nil, errBreakerOpen
	}
	v, err := mget(ctx, g.b, keys)
	g.br.record(err)
	return v, err
}

func (g *guarded) MSet(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration) error {
	if !g.br.allow() {
		return errBreakerOpen
	}
	err := mset(ctx, g.b, keys, vals, ttls)
	g.br.record(err)
	return err
}

func (g *guarded) Close() error { return g.b.Close() }
