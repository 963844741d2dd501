package store

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// Defaults of Options. They model a nearby relational database: a round trip
// of a few milliseconds, a small cost per row, and a connection pool of 8.
const (
	DefaultLatency = 2 * time.Millisecond
	DefaultPerRow  = 20 * time.Microsecond
	DefaultPool    = 8
)

// Off disables a cost in Options (Latency, PerRow) where zero means "default".
// A CLI flag of 0 should be mapped to Off.
const Off time.Duration = -1

// Options configure the latency model. The zero value is the default model.
type Options struct {
	// Latency is the fixed cost of every call (a round trip). Zero means
	// DefaultLatency (2ms); negative (Off) means free.
	Latency time.Duration
	// PerRow is the added cost of every row a call reads or writes. Zero means
	// DefaultPerRow (20µs); negative (Off) means free.
	PerRow time.Duration
	// Jitter adds a uniformly random extra cost in [0, Jitter) to every call.
	// Zero (the default) means none, which keeps tests exact.
	Jitter time.Duration
	// Pool bounds the calls in flight, like a database connection pool: a
	// call waits in a queue while all connections are busy, and the wait is
	// measured. Zero means DefaultPool (8); negative means unbounded.
	Pool int
	// Now is the clock used to measure queue waits and stamp UpdatedAt.
	// Nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done, returning ctx's error in that case.
	// Nil means a timer-based sleep. Tests inject their own or run under
	// testing/synctest, where the default is already virtual.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a uniform float in [0, 1) for jitter. Nil means
	// math/rand/v2's Float64 (safe for concurrent use).
	Rand func() float64
}

// Methods are the names Stats.ByMethod counts calls under.
var Methods = []string{
	"GetProduct", "GetProducts", "ListProducts", "ProductReviews", "ReviewsOfProducts", "GetUser", "GetUsers", "UserByEmail",
	"Authenticate", "UserOrders", "GetOrder", "CreateOrder", "UpdateProduct", "DeleteProduct",
	"CreateReviews", "UpsertProducts",
}

// Stats is a snapshot of the store's accounting, shaped for /stats.
type Stats struct {
	Calls            int64            `json:"calls"`               // calls that reached a connection
	Rows             int64            `json:"rows"`                // rows read or written
	Errors           int64            `json:"errors"`              // calls that returned an error (domain or context)
	InFlight         int64            `json:"in_flight"`           // calls holding a connection now
	Queued           int64            `json:"queued"`              // calls waiting for a connection now
	QueueWaits       int64            `json:"queue_waits"`         // calls that had to wait at all
	QueueWaitTotalMS float64          `json:"queue_wait_total_ms"` // summed wait for a connection
	QueueWaitMaxMS   float64          `json:"queue_wait_max_ms"`   // longest single wait
	Pool             int              `json:"pool"`                // connections; 0 when unbounded
	ByMethod         map[string]int64 `json:"by_method"`           // calls per Catalog method
	QueueWaitTotal   time.Duration    `json:"-"`
	QueueWaitMax     time.Duration    `json:"-"`
}

