package grpcsrv

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/store"
)

// hitCatalog marks every GetProduct as a cache hit, standing in for a cache
// decorator.
type hitCatalog struct{ domain.Catalog }

func (c hitCatalog) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
	if domain.Bypass(ctx) {
		domain.CacheTraceFrom(ctx).Mark(domain.CacheBypass)
	}
	return c.Catalog.GetProduct(ctx, id)
}

func testCatalog(t *testing.T) domain.Catalog {
	t.Helper()
	ds := domain.Generate(1, domain.Counts{Users: 10, Products: 50, ReviewsPerProduct: 1})
	return store.New(ds, store.Options{Latency: store.Off, PerRow: store.Off})
}

type fixture struct {
	srv    *Server
	cc     *grpc.ClientConn
	client pb.ShopServiceClient // logged in as user 1 (the admin): every call carries its token
	anon   pb.ShopServiceClient // no token
	token  string
}

// newFixture serves a Server over bufconn and returns a connected client.
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	if opts.Catalog == nil {
		cat := testCatalog(t)
		opts.Catalog = hitCatalog{cat}
		if opts.Login == nil {
			opts.Login = cat.(domain.Authenticator)
		}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln := bufconn.Listen(1 << 20)
	if err := s.Serve(ln); err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: s}
	withToken := func(ctx context.Context) context.Context {
		if f.token == "" || len(metadata.ValueFromOutgoingContext(ctx, MDAuthorization)) > 0 {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, MDAuthorization, "Bearer "+f.token)
	}
	dial := func(opts ...grpc.DialOption) *grpc.ClientConn {
		cc, err := grpc.NewClient("passthrough:///bufnet", append([]grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	f.cc = dial(
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, o ...grpc.CallOption) error {
			return inv(withToken(ctx), m, req, reply, cc, o...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, d *grpc.StreamDesc, cc *grpc.ClientConn, m string, st grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
			return st(withToken(ctx), d, cc, m, o...)
		}))
	f.client, f.anon = pb.NewShopServiceClient(f.cc), pb.NewShopServiceClient(dial())
	t.Cleanup(func() { _ = s.Close() })
	// A token issued directly: a Login call would count against rate
	// limits, and the anon client connects only when a test uses it.
	tok, err := s.opts.Auth.Issue(testCtx(t), domain.AdminUserID)
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok.Value
	return f
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGetProductHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-request-id", "abc-123")
	var hdr metadata.MD
	resp, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 7, PadBytes: 100}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetProduct().GetId() != 7 || resp.GetProduct().GetName() == "" {
		t.Errorf("product = %v", resp.GetProduct())
	}
	if n := len(resp.GetProduct().GetPadding()); n != 100 {
		t.Errorf("padding = %d bytes, want 100", n)
	}
	if got := hdr.Get("x-request-id"); len(got) != 1 || got[0] != "abc-123" {
		t.Errorf("x-request-id = %v, want echo of abc-123", got)
	}
	if got := hdr.Get("x-cache"); len(got) != 1 || got[0] != "HIT" {
		t.Errorf("x-cache = %v, want HIT", got)
	}

	// No client id: the server makes one. cache-control: no-cache bypasses.
	ctx = metadata.AppendToOutgoingContext(testCtx(t), "cache-control", "no-cache")
	hdr = nil
	if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 7}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("x-request-id"); len(got) != 1 || got[0] == "" || got[0] == "abc-123" {
		t.Errorf("generated x-request-id = %v", got)
	}
	if got := hdr.Get("x-cache"); len(got) != 1 || got[0] != "BYPASS" {
		t.Errorf("x-cache with no-cache = %v, want BYPASS", got)
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{MaxPadBytes: 1000})
	ctx := testCtx(t)
	cases := []struct {
		req  *pb.GetProductRequest
		want codes.Code
	}{
		{&pb.GetProductRequest{Id: 999999}, codes.NotFound},
		{&pb.GetProductRequest{Id: 0}, codes.InvalidArgument},
		{&pb.GetProductRequest{Id: 1, PadBytes: 1001}, codes.InvalidArgument},
	}
	for _, c := range cases {
		_, err := f.client.GetProduct(ctx, c.req)
		if status.Code(err) != c.want {
			t.Errorf("GetProduct(%v) = %v, want %v", c.req, err, c.want)
		}
	}
	st := f.srv.Stats()
	cs := st["codes"].(map[string]any)
	if cs["NotFound"] != int64(1) || cs["InvalidArgument"] != int64(2) {
		t.Errorf("codes = %v", cs)
	}
}

