package gql

import (
	"context"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/loadrig/loadrig/internal/domain"
)

// resolver is the root of the hand-written resolvers (gqlgen generates
// only the executable schema and models; see gqlgen.yml).
type resolver struct{ h *Handler }

func (r *resolver) Query() QueryResolver               { return queryResolver{r.h} }
func (r *resolver) Mutation() MutationResolver         { return mutationResolver{r.h} }
func (r *resolver) Subscription() SubscriptionResolver { return subscriptionResolver{r.h} }
func (r *resolver) Product() ProductResolver           { return productResolver{r.h} }
func (r *resolver) Review() ReviewResolver             { return reviewResolver{r.h} }
func (r *resolver) User() UserResolver                 { return userResolver{r.h} }
func (r *resolver) Order() OrderResolver               { return orderResolver{r.h} }
func (r *resolver) OrderItem() OrderItemResolver       { return orderItemResolver{r.h} }

// ---- per-operation state in the context ----

type ctxKey int

const (
	opKey    ctxKey = iota // *opState
	tokenKey               // string: the bearer credential, unverified
	userKey                // int64: the verified user (set by @requireAuth)
)

// opState is one operation's store tally and loaders (nil: DataLoader off,
// or a subscription, whose events must not read an operation-long cache).
type opState struct {
	tally    domain.StoreTrace
	loaderOf *Handler // whose catalog the loaders read; nil: no loaders
	once     sync.Once
	loaders  *loaders // made on first use: most operations read no relation

	authOnce sync.Once // the credential, verified at most once per operation
	who      domain.Principal
	authErr  error

	// The POST transport (postJSON) makes the state before gqlgen sees the
	// request and aroundOperation takes it over; then the limits record
	// their measure in limits and aroundResponse leaves extensions.loadrig
	// in ext for the transport to write: two maps per request fewer
	// (gqlgen's Stats extensions, Response.Extensions) and no boxed ext.
	post   bool
	inUse  bool        // aroundOperation has taken it
	limits *limitStats // post: what the limits measured
	ext    loadrigExt  // post: extensions.loadrig, once hasExt
	hasExt bool
}

func opFrom(ctx context.Context) *opState {
	s, _ := ctx.Value(opKey).(*opState)
	return s
}

func loadersFrom(ctx context.Context) *loaders {
	s := opFrom(ctx)
	if s == nil || s.loaderOf == nil {
		return nil
	}
	s.once.Do(func() { s.loaders = newLoaders(s.loaderOf.d.Catalog, s.loaderOf.o.LoaderWait) })
	return s.loaders
}

// withToken returns ctx carrying the bearer credential of an Authorization
// value ("Bearer x"); other schemes are ignored.
func withToken(ctx context.Context, authorization string) context.Context {
	if len(authorization) > 7 && strings.EqualFold(authorization[:7], "bearer ") {
		return context.WithValue(ctx, tokenKey, strings.TrimSpace(authorization[7:]))
	}
	return ctx
}

// userFrom returns the user @requireAuth verified.
func userFrom(ctx context.Context) int64 {
	id, _ := ctx.Value(userKey).(int64)
	return id
}

// requireAuth is the @requireAuth directive: the credential in the context
// must verify, as REST's writes check it (same Authenticator).
func (h *Handler) requireAuth(ctx context.Context, _ any, next graphql.Resolver) (any, error) {
	tok, _ := ctx.Value(tokenKey).(string)
	if tok == "" {
		return nil, domain.Errorf(domain.CodeUnauthorized, "this field needs Authorization: Bearer <token>; get one with the login mutation")
	}
	id, err := h.d.Auth.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, userKey, id)
	return next(domain.WithPrincipal(ctx, domain.PrincipalOf(id)))
}

// principal returns who the request acts for: the user @requireAuth
// verified, else the credential in the context verified once per
// operation; anonymous is a CodeUnauthorized error.
func (h *Handler) principal(ctx context.Context) (domain.Principal, error) {
	if p, ok := domain.PrincipalFrom(ctx); ok {
		return p, nil
	}
	tok, _ := ctx.Value(tokenKey).(string)
	if tok == "" {
		return domain.Principal{}, domain.Errorf(domain.CodeUnauthorized, "this field needs Authorization: Bearer <token>; get one with the login mutation")
	}
	st := opFrom(ctx)
	if st == nil {
		id, err := h.d.Auth.Verify(ctx, tok)
		return domain.PrincipalOf(id), err
	}
	st.authOnce.Do(func() {
		id, err := h.d.Auth.Verify(ctx, tok)
		st.who, st.authErr = domain.PrincipalOf(id), err
	})
	return st.who, st.authErr
}

// ---- queries ----

type queryResolver struct{ h *Handler }

