package grpcsrv

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
)

// TestLoginAndUploadAuth: Login issues a token; UploadReviews without one
// is Unauthenticated, with a bad one too; with a customer's token the
// reviews are the customer's (author_id 0 or the customer's own id), and a
// message naming another author is PermissionDenied.
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
		_ = st.Send(&pb.UploadReviewsRequest{ProductId: 7, Rating: 4, Text: "mine"})
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
		t.Errorf("stored review %+v: want author 2 (the token's)", last)
	}
}

// TestUploadForeignAuthor: REST answers 403 when an order names another
// user; gRPC alike: a review naming another author ends the stream with
// PermissionDenied and stores nothing of that message, the token's own id
// is accepted, a negative id is InvalidArgument.
func TestUploadForeignAuthor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testCtx(t)
	lr, err := f.anon.Login(ctx, &pb.LoginRequest{Email: "user2@example.com", Password: domain.SeedPassword})
	if err != nil {
		t.Fatal(err)
	}
	as2 := metadata.AppendToOutgoingContext(ctx, MDAuthorization, "Bearer "+lr.GetToken())
	count := func() int {
		rs, err := f.srv.opts.Catalog.ProductReviews(ctx, 11, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	upload := func(msgs ...*pb.UploadReviewsRequest) (*pb.UploadReviewsResponse, error) {
		st, err := f.anon.UploadReviews(as2)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if err := st.Send(m); err != nil {
				break // the server ended the stream; CloseAndRecv has its status
			}
		}
		return st.CloseAndRecv()
	}
	before := count()
	_, err = upload(&pb.UploadReviewsRequest{ProductId: 11, AuthorId: 5, Rating: 4, Text: "not mine"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "user 5") {
		t.Fatalf("author 5 with user 2's token: %v, want PermissionDenied naming user 5", err)
	}
	// The admin's id is foreign too: the author is never chosen by the body.
	if _, err := upload(&pb.UploadReviewsRequest{ProductId: 11, AuthorId: 1, Rating: 4, Text: "admin's"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("author 1 with user 2's token: %v, want PermissionDenied", err)
	}
	if _, err := upload(&pb.UploadReviewsRequest{ProductId: 11, AuthorId: -3, Rating: 4}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("author -3: %v, want InvalidArgument", err)
	}
	if n := count(); n != before {
		t.Fatalf("%d reviews stored by refused streams", n-before)
	}
	sum, err := upload(
		&pb.UploadReviewsRequest{ProductId: 11, AuthorId: 2, Rating: 5, Text: "own id"},
		&pb.UploadReviewsRequest{ProductId: 11, Rating: 3, Text: "no id"})
	if err != nil || sum.GetCreated() != 2 {
		t.Fatalf("own id and no id: %v, %v", sum, err)
	}
	rs, err := f.srv.opts.Catalog.ProductReviews(ctx, 11, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[before:] {
		if r.AuthorID != 2 {
			t.Errorf("stored review %+v: want author 2", r)
		}
	}
}
