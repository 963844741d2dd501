package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// memory is the in-process backend: maps and slices under one RWMutex. It
// costs nothing by itself; the Store decorator adds the latency model.
type memory struct {
	now func() time.Time

	mu           sync.RWMutex
	users        []domain.User // index id-1
	creds        map[int64]domain.Credential
	byEmail      map[string]int64
	products     map[int64]domain.Product
	ids          []int64            // live product ids, ascending
	byCategory   map[string][]int64 // live product ids per category, ascending
	reviews      []domain.Review    // index id-1
	reviewsOf    map[int64][]int64  // product id -> review ids, ascending
	orders       []domain.Order     // index id-1
	ordersOfUser map[int64][]int64  // user id -> order ids, ascending
}

// NewMemory returns an in-memory backend holding a copy of ds; now stamps
// UpdatedAt on writes (nil: time.Now).
func NewMemory(ds domain.Dataset, now func() time.Time) Backend {
	return newMemory(ds, now)
}

func newMemory(ds domain.Dataset, now func() time.Time) *memory {
	if now == nil {
		now = time.Now
	}
	s := &memory{now: now}
	s.users = slices.Clone(ds.Users)
	s.creds = make(map[int64]domain.Credential, len(ds.Credentials))
	for _, c := range ds.Credentials {
		s.creds[c.UserID] = c
	}
	s.byEmail = make(map[string]int64, len(ds.Users))
	for _, u := range ds.Users {
		s.byEmail[u.Email] = u.ID
	}
	s.products = make(map[int64]domain.Product, len(ds.Products))
	s.byCategory = map[string][]int64{}
	for _, p := range ds.Products {
		s.products[p.ID] = p
		s.ids = append(s.ids, p.ID)
		s.byCategory[p.Category] = append(s.byCategory[p.Category], p.ID)
	}
	slices.Sort(s.ids)
	for _, ids := range s.byCategory {
		slices.Sort(ids)
	}
	s.reviews = slices.Clone(ds.Reviews)
	s.reviewsOf = map[int64][]int64{}
	for _, r := range ds.Reviews {
		s.reviewsOf[r.ProductID] = append(s.reviewsOf[r.ProductID], r.ID)
	}
	s.orders = make([]domain.Order, len(ds.Orders))
	s.ordersOfUser = map[int64][]int64{}
	for i, o := range ds.Orders {
		o.Items = slices.Clone(o.Items)
		s.orders[i] = o
		s.ordersOfUser[o.UserID] = append(s.ordersOfUser[o.UserID], o.ID)
	}
	return s
}

// Name is "memory".
func (s *memory) Name() string { return BackendMemory }

// PoolStats reports ok=false: memory has no connection pool of its own
// (the Store decorator models one).
func (s *memory) PoolStats() (PoolStats, bool) { return PoolStats{}, false }

// Close does nothing.
func (s *memory) Close() error { return nil }

// PeekProduct reads a product without cost or accounting.
func (s *memory) PeekProduct(ctx context.Context, id int64) (domain.Product, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.products[id]
	return p, ok, nil
}

// call runs op; the method name and rows are the decorator's business.
func (s *memory) call(_ context.Context, _ string, op func() (int, error)) error {
	_, err := op()
	return err
}

// stamp is the UpdatedAt of a write: UTC, without the monotonic reading, so
// it survives a JSON round trip unchanged (cached copies compare equal).
func (s *memory) stamp() time.Time { return s.now().UTC().Round(0) }

// ---- reads ----

// GetProduct reads one product: one call, one row.
func (s *memory) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	var p domain.Product
	err := s.call(ctx, "GetProduct", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		var ok bool
		if p, ok = s.products[id]; !ok {
			return 0, notFound("product", id)
		}
		return 1, nil
	})
	return p, err
}

