package server

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is a rate limit: Events per Per, with bursts of up to Burst events.
// The zero Rate means "no limit".
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// Enabled reports whether r limits anything.
func (r Rate) Enabled() bool { return r.Events > 0 && r.Per > 0 }

// Interval is the steady-state spacing between allowed events.
func (r Rate) Interval() time.Duration { return r.Per / time.Duration(r.Events) }

// String formats r the way ParseRate reads it.
func (r Rate) String() string {
	if !r.Enabled() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	s := strconv.Itoa(r.Events) + "/" + unit
	if r.Burst != r.Events {
		s += ":" + strconv.Itoa(r.Burst)
	}
	return s
}

// ParseRate parses a --rate-limit value: "100/s", "6000/m", "10/250ms",
// optionally with a burst after a colon ("100/s:20"); the burst defaults to
// the event count. "", "0" and "off" mean no limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || s == "off" {
		return Rate{}, nil
	}
	bad := fmt.Errorf("rate limit %q is not N/UNIT[:BURST] (for example 100/s, 6000/m or 100/s:20)", s)
	spec, burstS, hasBurst := strings.Cut(s, ":")
	nS, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, bad
	}
	n, err := strconv.Atoi(nS)
	if err != nil || n <= 0 {
		return Rate{}, bad
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		per, err = time.ParseDuration(unit)
		if err != nil || per <= 0 {
			return Rate{}, bad
		}
	}
	r := Rate{Events: n, Per: per, Burst: n}
	if hasBurst {
		b, err := strconv.Atoi(burstS)
		if err != nil || b <= 0 {
			return Rate{}, bad
		}
		r.Burst = b
	}
	if r.Interval() <= 0 {
		return Rate{}, fmt.Errorf("rate limit %q is finer than 1ns per event", s)
	}
	return r, nil
}

// Decision is a limiter's answer for one request.
type Decision struct {
	// Allowed is true when the request may proceed.
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter, when not allowed, is how long until one request would be.
	RetryAfter time.Duration
}

// Limiter decides whether a client's request may proceed. key identifies
// the client.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// LocalLimiter is an in-process GCRA (generic cell rate algorithm) limiter,
// the same algorithm go-redis/redis_rate runs inside Redis, so a single
// server answers the same way with or without Redis. Per-key state is one
// time value ("theoretical arrival time"); idle keys are pruned.
type LocalLimiter struct {
	rate   Rate
	emit   time.Duration // interval between events
	tol    time.Duration // burst tolerance: emit * burst
	now    func() time.Time
	seed   maphash.Seed
	shards [16]limShard
}

type limShard struct {
	mu  sync.Mutex
	tat map[string]time.Time
	ops int
}

// NewLocalLimiter returns a limiter for r (which must be Enabled). now nil
// means time.Now.
func NewLocalLimiter(r Rate, now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	if r.Burst <= 0 {
		r.Burst = r.Events
	}
	l := &LocalLimiter{rate: r, emit: r.Interval(), now: now, seed: maphash.MakeSeed()}
	l.tol = l.emit * time.Duration(r.Burst)
	for i := range l.shards {
		l.shards[i].tat = map[string]time.Time{}
	}
	return l
}

// Allow implements Limiter; it never fails.
func (l *LocalLimiter) Allow(_ context.Context, key string) (Decision, error) {
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.ops++
	if sh.ops&1023 == 0 {
		for k, t := range sh.tat {
			if t.Before(now) {
				delete(sh.tat, k)
			}
		}
	}
	tat, ok := sh.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	newTat := tat.Add(l.emit)
	allowAt := newTat.Add(-l.tol)
	if diff := now.Sub(allowAt); diff < 0 {
		return Decision{RetryAfter: -diff}, nil
	} else {
		sh.tat[key] = newTat
		return Decision{Allowed: true, Remaining: int(diff / l.emit)}, nil
	}
}

// FallbackLimiter asks Primary (the shared Redis limiter) and, when it
// fails, Local (an in-process limiter with the same rate), so a Redis
// outage degrades the limit to per process instead of lifting it. Failures
// are counted and logged at most once per LogEvery, not once per request.
type FallbackLimiter struct {
	Primary Limiter
	Local   Limiter
	// Logger receives "limiter failed" lines. Default: discard.
	Logger *slog.Logger
	// LogEvery is the shortest interval between two failure logs. Default
	// 10s.
	LogEvery time.Duration

	fallbacks atomic.Int64
	every     logEvery
}

// NewFallbackLimiter returns a limiter over primary that falls back to an
// in-process limiter of rate r.
func NewFallbackLimiter(primary Limiter, r Rate, log *slog.Logger) *FallbackLimiter {
	return &FallbackLimiter{Primary: primary, Local: NewLocalLimiter(r, nil), Logger: log}
}

// Allow implements Limiter; it fails only when both limiters fail.
func (f *FallbackLimiter) Allow(ctx context.Context, key string) (Decision, error) {
	d, err := f.Primary.Allow(ctx, key)
	if err == nil {
		return d, nil
	}
	f.fallbacks.Add(1)
	every := f.LogEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	if f.Logger != nil && f.every.due(every) {
		f.Logger.WarnContext(ctx, "rate limiter failed; limiting in process until it recovers (logged once per interval)",
			"err", err, "interval", every, "fallbacks", f.fallbacks.Load())
	}
	return f.Local.Allow(ctx, key)
}

// Fallbacks is the number of decisions the local limiter made because the
// primary failed.
func (f *FallbackLimiter) Fallbacks() int64 { return f.fallbacks.Load() }
