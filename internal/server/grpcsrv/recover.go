package grpcsrv

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recovery turns a handler panic into codes.Internal: the call fails, the
// server lives on (grpc-go would otherwise crash the process). Panics are
// counted and logged with their stack.
type recovery struct {
	log    *slog.Logger
	panics atomic.Int64
}

func (rc *recovery) recovered(ctx context.Context, method string, v any, err *error) {
	rc.panics.Add(1)
	rc.log.ErrorContext(ctx, "panic in handler", "method", method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	*err = status.Error(codes.Internal, "internal error")
}

func (rc *recovery) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			rc.recovered(ctx, info.FullMethod, v, &err)
			resp = nil
		}
	}()
	return h(ctx, req)
}

func (rc *recovery) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			rc.recovered(ss.Context(), info.FullMethod, v, &err)
		}
	}()
	return h(srv, ss)
}
