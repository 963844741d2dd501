package cache

import (
	"context"
	"time"
)

// Backend stores opaque byte values under string keys with a TTL. The
// in-process backends (memcache.LRU, memcache.TinyLFU) and Redis
// (rediscache.Backend) implement it; cachetest.Run checks any implementation
// against the common contract.
type Backend interface {
	// Get returns the value under key; a missing or expired key is
	// (nil, false, nil). The returned slice must not be modified.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores a copy of val under key for ttl; ttl <= 0 means no expiry.
	// Setting a key replaces its value and its TTL.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Close releases the backend's resources.
	Close() error
}

// ValueBackend is the optional capability of in-process backends to keep
// the decoded value next to its bytes, so an in-process hit costs no JSON
// decode. Values stored this way are shared by every reader and must be
// treated as read-only (slices inside them included).
type ValueBackend interface {
	GetValue(ctx context.Context, key string) (raw []byte, obj any, ok bool, err error)
	SetValue(ctx context.Context, key string, raw []byte, obj any, ttl time.Duration) error
}

// MultiGetter is the optional batch read capability: one round trip for many
// keys. Missing keys yield nil entries. Backends without it are read key by
// key.
type MultiGetter interface {
	MGet(ctx context.Context, keys []string) ([][]byte, error)
}

// MultiSetter is the optional batch write capability.
type MultiSetter interface {
	MSet(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration) error
}

// mget reads keys with b's MGet when it has one.
func mget(ctx context.Context, b Backend, keys []string) ([][]byte, error) {
	if m, ok := b.(MultiGetter); ok {
		return m.MGet(ctx, keys)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, ok, err := b.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = v
		}
	}
	return out, nil
}

// mset writes keys with b's MSet when it has one.
func mset(ctx context.Context, b Backend, keys []string, vals [][]byte, ttls []time.Duration) error {
	if m, ok := b.(MultiSetter); ok {
		return m.MSet(ctx, keys, vals, ttls)
	}
	for i, k := range keys {
		if err := b.Set(ctx, k, vals[i], ttls[i]); err != nil {
			return err
		}
	}
	return nil
}
