package cache

import (
	"context"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

// Stats is a snapshot of the layer's accounting, shaped for the servers'
// /stats: they publish it under "cache" (so cache.hits, cache.misses,
// cache.errors) and WriteBehind under "write_behind" (write_behind.backlog).
type Stats struct {
	Backend      string `json:"backend"`
	Strategy     string `json:"strategy"`
	Mode         string `json:"mode"`
	Invalidation string `json:"invalidation"`
	// Hits and Misses count key lookups (a batch read counts each key);
	// HitRatio is Hits / (Hits + Misses).
	Hits     int64   `json:"hits"`
	Misses   int64   `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
	// Sets counts entries written to the backend.
	Sets int64 `json:"sets"`
	// Evictions counts entries the backend pushed out for space; Expired
	// those dropped at their TTL. For Redis these are the server-wide
	// evicted_keys and expired_keys (single node only); Entries is then 0.
	Evictions int64 `json:"evictions"`
	Expired   int64 `json:"expired"`
	Entries   int64 `json:"entries"`
	// Bytes is what the in-process backend holds (keys, values and a fixed
	// overhead per entry) and MaxBytes its bound (--cache-max-bytes);
	// TooLarge counts entries not stored because one alone passed the
	// bound. All three are 0 for Redis and without a cache.
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"max_bytes"`
	TooLarge int64 `json:"too_large"`
	// Errors counts backend failures (each fell through to the store) and
	// undecodable entries: the cache_errors of the issue.
	Errors int64 `json:"errors"`
	// StoreCallsSaved counts store calls the cache avoided: hits, fully-hit
	// batches, and singleflight followers that shared another caller's load.
	StoreCallsSaved int64 `json:"store_calls_saved"`
	// Loads counts store loads made on misses (after singleflight).
	Loads int64 `json:"loads"`
	// Bypassed counts reads that skipped the cache on request (no-cache).
	Bypassed int64 `json:"bypassed"`
	// Breaker describes the remote backend's circuit breaker (Redis only).
	Breaker     *BreakerStats     `json:"breaker,omitempty"`
	Redis       *rediscache.Stats `json:"redis,omitempty"`
	WriteBehind WriteBehindStats  `json:"write_behind"`
}

// Stats returns the current counters; see StatsContext.
func (l *Layer) Stats() Stats { return l.StatsContext(context.Background()) }

// StatsContext returns the current counters. With Redis it also reads the
// server's eviction counters and, under write-behind, the stream's backlog
// (each bounded to 250ms within ctx; on failure the last known backlog is
// reported and the error is counted).
func (l *Layer) StatsContext(ctx context.Context) Stats {
	s := Stats{
		Backend:         l.backend,
		Strategy:        l.strat,
		Mode:            l.mode,
		Invalidation:    l.inval,
		Hits:            l.hits.Load(),
		Misses:          l.misses.Load(),
		Sets:            l.sets.Load(),
		StoreCallsSaved: l.saved.Load(),
		Loads:           l.loads.Load(),
		Bypassed:        l.bypassed.Load(),
	}
	if l.b == nil {
		s.Strategy, s.Invalidation = "", ""
	}
	if l.mem != nil {
		ms := l.mem.Stats()
		s.Evictions, s.Expired, s.Entries = ms.Evictions, ms.Expired, int64(ms.Entries)
		s.Bytes, s.MaxBytes, s.TooLarge = ms.Bytes, ms.MaxBytes, ms.TooLarge
	}
	if l.redis != nil {
		rs := l.redis.Stats()
		s.Redis = &rs
		ictx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		if ev, ex, err := l.redis.ServerCounters(ictx); err == nil {
			s.Evictions, s.Expired = ev, ex
		}
		cancel()
	}
	if l.br != nil {
		s.Breaker = &BreakerStats{Open: l.br.isOpen(), Opens: l.br.opens.Load(), Skips: l.br.skips.Load()}
	}
	if l.wb != nil {
		s.WriteBehind = l.wb.stats(ctx)
	}
	s.Errors = l.errs.Load()
	if t := s.Hits + s.Misses; t > 0 {
		s.HitRatio = float64(s.Hits) / float64(t)
	}
	return s
}

// WriteBehindStats returns just the write-behind figures (zero unless the
// strategy is write-behind).
func (l *Layer) WriteBehindStats() WriteBehindStats {
	if l.wb == nil {
		return WriteBehindStats{}
	}
	return l.wb.stats(context.Background())
}

// BreakerStats describes the circuit breaker in front of a remote backend.
type BreakerStats struct {
	Open  bool  `json:"open"`  // the backend is being skipped now
	Opens int64 `json:"opens"` // times the breaker opened
	Skips int64 `json:"skips"` // backend calls skipped while open (also in errors)
}