// GetProducts reads many products in one call costing one Latency plus one
// PerRow per product found. Missing ids yield a zero Product (ID 0).
func (s *memory) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
	out := make([]domain.Product, len(ids))
	err := s.call(ctx, "GetProducts", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for i, id := range ids {
			if p, ok := s.products[id]; ok {
				out[i] = p
				n++
			}
		}
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListProducts returns one page of products ordered by id, optionally of one
// category. Rows charged: the products returned.
func (s *memory) ListProducts(ctx context.Context, f domain.ProductFilter) (domain.ProductPage, error) {
	offset, limit, err := domain.NormalizePage(f.Offset, f.Limit)
	if err != nil {
		return domain.ProductPage{}, err
	}
	page := domain.ProductPage{Offset: offset, Limit: limit, Products: []domain.Product{}}
	err = s.call(ctx, "ListProducts", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		ids := s.ids
		if f.Category != "" {
			ids = s.byCategory[f.Category]
		}
		page.Total = len(ids)
		if offset < len(ids) {
			for _, id := range ids[offset:min(len(ids), offset+limit)] {
				page.Products = append(page.Products, s.products[id])
			}
		}
		return len(page.Products), nil
	})
	if err != nil {
		return domain.ProductPage{}, err
	}
	return page, nil
}

// ProductReviews returns a page of a product's reviews ordered by id. An
// unknown product is CodeNotFound.
func (s *memory) ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]domain.Review, error) {
	offset, limit, err := domain.NormalizePage(offset, limit)
	if err != nil {
		return nil, err
	}
	out := []domain.Review{}
	err = s.call(ctx, "ProductReviews", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if _, ok := s.products[productID]; !ok {
			return 0, notFound("product", productID)
		}
		ids := s.reviewsOf[productID]
		if offset < len(ids) {
			for _, id := range ids[offset:min(len(ids), offset+limit)] {
				out = append(out, s.reviews[id-1])
			}
		}
		return len(out), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetUser reads one user.
func (s *memory) GetUser(ctx context.Context, id int64) (domain.User, error) {
	var u domain.User
	err := s.call(ctx, "GetUser", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if id < 1 || id > int64(len(s.users)) {
			return 0, notFound("user", id)
		}
		u = s.users[id-1]
		return 1, nil
	})
	return u, err
}

// UserByEmail reads one user by email.
func (s *memory) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	var u domain.User
	err := s.call(ctx, "UserByEmail", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		id, ok := s.byEmail[email]
		if !ok {
			return 0, domain.Errorf(domain.CodeNotFound, "no user with email %q", email)
		}
		u = s.users[id-1]
		return 1, nil
	})
	return u, err
}

// Authenticate checks email and password in one call; any mismatch,
// unknown email included, is CodeUnauthorized.
func (s *memory) Authenticate(ctx context.Context, email, password string) (domain.User, error) {
	var u domain.User
	err := s.call(ctx, "Authenticate", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		id, ok := s.byEmail[email]
		if !ok {
			return 0, domain.Errorf(domain.CodeUnauthorized, "wrong email or password")
		}
		if c, ok := s.creds[id]; !ok || !c.Check(password) {
			return 1, domain.Errorf(domain.CodeUnauthorized, "wrong email or password")
		}
		u = s.users[id-1]
		return 1, nil
	})
	return u, err
}

