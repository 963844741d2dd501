package grpcsrv

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/server"
)

// limiter applies a server.Limiter per client IP to ShopService calls, with
// the REST server's semantics: a denied call fails (ResourceExhausted here,
// 429 there) with a retry-after header in whole seconds, and a limiter
// failure lets the call through and is counted.
type limiter struct {
	l                 server.Limiter
	log               *slog.Logger
	limited, failures atomic.Int64
}

// peerKey is the client's IP address (the whole address when it has no
// port, e.g. bufconn).
func peerKey(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	a := p.Addr.String()
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return a
}

// allow returns nil when the call may proceed, else the status error;
// setHeader sends the retry-after header.
func (l *limiter) allow(ctx context.Context, setHeader func(metadata.MD) error) error {
	d, err := l.l.Allow(ctx, peerKey(ctx))
	if err != nil {
		l.failures.Add(1)
		l.log.WarnContext(ctx, "rate limiter failed; letting the call through", "err", err)
		return nil
	}
	if d.Allowed {
		return nil
	}
	l.limited.Add(1)
	secs := int((d.RetryAfter + time.Second - 1) / time.Second)
	_ = setHeader(metadata.Pairs("retry-after", strconv.Itoa(max(secs, 1))))
	return status.Errorf(codes.ResourceExhausted, "rate limit exceeded; retry in %v", d.RetryAfter.Round(time.Millisecond))
}

func (l *limiter) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, shopPrefix) {
		if err := l.allow(ctx, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) }); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

func (l *limiter) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, shopPrefix) {
		if err := l.allow(ss.Context(), ss.SetHeader); err != nil {
			return err
		}
	}
	return h(srv, ss)
}
