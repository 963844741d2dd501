package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/loadrig/loadrig/internal/cache"
	"github.com/loadrig/loadrig/internal/domain"
)

// Deps is the one dependency set every transport is built from. The server
// stack (server/stack, Stack.Deps) fills it once per process, so REST,
// GraphQL, gRPC and WebSocket servers in one process share the same data,
// cache, broker, credentials and limits; each transport adds its own
// options beside it.
type Deps struct {
	// Catalog is the data layer: the store, usually behind a cache
	// strategy. Required.
	Catalog domain.Catalog
	// Login checks email and password. Default: Catalog, when it
	// implements domain.Authenticator (the store and the cache layers do).
	Login domain.Authenticator
	// Auth issues and verifies bearer credentials. Default: NewJWT with a
	// random per-process key.
	Auth Authenticator
	// Limiter limits requests per client. Default: none.
	Limiter Limiter
	// Feed is the process's event broker. With a stack, the cache layer
	// publishes product changes to it itself. Default: none.
	Feed *domain.Feed
	// Logger receives the transports' logs. Default: discard.
	Logger *slog.Logger
	// Stats returns the process-wide /stats sections (cache, store,
	// write_behind, redis_mode, rate_limit). Default: none.
	Stats func() map[string]any
	// Responses is the full-response cache (--cache-mode response), nil in
	// object mode.
	Responses *cache.Responses
	// KV is the stack's shared key-value store (its Redis), for a
	// transport's own shared data (GraphQL's persisted queries); nil when
	// the stack uses no Redis. KeyPrefix namespaces its keys.
	KV        KV
	KeyPrefix string
}

// KV is a shared key-value store with expiry; *rediscache.Backend is one.
type KV interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

// WithDefaults returns d with the documented defaults filled in.
func (d Deps) WithDefaults() Deps {
	if d.Login == nil {
		d.Login, _ = d.Catalog.(domain.Authenticator)
	}
	if d.Auth == nil {
		d.Auth = NewJWT(JWTOptions{})
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}