// UserOrders returns a user's orders ordered by id; rows charged per order.
func (s *memory) UserOrders(ctx context.Context, userID int64) ([]domain.Order, error) {
	out := []domain.Order{}
	err := s.call(ctx, "UserOrders", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if userID < 1 || userID > int64(len(s.users)) {
			return 0, notFound("user", userID)
		}
		for _, id := range s.ordersOfUser[userID] {
			out = append(out, cloneOrder(s.orders[id-1]))
		}
		return len(out), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetOrder reads one order.
func (s *memory) GetOrder(ctx context.Context, id int64) (domain.Order, error) {
	var o domain.Order
	err := s.call(ctx, "GetOrder", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if id < 1 || id > int64(len(s.orders)) {
			return 0, notFound("order", id)
		}
		o = cloneOrder(s.orders[id-1])
		return 1, nil
	})
	return o, err
}

// ---- writes ----

// CreateOrder places an order at current prices and takes the items out of
// stock, bumping each product's Version. All or nothing: an unknown user or
// product, or a quantity < 1, is CodeInvalid; too little stock is
// CodeConflict. Rows charged: 1 + one per item.
func (s *memory) CreateOrder(ctx context.Context, in domain.NewOrder) (domain.Order, error) {
	if len(in.Items) == 0 {
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "an order needs at least one item")
	}
	if len(in.Items) > MaxOrderItems {
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "an order has at most %d items, got %d", MaxOrderItems, len(in.Items))
	}
	for _, it := range in.Items {
		if it.Quantity < 1 {
			return domain.Order{}, domain.Errorf(domain.CodeInvalid, "quantity of product %d must be >= 1, got %d", it.ProductID, it.Quantity)
		}
	}
	var o domain.Order
	err := s.call(ctx, "CreateOrder", func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if in.UserID < 1 || in.UserID > int64(len(s.users)) {
			return 0, domain.Errorf(domain.CodeInvalid, "unknown user %d", in.UserID)
		}
		want := map[int64]int64{}
		for _, it := range in.Items {
			p, ok := s.products[it.ProductID]
			if !ok {
				return 0, domain.Errorf(domain.CodeInvalid, "unknown product %d", it.ProductID)
			}
			want[p.ID] += it.Quantity
			if want[p.ID] > p.Stock {
				return len(want), domain.Errorf(domain.CodeConflict, "insufficient stock for product %d: %d left, %d wanted", p.ID, p.Stock, want[p.ID])
			}
		}
		now := s.stamp()
		o = domain.Order{
			ID: int64(len(s.orders) + 1), UserID: in.UserID, Status: domain.OrderPending,
			Version: 1, UpdatedAt: now, Items: make([]domain.OrderItem, len(in.Items)),
		}
		total := 0.0
		for i, it := range in.Items {
			p := s.products[it.ProductID]
			o.Items[i] = domain.OrderItem{ProductID: p.ID, Quantity: it.Quantity, UnitPrice: p.Price}
			total += float64(it.Quantity) * p.Price
		}
		o.Total = domain.RoundCents(total)
		for id, q := range want {
			p := s.products[id]
			p.Stock -= q
			p.Version++
			p.UpdatedAt = now
			s.products[id] = p
		}
		s.orders = append(s.orders, o)
		s.ordersOfUser[o.UserID] = append(s.ordersOfUser[o.UserID], o.ID)
		o = cloneOrder(o)
		return 1 + len(in.Items), nil
	})
	if err != nil {
		return domain.Order{}, err
	}
	return o, nil
}

// UpdateProduct changes price and/or stock and bumps Version.
func (s *memory) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	if err := patch.Validate(); err != nil {
		return domain.Product{}, err
	}
	var p domain.Product
	err := s.call(ctx, "UpdateProduct", func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		cur, ok := s.products[id]
		if !ok {
			return 0, notFound("product", id)
		}
		p = patch.Apply(cur, s.stamp())
		s.products[id] = p
		return 1, nil
	})
	return p, err
}

// DeleteProduct removes a product. Its reviews stay in storage but are no
// longer reachable; past orders keep their lines.
func (s *memory) DeleteProduct(ctx context.Context, id int64) error {
	return s.call(ctx, "DeleteProduct", func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		p, ok := s.products[id]
		if !ok {
			return 0, notFound("product", id)
		}
		delete(s.products, id)
		s.ids = removeSorted(s.ids, id)
		s.byCategory[p.Category] = removeSorted(s.byCategory[p.Category], id)
		return 1, nil
	})
}