func (q queryResolver) Product(ctx context.Context, id int64) (*domain.Product, error) {
	p, err := q.h.d.Catalog.GetProduct(ctx, id)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (q queryResolver) Products(ctx context.Context, first *int, after *int64, category *string) ([]domain.Product, error) {
	n, err := pageSize(first, domain.DefaultPageSize)
	if err != nil {
		return nil, err
	}
	f := domain.ProductFilter{Limit: n}
	if after != nil {
		if *after < 0 {
			return nil, domain.Errorf(domain.CodeInvalid, "after must be a product id >= 0, got %d", *after)
		}
		f.After = *after
	}
	if category != nil {
		f.Category = *category
	}
	page, err := q.h.d.Catalog.ListProducts(ctx, f)
	if err != nil {
		return nil, err
	}
	return page.Products, nil
}

// User needs a login and shows the caller's own user (the admin's: any);
// another's is NOT_FOUND, so ids cannot be probed.
func (q queryResolver) User(ctx context.Context, id int64) (*domain.User, error) {
	p, err := q.h.principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanSee(id) {
		return nil, domain.Errorf(domain.CodeNotFound, "user %d not found", id)
	}
	u, err := q.h.d.Catalog.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Order needs a login and shows the caller's own orders (the admin's: any).
func (q queryResolver) Order(ctx context.Context, id int64) (*domain.Order, error) {
	p, err := q.h.principal(ctx)
	if err != nil {
		return nil, err
	}
	o, err := q.h.d.Catalog.GetOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.CanSee(o.UserID) {
		return nil, domain.Errorf(domain.CodeNotFound, "order %d not found", id)
	}
	return &o, nil
}

func (q queryResolver) Me(ctx context.Context) (*domain.User, error) {
	u, err := q.h.d.Catalog.GetUser(ctx, userFrom(ctx))
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// pageSize validates a first argument: 0..MaxPageSize, def when absent.
func pageSize(first *int, def int) (int, error) {
	if first == nil {
		return def, nil
	}
	if *first < 0 || *first > domain.MaxPageSize {
		return 0, domain.Errorf(domain.CodeInvalid, "first must be 0..%d, got %d", domain.MaxPageSize, *first)
	}
	return *first, nil
}

// ---- relations: through the loaders, or one store call per parent ----

type productResolver struct{ h *Handler }

func (r productResolver) Reviews(ctx context.Context, p *domain.Product, first *int) ([]domain.Review, error) {
	n, err := pageSize(first, 10)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []domain.Review{}, nil
	}
	if l := loadersFrom(ctx); l != nil {
		return l.reviews.Load(ctx, reviewsKey{product: p.ID, first: n})
	}
	return r.h.d.Catalog.ProductReviews(ctx, p.ID, 0, n)
}

type reviewResolver struct{ h *Handler }

func (r reviewResolver) Author(ctx context.Context, rv *domain.Review) (*domain.User, error) {
	var u domain.User
	var err error
	if l := loadersFrom(ctx); l != nil {
		u, err = l.users.Load(ctx, rv.AuthorID)
	} else {
		u, err = r.h.d.Catalog.GetUser(ctx, rv.AuthorID)
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

type userResolver struct{ h *Handler }

// Email is the caller's own, or anyone's for the admin; null otherwise
// (a review's author is public, the author's address is not).
func (r userResolver) Email(ctx context.Context, u *domain.User) (*string, error) {
	if p, err := r.h.principal(ctx); err != nil || !p.CanSee(u.ID) {
		return nil, nil
	}
	return &u.Email, nil
}

// Orders needs a login and shows the caller's own (the admin's: any). It
// has no batch read: one store call per user in both modes.
func (r userResolver) Orders(ctx context.Context, u *domain.User, first *int) ([]domain.Order, error) {
	n, err := pageSize(first, domain.DefaultPageSize)
	if err != nil {
		return nil, err
	}
	p, err := r.h.principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanSee(u.ID) {
		return nil, domain.Errorf(domain.CodeNotFound, "orders of user %d not found", u.ID)
	}
	os, err := r.h.d.Catalog.UserOrders(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return os[:min(n, len(os))], nil
}

type orderResolver struct{ h *Handler }

func (orderResolver) Status(_ context.Context, o *domain.Order) (string, error) {
	return string(o.Status), nil
}

type orderItemResolver struct{ h *Handler }

// Product is null (no error) when the product has since been deleted.
func (r orderItemResolver) Product(ctx context.Context, it *domain.OrderItem) (*domain.Product, error) {
	var p domain.Product
	var err error
	if l := loadersFrom(ctx); l != nil {
		p, err = l.products.Load(ctx, it.ProductID)
	} else {
		p, err = r.h.d.Catalog.GetProduct(ctx, it.ProductID)
	}
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}
