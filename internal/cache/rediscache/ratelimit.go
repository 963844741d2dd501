package rediscache

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// RateLimitPrefix namespaces rate-limit keys (redis_rate adds "rate:").
const RateLimitPrefix = "loadrig:"

// RateLimiter is a per-key GCRA limiter kept in Redis (go-redis/redis_rate:
// one Lua script call per decision), so several server processes share one
// limit per client. The servers wrap it as a server.Limiter.
type RateLimiter struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

// NewRateLimiter allows events per period with bursts of burst (burst <= 0
// means events) on b's client.
func NewRateLimiter(b *Backend, events int, period time.Duration, burst int) *RateLimiter {
	if burst <= 0 {
		burst = events
	}
	return &RateLimiter{
		l:     redis_rate.NewLimiter(b.c),
		limit: redis_rate.Limit{Rate: events, Period: period, Burst: burst},
	}
}

// Allow takes one event for key. retryAfter is how long until one event
// would be allowed when allowed is false.
func (r *RateLimiter) Allow(ctx context.Context, key string) (allowed bool, remaining int, retryAfter time.Duration, err error) {
	res, err := r.l.Allow(ctx, RateLimitPrefix+key, r.limit)
	if err != nil {
		return false, 0, 0, err
	}
	return res.Allowed > 0, res.Remaining, max(res.RetryAfter, 0), nil
}
