package stack

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/server"
)

// TestRateLimitSurvivesRedis: with Redis killed mid-run the limit holds
// (in process) instead of lifting, no decision fails, and the failure is
// logged once, not once per request; with Redis back, Redis decides again.
func TestRateLimitSurvivesRedis(t *testing.T) {
	t.Parallel()
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	redistest.RequireSpawned(t, in) // killed mid-test
	logs := &syncBuffer{}
	s := newStack(t, Config{Redis: in, RateLimit: server.Rate{Events: 5, Per: time.Minute, Burst: 5},
		KeyPrefix: "rlfault:", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	allowed := func(key string, n int) int {
		ok := 0
		for range n {
			d, err := s.Limiter.Allow(context.Background(), key)
			if err != nil {
				t.Fatalf("limiter failed: %v", err)
			}
			if d.Allowed {
				ok++
			}
		}
		return ok
	}
	if got := allowed("a", 8); got != 5 {
		t.Fatalf("Redis up: %d of 8 allowed, want 5", got)
	}
	in.Kill()
	if got := allowed("b", 20); got != 5 {
		t.Fatalf("Redis down: %d of 20 allowed, want the limit (5) held in process", got)
	}
	if n := strings.Count(logs.String(), "rate limiter failed"); n != 1 {
		t.Errorf("Redis down: %d failure log lines for 20 decisions, want 1", n)
	}
	rl := s.Stats()["rate_limit"].(map[string]any)
	if rl["local_fallbacks"] != int64(20) || rl["backend"] != "redis" {
		t.Errorf("rate_limit stats = %v", rl)
	}
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := s.Limiter.(*server.FallbackLimiter).Fallbacks()
		allowed("c", 1)
		if s.Limiter.(*server.FallbackLimiter).Fallbacks() == before {
			break // Redis answered
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis back, but the limiter still falls back after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
