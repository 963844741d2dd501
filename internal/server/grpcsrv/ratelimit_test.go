package grpcsrv

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/server"
)

// fakeLimiter allows the first n calls, then denies; fail makes it error.
type fakeLimiter struct {
	n    int64
	fail bool
	seen atomic.Int64
	keys atomic.Value
}

func (l *fakeLimiter) Allow(_ context.Context, key string) (server.Decision, error) {
	l.keys.Store(key)
	if l.fail {
		return server.Decision{}, errors.New("limiter down")
	}
	if l.seen.Add(1) > l.n {
		return server.Decision{RetryAfter: 1500 * time.Millisecond}, nil
	}
	return server.Decision{Allowed: true}, nil
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	lim := &fakeLimiter{n: 2}
	f := newFixture(t, Options{Limiter: lim})
	ctx := testCtx(t)
	for range 2 {
		if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var hdr metadata.MD
	_, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 1}, grpc.Header(&hdr))
	if status.Code(err) != codes.ResourceExhausted || len(hdr.Get("retry-after")) != 1 || hdr.Get("retry-after")[0] != "2" {
		t.Errorf("third call: %v, header %v; want ResourceExhausted with retry-after 2", err, hdr)
	}
	st, err := f.client.ListProducts(ctx, &pb.ListProductsRequest{})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("stream when limited: %v", err)
	}
	// Health and reflection are not limited.
	if _, err := healthpb.NewHealthClient(f.cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health limited: %v", err)
	}
	if got := f.srv.Stats()["rate_limit_grpc"].(map[string]any)["limited"]; got != int64(2) {
		t.Errorf("limited = %v, want 2", got)
	}

	failing := &fakeLimiter{fail: true}
	f = newFixture(t, Options{Limiter: failing})
	if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 1}); err != nil {
		t.Errorf("a failing limiter must let calls through: %v", err)
	}
	if got := f.srv.Stats()["rate_limit_grpc"].(map[string]any)["limiter_errors"]; got != int64(1) {
		t.Errorf("limiter_errors = %v, want 1", got)
	}
}