func TestToStatusTable(t *testing.T) {
	t.Parallel()
	for dc, want := range codeOf {
		err := toStatus(domain.Errorf(dc, "boom %s", dc))
		if status.Code(err) != want {
			t.Errorf("%s -> %v, want %v", dc, status.Code(err), want)
		}
		if want != codes.Internal && !strings.Contains(status.Convert(err).Message(), "boom") {
			t.Errorf("%s: message %q lost", dc, status.Convert(err).Message())
		}
	}
	if got := status.Convert(toStatus(errors.New("secret db detail"))); got.Code() != codes.Internal || strings.Contains(got.Message(), "secret") {
		t.Errorf("plain error -> %v", got)
	}
	if got := status.Code(toStatus(context.DeadlineExceeded)); got != codes.DeadlineExceeded {
		t.Errorf("deadline -> %v", got)
	}
}

func TestListProductsStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testCtx(t)
	var hdr metadata.MD
	st, err := f.client.ListProducts(ctx, &pb.ListProductsRequest{PageSize: 10, Offset: 5}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.GetTotal() != 50 || !m.GetSentAt().IsValid() {
			t.Errorf("message %v: want total 50 and a sent_at", m)
		}
		ids = append(ids, m.GetProduct().GetId())
	}
	if len(ids) != 10 || ids[0] != 6 || ids[9] != 15 {
		t.Errorf("ids = %v, want 6..15", ids)
	}
	if len(hdr.Get("x-request-id")) != 1 || len(hdr.Get("x-cache")) != 1 {
		t.Errorf("stream header = %v", hdr)
	}
	bad, err := f.client.ListProducts(ctx, &pb.ListProductsRequest{Offset: -1})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("offset -1: %v, want InvalidArgument", err)
	}
}

func TestUploadReviews(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testCtx(t)
	st, err := f.client.UploadReviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 250 // three store batches
	for i := range n {
		r := &pb.UploadReviewsRequest{ProductId: int64(1 + i%50), AuthorId: int64(i % 2), Rating: int32(1 + i%5), Text: "ok", SentAt: timestamppb.Now()}
		if err := st.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if sum.GetReceived() != n || sum.GetCreated() != n || sum.GetAverageRating() != 3 || sum.GetLastId()-sum.GetFirstId() != n-1 {
		t.Errorf("summary = %v", sum)
	}

	st, err = f.client.UploadReviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&pb.UploadReviewsRequest{ProductId: 1, AuthorId: 1, Rating: 9})
	if _, err := st.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("rating 9: %v, want InvalidArgument", err)
	}
}

func TestWatchPrices(t *testing.T) {
	t.Parallel()
	feed := domain.NewFeed()
	f := newFixture(t, Options{Feed: feed})
	ctx := testCtx(t)
	st, err := f.client.WatchPrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent := timestamppb.New(time.Unix(1700000000, 42))
	if err := st.Send(&pb.WatchPricesRequest{ProductIds: []int64{3, 4}, SentAt: sent}); err != nil {
		t.Fatal(err)
	}
	ack, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ack.GetSubscribed() != 2 || !ack.GetRequestSentAt().AsTime().Equal(sent.AsTime()) || !ack.GetSentAt().IsValid() {
		t.Fatalf("ack = %v", ack)
	}
	// The subscription is registered before the ack is sent, so these
	// publishes cannot be missed; product 5 is not subscribed.
	feed.PublishProduct(domain.Product{ID: 5, Price: 1})
	feed.PublishProduct(domain.Product{ID: 4, Price: 9.5, Version: 3})
	m, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if m.GetProductId() != 4 || m.GetPrice() != 9.5 || m.GetVersion() != 3 || !m.GetSentAt().IsValid() || m.GetRequestSentAt() != nil {
		t.Errorf("change = %v", m)
	}
	if err := st.Send(&pb.WatchPricesRequest{ProductIds: []int64{5}}); err != nil {
		t.Fatal(err)
	}
	if ack, err = st.Recv(); err != nil || ack.GetSubscribed() != 3 {
		t.Fatalf("second ack = %v, %v", ack, err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want EOF (clean end)", err)
	}
}

func TestReflectionAndHealth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testCtx(t)

	hc := healthpb.NewHealthClient(f.cc)
	for _, svc := range []string{"", "loadrig.v1.ShopService"} {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q = %v, %v", svc, r, err)
		}
	}

	rc, err := reflectionpb.NewServerReflectionClient(f.cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	got := strings.Join(names, ",")
	for _, want := range []string{"loadrig.v1.ShopService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(got, want) {
			t.Errorf("reflection services %q lack %s", got, want)
		}
	}
	_ = rc.CloseSend()

	ra, err := reflectionalphapb.NewServerReflectionClient(f.cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ra.Send(&reflectionalphapb.ServerReflectionRequest{MessageRequest: &reflectionalphapb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "loadrig.v1.ShopService"}}); err != nil {
		t.Fatal(err)
	}
	ar, err := ra.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("v1alpha reflection returned no descriptor: %v", ar)
	}
	_ = ra.CloseSend()
}

