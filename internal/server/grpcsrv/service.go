package grpcsrv

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loadrig/loadrig/internal/domain"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/server"
)

const (
	// reviewBatch is how many uploaded reviews go to the store in one
	// CreateReviews call: one store round trip per batch, not per review.
	reviewBatch = 100
	// watchBuffer is a WatchPrices subscription's buffer; a slower client
	// loses changes (domain.Feed drops rather than blocks publishers).
	watchBuffer = 256
	// watchRequests buffers subscription messages between the receiving
	// goroutine and the sending loop.
	watchRequests = 16
)

// shopService implements pb.ShopServiceServer over a domain.Catalog.
// Handlers return gRPC status errors (toStatus maps domain errors).
type shopService struct {
	pb.UnimplementedShopServiceServer
	cat    domain.Catalog
	feed   *domain.Feed
	maxPad int
	log    *slog.Logger

	maxMsgs int // client messages per stream
	maxIDs  int // ids per WatchPrices subscription

	auth  server.Authenticator
	login domain.Authenticator // nil: Login is Unavailable

	padOnce sync.Once
	pad     []byte // maxPad filler bytes, shared read-only by every response
}

// padding returns n filler bytes (a read-only view of one shared buffer).
func (s *shopService) padding(n int32) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n < 0 || int(n) > s.maxPad {
		return nil, status.Errorf(codes.InvalidArgument, "pad_bytes must be 0..%d, got %d", s.maxPad, n)
	}
	s.padOnce.Do(func() {
		s.pad = make([]byte, s.maxPad)
		for i := range s.pad {
			s.pad[i] = 'a' + byte(i%26)
		}
	})
	return s.pad[:n:n], nil
}

// productPB converts a domain product.
func productPB(p domain.Product, pad []byte) *pb.Product {
	return &pb.Product{
		Id:          p.ID,
		Name:        p.Name,
		Description: p.Description,
		Category:    p.Category,
		Price:       p.Price,
		Stock:       p.Stock,
		Version:     p.Version,
		UpdatedAt:   timestamppb.New(p.UpdatedAt),
		Padding:     pad,
	}
}

// GetProduct implements the unary call.
func (s *shopService) GetProduct(ctx context.Context, req *pb.GetProductRequest) (*pb.GetProductResponse, error) {
	if req.GetId() <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "id must be a positive product id, got %d", req.GetId())
	}
	pad, err := s.padding(req.GetPadBytes())
	if err != nil {
		return nil, err
	}
	if req.GetBypassCache() {
		ctx = domain.WithBypass(ctx)
	}
	p, err := s.cat.GetProduct(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetProductResponse{Product: productPB(p, pad)}, nil
}

// ListProducts implements the server-streaming call: one message per
// product of the page, each stamped with its send time.
func (s *shopService) ListProducts(req *pb.ListProductsRequest, stream pb.ShopService_ListProductsServer) error {
	pad, err := s.padding(req.GetPadBytes())
	if err != nil {
		return err
	}
	ctx := stream.Context()
	page, err := s.cat.ListProducts(ctx, domain.ProductFilter{
		Category: req.GetCategory(),
		Offset:   int(req.GetOffset()),
		Limit:    int(req.GetPageSize()),
	})
	if err != nil {
		return toStatus(err)
	}
	var msg pb.ListProductsResponse
	for _, p := range page.Products {
		msg.Product = productPB(p, pad)
		msg.Total = int32(page.Total)
		msg.SentAt = timestamppb.Now()
		if err := stream.Send(&msg); err != nil {
			return err
		}
	}
	return nil
}

// UploadReviews implements the client-streaming call: reviews are stored in
// batches of reviewBatch as they arrive, and the summary is sent when the
// client closes its side. A rejected batch ends the call with its error;
// the batches before it stay stored.
func (s *shopService) UploadReviews(stream pb.ShopService_UploadReviewsServer) error {
	ctx := stream.Context()
	who, err := s.principal(ctx)
	if err != nil {
		return err
	}
	var (
		sum  pb.UploadReviewsResponse
		rsum float64
		buf  = make([]domain.NewReview, 0, reviewBatch)
	)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		made, err := s.cat.CreateReviews(ctx, buf)
		if err != nil {
			return toStatus(err)
		}
		for _, r := range made {
			if sum.FirstId == 0 {
				sum.FirstId = r.ID
			}
			sum.LastId = r.ID
			rsum += float64(r.Rating)
		}
		sum.Created += int32(len(made))
		buf = buf[:0]
		return nil
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if int(sum.Received) >= s.maxMsgs {
			if err := flush(); err != nil {
				return err
			}
			return status.Errorf(codes.ResourceExhausted, "at most %d reviews per UploadReviews stream; %d were stored (ids %d..%d); send the rest on a new stream",
				s.maxMsgs, sum.Created, sum.FirstId, sum.LastId)
		}
		sum.Received++
		if err := domain.ValidateReviewText(m.GetText()); err != nil {
			return toStatus(err)
		}
		// The author is the token's user: author_id may be left 0 or name
		// that user; naming anyone else is refused, as REST refuses an
		// order's foreign user_id (403).
		if a := m.GetAuthorId(); a < 0 {
			return status.Errorf(codes.InvalidArgument, "author_id must be a positive integer or 0 (got %d)", a)
		} else if a != 0 && a != who.UserID {
			return status.Errorf(codes.PermissionDenied, "reviews are written by the logged-in user (%d), not user %d; drop author_id or log in as that user", who.UserID, a)
		}
		buf = append(buf, domain.NewReview{ProductID: m.GetProductId(), AuthorID: who.UserID, Rating: m.GetRating(), Text: m.GetText()})
		if len(buf) == reviewBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if sum.Created > 0 {
		sum.AverageRating = rsum / float64(sum.Created)
	}
	return stream.SendAndClose(&sum)
}

