package grpcsrv

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/server"
)

// Metadata keys the server reads and writes.
const (
	// MDRequestID carries the request id both ways: a valid client id is
	// echoed, otherwise the server makes one.
	MDRequestID = "x-request-id"
	// MDCache is the response header with the call's cache status (HIT,
	// MISS, STALE, BYPASS), the gRPC twin of REST's X-Cache.
	MDCache = "x-cache"
	// MDCacheControl "no-cache" on a request bypasses the server-side cache.
	MDCacheControl = "cache-control"
)

// serverStream overrides the context of a grpc.ServerStream.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// requestID returns the id for a call: the client's when valid, else a new one.
func requestID(ctx context.Context, ids *server.RequestIDs) string {
	// ValueFromIncomingContext copies one key's values; FromIncomingContext
	// would copy the whole metadata on every call.
	if v := metadata.ValueFromIncomingContext(ctx, MDRequestID); len(v) > 0 && server.ValidRequestID(v[0]) {
		return v[0]
	}
	return ids.Next()
}

func requestIDUnary(ids *server.RequestIDs) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id := requestID(ctx, ids)
		_ = grpc.SetHeader(ctx, metadata.MD{MDRequestID: []string{id}})
		return h(server.WithRequestID(ctx, id), req)
	}
}

func requestIDStream(ids *server.RequestIDs) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx := ss.Context()
		id := requestID(ctx, ids)
		_ = ss.SetHeader(metadata.MD{MDRequestID: []string{id}})
		return h(srv, &serverStream{ServerStream: ss, ctx: server.WithRequestID(ctx, id)})
	}
}

// logCall writes the per-call debug line; the level check keeps the
// disabled case free of allocations.
func logCall(ctx context.Context, log *slog.Logger, method string, err error, d time.Duration) {
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	st := status.Convert(err)
	log.LogAttrs(ctx, slog.LevelDebug, "rpc", slog.String("method", method),
		slog.String("code", st.Code().String()), slog.Duration("duration", d))
}

func observeUnary(a *accounting, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		a.begin()
		resp, err := h(ctx, req)
		a.end()
		d := time.Since(start)
		a.record(info.FullMethod, status.Code(err), d)
		logCall(ctx, log, info.FullMethod, err, d)
		return resp, err
	}
}

func observeStream(a *accounting, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		a.begin()
		err := h(srv, ss)
		a.end()
		d := time.Since(start)
		a.record(info.FullMethod, status.Code(err), d)
		logCall(ss.Context(), log, info.FullMethod, err, d)
		return err
	}
}

// cacheContext attaches a fresh CacheTrace and honours cache-control:
// no-cache.
func cacheContext(ctx context.Context, tr *domain.CacheTrace) context.Context {
	ctx = domain.WithCacheTrace(ctx, tr)
	for _, v := range metadata.ValueFromIncomingContext(ctx, MDCacheControl) {
		if v == "no-cache" {
			return domain.WithBypass(ctx)
		}
	}
	return ctx
}

// cacheMD holds the x-cache header of each status, built once: grpc-go
// only reads the metadata passed to SetHeader (it joins it into the
// stream's header), so one shared, never modified MD per status saves
// building one per call.
var cacheMD = func() (m [domain.CacheBypass + 1]metadata.MD) {
	for i := range m {
		m[i] = metadata.MD{MDCache: []string{domain.CacheStatus(i).String()}}
	}
	return m
}()

// shopPrefix starts the full method names of the ShopService: only its calls
// touch the catalog and carry a cache status.
var shopPrefix = "/" + pb.ShopService_ServiceDesc.ServiceName + "/"

// cacheUnary reports the call's cache status in the x-cache header; unary
// headers go out after the handler returns, so the final status is known.
func cacheUnary(a *accounting) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, shopPrefix) {
			return h(ctx, req)
		}
		tr := new(domain.CacheTrace)
		resp, err := h(cacheContext(ctx, tr), req)
		st := tr.Status()
		a.cache(st)
		_ = grpc.SetHeader(ctx, cacheMD[st])
		return resp, err
	}
}

// cacheStream reports the cache status in the header that leaves with the
// first response message, and counts that status once per stream.
func cacheStream(a *accounting) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !strings.HasPrefix(info.FullMethod, shopPrefix) {
			return h(srv, ss)
		}
		tr := new(domain.CacheTrace)
		cs := &cacheServerStream{ServerStream: ss, ctx: cacheContext(ss.Context(), tr), tr: tr, acct: a}
		err := h(srv, cs)
		if !cs.headerSet {
			cs.setHeader()
		}
		return err
	}
}

type cacheServerStream struct {
	grpc.ServerStream
	ctx       context.Context
	tr        *domain.CacheTrace
	acct      *accounting
	headerSet bool
}

func (s *cacheServerStream) Context() context.Context { return s.ctx }

func (s *cacheServerStream) setHeader() {
	s.headerSet = true
	st := s.tr.Status()
	s.acct.cache(st)
	_ = s.ServerStream.SetHeader(cacheMD[st])
}

func (s *cacheServerStream) SendMsg(m any) error {
	if !s.headerSet {
		s.setHeader()
	}
	return s.ServerStream.SendMsg(m)
}