// Store is the slow, in-memory "database": the single source of truth for a
// server process. It implements domain.Catalog and domain.Authenticator.
type Store struct {
	latency, perRow, jitter time.Duration
	pool                    int
	sem                     chan struct{}
	now                     func() time.Time
	sleep                   func(context.Context, time.Duration) error
	rnd                     func() float64

	calls, rows, errs, inFlight, queued, queueWaits atomic.Int64
	waitTotal, waitMax                              atomic.Int64 // nanoseconds
	byMethod                                        map[string]*atomic.Int64

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

// New returns a store holding a copy of ds behind the latency model opts.
func New(ds domain.Dataset, opts Options) *Store {
	s := &Store{
		latency: pick(opts.Latency, DefaultLatency),
		perRow:  pick(opts.PerRow, DefaultPerRow),
		jitter:  max(opts.Jitter, 0),
		pool:    opts.Pool,
		now:     opts.Now,
		sleep:   opts.Sleep,
		rnd:     opts.Rand,
	}
	if s.pool == 0 {
		s.pool = DefaultPool
	}
	if s.pool > 0 {
		s.sem = make(chan struct{}, s.pool)
	} else {
		s.pool = 0
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sleep == nil {
		s.sleep = timerSleep
	}
	if s.rnd == nil {
		s.rnd = rand.Float64
	}
	s.byMethod = make(map[string]*atomic.Int64, len(Methods))
	for _, m := range Methods {
		s.byMethod[m] = new(atomic.Int64)
	}

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

func pick(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cost returns what a call touching rows rows costs, without jitter.
func (s *Store) Cost(rows int) time.Duration {
	return s.latency + time.Duration(rows)*s.perRow
}

// acquire takes a connection, queueing (and measuring the wait) when all are
// busy. It returns promptly with ctx's error if ctx ends while queued. wait
// is how long it queued (0 when a connection was free).
func (s *Store) acquire(ctx context.Context) (release func(), wait time.Duration, err error) {
	if s.sem == nil {
		return func() {}, 0, nil
	}
	select {
	case s.sem <- struct{}{}:
		return s.release, 0, nil
	default:
	}
	s.queued.Add(1)
	start := s.now()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		s.queued.Add(-1)
		s.recordWait(s.now().Sub(start))
		return nil, 0, ctx.Err()
	}
	s.queued.Add(-1)
	wait = s.now().Sub(start)
	s.recordWait(wait)
	return s.release, wait, nil
}

func (s *Store) release() { <-s.sem }

// stamp is the UpdatedAt of a write: UTC, without the monotonic reading, so
// it survives a JSON round trip unchanged (cached copies compare equal).
func (s *Store) stamp() time.Time { return s.now().UTC().Round(0) }

func (s *Store) recordWait(d time.Duration) {
	s.queueWaits.Add(1)
	s.waitTotal.Add(int64(d))
	for {
		old := s.waitMax.Load()
		if int64(d) <= old || s.waitMax.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// call runs op on a pooled connection and charges Latency + rows*PerRow
// (+ jitter) while holding it. op runs under the store's data lock (read or
// write, as the caller takes it) and returns how many rows it touched. A
// write is applied before the cost is paid, so a caller whose ctx ends during
// the sleep sees an error although the write committed — as with a real
// database whose client times out after COMMIT.
func (s *Store) call(ctx context.Context, method string, op func() (rows int, err error)) error {
	if err := ctx.Err(); err != nil {
		s.errs.Add(1)
		return err
	}
	release, wait, err := s.acquire(ctx)
	if err != nil {
		s.errs.Add(1)
		return err
	}
	defer release()
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.calls.Add(1)
	s.byMethod[method].Add(1)
	rows, err := op()
	s.rows.Add(int64(rows))
	domain.StoreTallyFrom(ctx).Add(rows, wait)
	cost := s.Cost(rows)
	if s.jitter > 0 {
		cost += time.Duration(s.rnd() * float64(s.jitter))
	}
	if cost > 0 {
		if serr := s.sleep(ctx, cost); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		s.errs.Add(1)
	}
	return err
}

// Stats returns a snapshot of the accounting.
func (s *Store) Stats() Stats {
	st := Stats{
		Calls:          s.calls.Load(),
		Rows:           s.rows.Load(),
		Errors:         s.errs.Load(),
		InFlight:       s.inFlight.Load(),
		Queued:         s.queued.Load(),
		QueueWaits:     s.queueWaits.Load(),
		QueueWaitTotal: time.Duration(s.waitTotal.Load()),
		QueueWaitMax:   time.Duration(s.waitMax.Load()),
		Pool:           s.pool,
		ByMethod:       make(map[string]int64, len(s.byMethod)),
	}
	st.QueueWaitTotalMS = float64(st.QueueWaitTotal) / 1e6
	st.QueueWaitMaxMS = float64(st.QueueWaitMax) / 1e6
	for m, c := range s.byMethod {
		if n := c.Load(); n > 0 {
			st.ByMethod[m] = n
		}
	}
	return st
}

// PeekProduct reads a product's current state with no cost and no
// accounting: for tests and diagnostics, never for request paths.
func (s *Store) PeekProduct(id int64) (domain.Product, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.products[id]
	return p, ok
}

// ---- reads ----

// GetProduct reads one product: one call, one row.
func (s *Store) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
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
func (s *Store) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
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
func (s *Store) ListProducts(ctx context.Context, f domain.ProductFilter) (domain.ProductPage, error) {
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
		if f.After > 0 {
			i, found := slices.BinarySearch(ids, f.After)
			if found {
				i++
			}
			ids = ids[i:]
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
func (s *Store) ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]domain.Review, error) {
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

// ReviewsOfProducts reads the first limit reviews of each product in one
// call costing one Latency plus one PerRow per review returned (see
// domain.BatchReader). Unknown products yield empty slices.
func (s *Store) ReviewsOfProducts(ctx context.Context, productIDs []int64, limit int) ([][]domain.Review, error) {
	_, limit, err := domain.NormalizePage(0, limit)
	if err != nil {
		return nil, err
	}
	out := make([][]domain.Review, len(productIDs))
	err = s.call(ctx, "ReviewsOfProducts", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for i, pid := range productIDs {
			out[i] = []domain.Review{}
			if _, ok := s.products[pid]; !ok {
				continue
			}
			ids := s.reviewsOf[pid]
			for _, id := range ids[:min(len(ids), limit)] {
				out[i] = append(out[i], s.reviews[id-1])
			}
			n += len(out[i])
		}
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ProductVersion always reports ok=false without a call: the store cannot
// know a version without reading the row, so callers fall back to
// GetProduct (see domain.Catalog).
func (s *Store) ProductVersion(ctx context.Context, id int64) (domain.Version, bool) {
	return domain.Version{}, false
}

// GetUser reads one user.
func (s *Store) GetUser(ctx context.Context, id int64) (domain.User, error) {
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

// GetUsers reads many users in one call costing one Latency plus one PerRow
// per user found. Missing ids yield a zero User (ID 0).
func (s *Store) GetUsers(ctx context.Context, ids []int64) ([]domain.User, error) {
	out := make([]domain.User, len(ids))
	err := s.call(ctx, "GetUsers", func() (int, error) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for i, id := range ids {
			if id >= 1 && id <= int64(len(s.users)) {
				out[i] = s.users[id-1]
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

// UserByEmail reads one user by email.
func (s *Store) UserByEmail(ctx context.Context, email string) (domain.User, error) {
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
func (s *Store) Authenticate(ctx context.Context, email, password string) (domain.User, error) {
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
func (s *Store) UserOrders(ctx context.Context, userID int64) ([]domain.Order, error) {
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
func (s *Store) GetOrder(ctx context.Context, id int64) (domain.Order, error) {
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

// MaxOrderItems bounds the lines of one order.
const MaxOrderItems = 100

// CreateOrder places an order at current prices and takes the items out of
// stock, bumping each product's Version. All or nothing: an unknown user or
// product, or a quantity < 1, is CodeInvalid; too little stock is
// CodeConflict. Rows charged: 1 + one per item.
func (s *Store) CreateOrder(ctx context.Context, in domain.NewOrder) (domain.Order, error) {
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
func (s *Store) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
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
		if p.Category != cur.Category {
			s.byCategory[cur.Category] = removeSorted(s.byCategory[cur.Category], id)
			s.byCategory[p.Category] = insertSorted(s.byCategory[p.Category], id)
		}
		s.products[id] = p
		return 1, nil
	})
	return p, err
}

// DeleteProduct removes a product. Its reviews stay in storage but are no
// longer reachable; past orders keep their lines.
func (s *Store) DeleteProduct(ctx context.Context, id int64) error {
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

// MaxReviewText bounds a review's text in bytes.
const MaxReviewText = 4000

// CreateReviews adds reviews, all or nothing. Unknown products or authors,
// ratings outside 1..5 and over-long text are CodeInvalid.
func (s *Store) CreateReviews(ctx context.Context, rs []domain.NewReview) ([]domain.Review, error) {
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
func (s *Store) UpsertProducts(ctx context.Context, ps []domain.Product) (domain.UpsertResult, error) {
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
			next := cur
			next.Price, next.Stock = in.Price, in.Stock
			if in.Name != "" {
				next.Name = in.Name
			}
			if in.Description != "" {
				next.Description = in.Description
			}
			if in.Category != "" {
				next.Category = in.Category
			}
			switch {
			case in.Version < cur.Version:
				res.Stale++
				continue
			case in.Version == cur.Version:
				next.UpdatedAt = cur.UpdatedAt
				if next == cur {
					res.Same++
					continue
				}
				next.Version = cur.Version + 1
			default:
				next.Version = in.Version
			}
			next.UpdatedAt = in.UpdatedAt
			if next.UpdatedAt.IsZero() {
				next.UpdatedAt = now
			}
			if next.Category != cur.Category {
				s.byCategory[cur.Category] = removeSorted(s.byCategory[cur.Category], cur.ID)
				s.byCategory[next.Category] = insertSorted(s.byCategory[next.Category], cur.ID)
			}
			s.products[in.ID] = next
			res.Applied++
		}
		return len(ps), nil
	})
	return res, err
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

var (
	_ domain.Catalog       = (*Store)(nil)
	_ domain.Authenticator = (*Store)(nil)
	_ domain.BatchReader   = (*Store)(nil)
)