func TestMaxRecvSize(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{MaxRecvMsgSize: 1024})
	st, err := f.client.UploadReviews(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&pb.UploadReviewsRequest{ProductId: 1, AuthorId: 1, Rating: 5, Text: strings.Repeat("x", 2000)})
	if _, err := st.CloseAndRecv(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized message: %v, want ResourceExhausted", err)
	}
}

func TestAdminStatsAndShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{ExtraStats: func() map[string]any { return map[string]any{"store": map[string]any{"calls": int64(1)}} }})
	ctx := testCtx(t)
	for range 3 {
		if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 1}); err != nil {
			t.Fatal(err)
		}
	}
	st := f.srv.Stats()
	if c := st["connections"].(map[string]int64); c["active"] != 1 || c["total"] != 1 {
		t.Errorf("connections = %v", c)
	}
	if r := st["rpcs"].(map[string]any)["GetProduct"].(map[string]any); r["calls"] != int64(3) || r["errors"] != int64(0) {
		t.Errorf("GetProduct stats = %v", r)
	}
	if x := st["x_cache"].(map[string]any); x["HIT"] != int64(3) {
		t.Errorf("x_cache = %v", x)
	}
	if s := st["streams"].(map[string]any); s["total"].(int64) < 3 {
		t.Errorf("streams = %v", s)
	}
	if st["store"] == nil {
		t.Error("ExtraStats section missing")
	}

	// A health call lands in rpcs_other, and /metrics still exports rpcs.
	if _, err := healthpb.NewHealthClient(f.cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Stats()["rpcs_other"].(map[string]any)["/grpc.health.v1.Health/Check"]; n != int64(1) {
		t.Errorf("rpcs_other health calls = %v", n)
	}
	h := f.srv.AdminHandler()
	for path, want := range map[string]string{"/stats": `"GetProduct"`, "/metrics": "loadrig_rpcs_GetProduct_calls 3\n", "/healthz": "ok"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s = %d, body lacks %q:\n%s", path, rec.Code, want, rec.Body.String())
		}
	}

	// A WatchPrices stream stays open; Shutdown's deadline ends it.
	ws, err := f.client.WatchPrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Send(&pb.WatchPricesRequest{})
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.srv.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with an open stream = %v, want deadline exceeded", err)
	}
	if _, err := ws.Recv(); err == nil {
		t.Error("stream still open after Shutdown")
	}
	select {
	case <-f.srv.Done():
	default:
		t.Error("Done not closed after Shutdown")
	}
}

func TestListenerAccounting(t *testing.T) {
	t.Parallel()
	for _, lean := range []bool{false, true} {
		f := newFixture(t, Options{ListenerAccounting: lean})
		ctx := testCtx(t)
		for range 3 {
			if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 2}); err != nil {
				t.Fatal(err)
			}
		}
		st := f.srv.Stats()
		if c := st["connections"].(map[string]int64); c["active"] != 1 || c["total"] != 1 {
			t.Errorf("lean=%v: connections = %v", lean, c)
		}
		if s := st["streams"].(map[string]any); s["total"] != int64(3) || s["active"] != int64(0) {
			t.Errorf("lean=%v: streams = %v", lean, s)
		}
		if w := st["wire_bytes"].(map[string]any); w["received"].(int64) <= 0 || w["sent"].(int64) <= 0 {
			t.Errorf("lean=%v: wire bytes = %v", lean, w)
		}
		if _, has := st["messages"]; has == lean {
			t.Errorf("lean=%v: messages section present = %v", lean, has)
		}
		_ = f.cc.Close()
		// The server sees the close asynchronously.
		deadline := time.Now().Add(5 * time.Second)
		for f.srv.Conns().Active() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := f.srv.Conns().Active(); n != 0 {
			t.Errorf("lean=%v: %d connections active after the client closed", lean, n)
		}
	}
}