// CreateReviews adds reviews, all or nothing. Unknown products or authors,
// ratings outside 1..5 and over-long text are CodeInvalid.
func (s *memory) CreateReviews(ctx context.Context, rs []domain.NewReview) ([]domain.Review, error) {
	if len(rs) == 0 {
		return []domain.Review{}, nil
	}
	for _, r := range rs {
		if r.Rating < 1 || r.Rating > 5 {
			return nil, domain.Errorf(domain.CodeInvalid, "rating must be 1..5, got %d", r.Rating)
		}
		if len(r.Text) > MaxReviewText {
			return nil, domain.Errorf(domain.CodeInvalid, "review text is %d bytes, at most %d allowed", len(r.Text), MaxReviewText)
		}
	}
	var out []domain.Review
	err := s.call(ctx, "CreateReviews", func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range rs {
			if _, ok := s.products[r.ProductID]; !ok {
				return 0, domain.Errorf(domain.CodeInvalid, "unknown product %d", r.ProductID)
			}
			if r.AuthorID < 1 || r.AuthorID > int64(len(s.users)) {
				return 0, domain.Errorf(domain.CodeInvalid, "unknown author (user) %d", r.AuthorID)
			}
		}
		now := s.stamp()
		out = make([]domain.Review, len(rs))
		for i, r := range rs {
			rev := domain.Review{
				ID: int64(len(s.reviews) + 1), ProductID: r.ProductID, AuthorID: r.AuthorID,
				Rating: r.Rating, Text: r.Text, Version: 1, UpdatedAt: now,
			}
			s.reviews = append(s.reviews, rev)
			s.reviewsOf[r.ProductID] = append(s.reviewsOf[r.ProductID], rev.ID)
			out[i] = rev
		}
		return len(rs), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpsertProducts writes full product states in one call (one Latency plus
// PerRow per product): the write-behind flusher's batch write, delivered at
// least once and possibly out of order. For each product that still exists:
//   - a higher Version than stored is written as given;
//   - an equal Version with different fields (another writer, such as an
//     order taking stock, bumped the store meanwhile) is written with
//     Version stored+1, last writer wins;
//   - an equal Version with the same fields is a duplicate and changes nothing;
//   - a lower Version is stale and skipped (a newer state was flushed first).
//
// Price and Stock are replaced, and Name, Description and Category when
// non-empty; UpdatedAt is the given one (now when zero). Ids that no longer
// exist are skipped, so a late flush never resurrects a deleted product.
func (s *memory) UpsertProducts(ctx context.Context, ps []domain.Product) (domain.UpsertResult, error) {
	var res domain.UpsertResult
	if len(ps) == 0 {
		return res, nil
	}
	err := s.call(ctx, "UpsertProducts", func() (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.stamp()
		for _, in := range ps {
			cur, ok := s.products[in.ID]
			if !ok {
				res.Missing++
				continue
			}
			next, write := upsertOne(cur, in, now, &res)
			if !write {
				continue
			}
			if next.Category != cur.Category {
				s.byCategory[cur.Category] = removeSorted(s.byCategory[cur.Category], cur.ID)
				s.byCategory[next.Category] = insertSorted(s.byCategory[next.Category], cur.ID)
			}
			s.products[in.ID] = next
		}
		return len(ps), nil
	})
	return res, err
}

// RecordOrder appends a priced order without touching stock.
func (s *memory) RecordOrder(_ context.Context, o domain.Order) (domain.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.UserID < 1 || o.UserID > int64(len(s.users)) {
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "unknown user %d", o.UserID)
	}
	o = cloneOrder(o)
	o.ID = int64(len(s.orders) + 1)
	s.orders = append(s.orders, o)
	s.ordersOfUser[o.UserID] = append(s.ordersOfUser[o.UserID], o.ID)
	return cloneOrder(o), nil
}

// ---- helpers ----

func notFound(kind string, id int64) error {
	return domain.Errorf(domain.CodeNotFound, "%s %d not found", kind, id)
}

func cloneOrder(o domain.Order) domain.Order {
	o.Items = slices.Clone(o.Items)
	return o
}

func removeSorted(ids []int64, id int64) []int64 {
	if i, ok := slices.BinarySearch(ids, id); ok {
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

func insertSorted(ids []int64, id int64) []int64 {
	if i, ok := slices.BinarySearch(ids, id); !ok {
		return slices.Insert(ids, i, id)
	}
	return ids
}

var _ Backend = (*memory)(nil)
