package grpcsrv

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
)

// TestLoginAndUploadAuth: Login issues a token; UploadReviews without one
// is Unauthenticated, with a bad one too; with a customer's token the
// reviews are the customer's, whatever author_id says.
func TestLoginAndUploadAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testCtx(t)
	if _, err := f.anon.Login(ctx, &pb.LoginRequest{Email: "user2@example.com", Password: "wrong"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	lr, err := f.anon.Login(ctx, &pb.LoginRequest{Email: "user2@example.com", Password: domain.SeedPassword})
	if err != nil || lr.GetUserId() != 2 || lr.GetToken() == "" || lr.GetScheme() != "jwt" {
		t.Fatalf("login: %v, %v", lr, err)
	}
	upload := func(st pb.ShopService_UploadReviewsClient, err error) (*pb.UploadReviewsResponse, error) {
		if err != nil {
			return nil, err
		}
		_ = st.Send(&pb.UploadReviewsRequest{ProductId: 7, AuthorId: 5, Rating: 4, Text: "mine"})
		return st.CloseAndRecv()
	}
	if _, err := upload(f.anon.UploadReviews(ctx)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, MDAuthorization, "Bearer not.a.token")
	if _, err := upload(f.anon.UploadReviews(bad)); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("bad token: %v", err)
	}
	as2 := metadata.AppendToOutgoingContext(ctx, MDAuthorization, "Bearer "+lr.GetToken())
	sum, err := upload(f.anon.UploadReviews(as2))
	if err != nil || sum.GetCreated() != 1 {
		t.Fatalf("with a token: %v, %v", sum, err)
	}
	rs, err := f.srv.opts.Catalog.ProductReviews(ctx, 7, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if last := rs[len(rs)-1]; last.Text != "mine" || last.AuthorID != 2 {
		t.Errorf("stored review %+v: want author 2 (the token's), not the body's 5", last)
	}
}