// WatchPrices implements the bidirectional call. The first request opens
// the subscription (its product_ids, or every product when empty); every
// request, the first included, is acknowledged with the subscription size
// and its own sent_at echoed in request_sent_at, so a client can match
// requests and responses. In between, each change of a subscribed product
// is pushed as it is published to the feed. The call ends when the client
// closes its side (the server then returns OK) or cancels.
func (s *shopService) WatchPrices(stream pb.ShopService_WatchPricesServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	all := len(first.GetProductIds()) == 0
	if len(first.GetProductIds()) > s.maxIDs {
		return status.Errorf(codes.ResourceExhausted, "at most %d product ids per WatchPrices subscription, got %d", s.maxIDs, len(first.GetProductIds()))
	}
	msgs := 1
	ids := map[int64]struct{}{}
	for _, id := range first.GetProductIds() {
		ids[id] = struct{}{}
	}
	sub := s.feed.Subscribe(domain.TopicProducts, watchBuffer, first.GetProductIds()...)
	defer sub.Close()

	reqs := make(chan *pb.WatchPricesRequest, watchRequests)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case reqs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	var out pb.WatchPricesResponse
	ack := func(m *pb.WatchPricesRequest) error {
		out.Reset()
		out.Subscribed = int32(len(ids))
		out.RequestSentAt = m.GetSentAt()
		out.SentAt = timestamppb.Now()
		return stream.Send(&out)
	}
	if err := ack(first); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return toStatus(ctx.Err())
		case err := <-recvErr:
			if !errors.Is(err, io.EOF) {
				return err
			}
			// The receiver queued every request before it saw EOF:
			// acknowledge the ones still waiting, then end cleanly.
			for {
				select {
				case m := <-reqs:
					if err := ack(m); err != nil {
						return err
					}
				default:
					return nil
				}
			}
		case m := <-reqs:
			if msgs++; msgs > s.maxMsgs {
				return status.Errorf(codes.ResourceExhausted, "at most %d messages per WatchPrices stream", s.maxMsgs)
			}
			if !all && len(ids)+len(m.GetProductIds()) > s.maxIDs {
				return status.Errorf(codes.ResourceExhausted, "at most %d product ids per WatchPrices subscription", s.maxIDs)
			}
			if !all && len(m.GetProductIds()) > 0 {
				sub.Add(m.GetProductIds()...)
				for _, id := range m.GetProductIds() {
					ids[id] = struct{}{}
				}
			}
			if err := ack(m); err != nil {
				return err
			}
		case <-sub.Done():
			// The broker dropped this stream as too slow to keep up.
			return status.Error(codes.ResourceExhausted, sub.Err().Error())
		case c := <-sub.C():
			if c.Product == nil || c.Kind != domain.KindProductUpdated {
				continue
			}
			out.Reset()
			out.ProductId = c.Product.ID
			out.Price = c.Product.Price
			out.Stock = c.Product.Stock
			out.Version = c.Product.Version
			out.SentAt = timestamppb.Now()
			if err := stream.Send(&out); err != nil {
				return err
			}
		}
	}
}

// MDAuthorization is the request metadata key of the bearer token.
const MDAuthorization = "authorization"

// principal authenticates a call from its "authorization: Bearer <token>"
// metadata: Unauthenticated without a valid token.
func (s *shopService) principal(ctx context.Context) (domain.Principal, error) {
	v := metadata.ValueFromIncomingContext(ctx, MDAuthorization)
	if len(v) == 0 || len(v[0]) <= 7 || !strings.EqualFold(v[0][:7], "bearer ") {
		return domain.Principal{}, status.Error(codes.Unauthenticated,
			"this call needs \"authorization: Bearer <token>\" metadata; get a token from loadrig.v1.ShopService/Login")
	}
	uid, err := s.auth.Verify(ctx, strings.TrimSpace(v[0][7:]))
	if err != nil {
		return domain.Principal{}, toStatus(err)
	}
	return domain.PrincipalOf(uid), nil
}

// Login implements the unary call: the REST login's twin.
func (s *shopService) Login(ctx context.Context, req *pb.LoginRequest) (*pb.LoginResponse, error) {
	if s.login == nil {
		return nil, status.Error(codes.Unavailable, "login is not available on this server")
	}
	if req.GetEmail() == "" || req.GetPassword() == "" {
		return nil, status.Error(codes.InvalidArgument, "email and password are required")
	}
	u, err := s.login.Authenticate(ctx, req.GetEmail(), req.GetPassword())
	if err != nil {
		return nil, toStatus(err)
	}
	tok, err := s.auth.Issue(ctx, u.ID)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LoginResponse{Token: tok.Value, Scheme: s.auth.Kind(), ExpiresAt: timestamppb.New(tok.ExpiresAt), UserId: u.ID}, nil
}
