package grpcsrv

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
)

// TestUploadReviewsBounded: a client streaming 10,000 reviews is stopped
// at the cap with ResourceExhausted and a clear message; the reviews
// before it are stored, the server keeps nothing more.
func TestUploadReviewsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{MaxStreamMessages: 1000})
	ctx := testCtx(t)
	st, err := f.client.UploadReviews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for i := range 10_000 {
		if err := st.Send(&pb.UploadReviewsRequest{ProductId: int64(1 + i%50), AuthorId: 1, Rating: 4, Text: "ok"}); err != nil {
			break // the server ended the call: Send reports io.EOF
		}
		sent++
	}
	_, err = st.CloseAndRecv()
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "at most 1000 reviews") {
		t.Fatalf("10,000 reviews: %v (sent %d), want ResourceExhausted naming the cap", err, sent)
	}
	if !strings.Contains(status.Convert(err).Message(), "1000 were stored") {
		t.Errorf("message %q does not say what was stored", status.Convert(err).Message())
	}
}

// TestReviewTextBound: a review over 4 KiB is refused as it arrives.
func TestReviewTextBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	st, err := f.client.UploadReviews(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&pb.UploadReviewsRequest{ProductId: 1, AuthorId: 1, Rating: 5, Text: strings.Repeat("x", domain.MaxReviewText+1)})
	if _, err := st.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a 4 KiB + 1 review: %v, want InvalidArgument", err)
	}
}

// TestWatchIDsBound: a subscription past the id cap ends with
// ResourceExhausted, first message or later.
func TestWatchIDsBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{MaxWatchIDs: 10})
	ids := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	ws, err := f.client.WatchPrices(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Send(&pb.WatchPricesRequest{ProductIds: ids(11)})
	if _, err := ws.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("11 ids at once: %v", err)
	}
	ws, err = f.client.WatchPrices(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Send(&pb.WatchPricesRequest{ProductIds: ids(6)})
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
	_ = ws.Send(&pb.WatchPricesRequest{ProductIds: ids(5)})
	for {
		_, err := ws.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.ResourceExhausted || errors.Is(err, io.EOF) {
			t.Fatalf("6 + 5 ids: %v", err)
		}
		break
	}
}

// panicCatalog panics on every read.
type panicCatalog struct{ domain.Catalog }

func (panicCatalog) GetProduct(context.Context, int64) (domain.Product, error) { panic("boom") }

func (panicCatalog) ListProducts(context.Context, domain.ProductFilter) (domain.ProductPage, error) {
	panic("boom")
}

// TestPanicIsInternal: a panicking handler fails its call with Internal,
// unary and streaming, and the server keeps serving.
func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Catalog: panicCatalog{testCatalog(t)}})
	ctx := testCtx(t)
	for range 3 {
		if _, err := f.client.GetProduct(ctx, &pb.GetProductRequest{Id: 1}); status.Code(err) != codes.Internal {
			t.Fatalf("GetProduct: %v, want Internal", err)
		}
	}
	ls, err := f.client.ListProducts(ctx, &pb.ListProductsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Recv(); status.Code(err) != codes.Internal {
		t.Fatalf("ListProducts: %v, want Internal", err)
	}
	// Still serving: a call that does not panic works.
	ws, err := f.client.WatchPrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Send(&pb.WatchPricesRequest{ProductIds: []int64{1}})
	if _, err := ws.Recv(); err != nil {
		t.Fatalf("after panics: %v", err)
	}
	if n := f.srv.Stats()["panics"]; n != int64(4) {
		t.Errorf("panics = %v, want 4", n)
	}
}
