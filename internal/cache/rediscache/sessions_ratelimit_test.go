package rediscache_test

import (
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

func TestSessions(t *testing.T) {
	b := newBackend(t)
	s := rediscache.NewSessions(b)
	ctx := t.Context()
	if err := s.PutSession(ctx, "abc", 42, time.Minute); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := s.GetSession(ctx, "abc"); err != nil || !ok || u != 42 {
		t.Fatalf("GetSession = %d, %v, %v", u, ok, err)
	}
	if _, ok, err := s.GetSession(ctx, "nope"); err != nil || ok {
		t.Fatalf("unknown session: ok %v, err %v", ok, err)
	}
	if ttl := b.Client().TTL(ctx, rediscache.SessionPrefix+"abc").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("session TTL = %v, want (0, 1m]", ttl)
	}
	b.Client().Set(ctx, rediscache.SessionPrefix+"bad", "x", time.Minute)
	if _, _, err := s.GetSession(ctx, "bad"); err == nil {
		t.Fatal("a corrupt session value was accepted")
	}
}

func TestRateLimiter(t *testing.T) {
	b := newBackend(t)
	// 1 event per hour with a burst of 3: the window cannot refill during
	// the test, so the outcome does not depend on timing.
	l := rediscache.NewRateLimiter(b, 1, time.Hour, 3)
	ctx := t.Context()
	for i := range 3 {
		ok, rem, _, err := l.Allow(ctx, "client-a")
		if err != nil || !ok || rem != 2-i {
			t.Fatalf("request %d: allowed %v remaining %d err %v", i, ok, rem, err)
		}
	}
	ok, _, retry, err := l.Allow(ctx, "client-a")
	if err != nil || ok || retry <= 59*time.Minute || retry > time.Hour {
		t.Fatalf("4th request: allowed %v retry %v err %v; want denied, retry ~1h", ok, retry, err)
	}
	if ok, _, _, _ := l.Allow(ctx, "client-b"); !ok {
		t.Fatal("client-b limited by client-a's traffic")
	}
}
