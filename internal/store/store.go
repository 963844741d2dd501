package store

import (
	"context"
	"errors"
	"math/rand/v2"
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

// Options configure the latency model over a backend. The zero value is
// the default model.
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
	// measured. Zero means DefaultPool (8); negative means unbounded. Only
	// for a backend without a pool of its own (memory): a database's real
	// pool is sized when it is opened (OpenOptions.Pool) and Wrap ignores
	// this field for it.
	Pool int
	// Now is the clock used to measure queue waits (and, in New, to stamp
	// UpdatedAt). Nil means time.Now.
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
	"GetProduct", "GetProducts", "ListProducts", "ProductReviews", "GetUser", "UserByEmail",
	"Authenticate", "UserOrders", "GetOrder", "CreateOrder", "UpdateProduct", "DeleteProduct",
	"CreateReviews", "UpsertProducts", "RecordOrder",
}

// Stats is a snapshot of the store's accounting, shaped for /stats.
type Stats struct {
	Calls            int64            `json:"calls"`               // calls that reached a connection (memory) or the backend
	Rows             int64            `json:"rows"`                // rows read or written
	Errors           int64            `json:"errors"`              // calls that returned an error (domain or context)
	InFlight         int64            `json:"in_flight"`           // calls in the backend now
	Queued           int64            `json:"queued"`              // calls waiting for a connection now (memory's modelled pool)
	QueueWaits       int64            `json:"queue_waits"`         // calls that had to wait at all (a database: the pool's own count)
	QueueWaitTotalMS float64          `json:"queue_wait_total_ms"` // summed wait for a connection (a database: the pool's own total)
	QueueWaitMaxMS   float64          `json:"queue_wait_max_ms"`   // longest single wait (measured per call on every backend)
	Unavailable      int64            `json:"unavailable"`         // calls that failed because the database could not be reached
	Pool             int              `json:"pool"`                // connections; 0 when unbounded
	Backend          string           `json:"backend"`             // memory, sqlite or postgres
	ByMethod         map[string]int64 `json:"by_method"`           // calls per Catalog method
	QueueWaitTotal   time.Duration    `json:"-"`
	QueueWaitMax     time.Duration    `json:"-"`
}

// Backend names, as Stats.Backend and /stats store.backend report them.
const (
	BackendMemory   = "memory"
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Backend is where the data lives: in memory, in SQLite or in Postgres. A
// backend costs what it costs; the Store decorator adds the latency model
// and the accounting, the same for every backend. Errors are domain errors
// (the codes in the package doc); a database that cannot be reached is
// domain.CodeUnavailable.
type Backend interface {
	GetProduct(ctx context.Context, id int64) (domain.Product, error)
	GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error)
	ListProducts(ctx context.Context, f domain.ProductFilter) (domain.ProductPage, error)
	ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]domain.Review, error)
	GetUser(ctx context.Context, id int64) (domain.User, error)
	UserByEmail(ctx context.Context, email string) (domain.User, error)
	Authenticate(ctx context.Context, email, password string) (domain.User, error)
	UserOrders(ctx context.Context, userID int64) ([]domain.Order, error)
	GetOrder(ctx context.Context, id int64) (domain.Order, error)
	CreateOrder(ctx context.Context, o domain.NewOrder) (domain.Order, error)
	UpdateProduct(ctx context.Context, id int64, p domain.ProductPatch) (domain.Product, error)
	DeleteProduct(ctx context.Context, id int64) error
	CreateReviews(ctx context.Context, rs []domain.NewReview) ([]domain.Review, error)
	UpsertProducts(ctx context.Context, ps []domain.Product) (domain.UpsertResult, error)
	// RecordOrder stores a priced order whose stock was already taken
	// elsewhere (write-behind reserves it in Redis) and returns it with its
	// id. An unknown user is CodeInvalid.
	RecordOrder(ctx context.Context, o domain.Order) (domain.Order, error)
	// PeekProduct reads a product for tests and diagnostics.
	PeekProduct(ctx context.Context, id int64) (domain.Product, bool, error)
	// Name is BackendMemory, BackendSQLite or BackendPostgres.
	Name() string
	// PoolStats returns the real connection pool's own figures; ok is
	// false for a backend without one.
	PoolStats() (s PoolStats, ok bool)
	Close() error
}

// PoolStats are a database pool's own acquire statistics.
type PoolStats struct {
	MaxConns  int           // the pool's size
	InUse     int64         // connections checked out now
	WaitCount int64         // acquires that had to wait for a connection
	WaitTotal time.Duration // their summed wait
}

// Store is the "database" every reference server reads and writes: a
// Backend behind the latency model and the accounting. It implements
// domain.Catalog and domain.Authenticator.
type Store struct {
	b                       Backend
	latency, perRow, jitter time.Duration
	pool                    int
	sem                     chan struct{}
	now                     func() time.Time
	sleep                   func(context.Context, time.Duration) error
	rnd                     func() float64

	calls, rows, errs, unavail, inFlight, queued, queueWaits atomic.Int64
	waitTotal, waitMax                                       atomic.Int64 // nanoseconds
	byMethod                                                 map[string]*atomic.Int64
}

// New returns an in-memory store holding a copy of ds behind the latency
// model opts.
func New(ds domain.Dataset, opts Options) *Store {
	return Wrap(newMemory(ds, opts.Now), opts)
}

// Wrap puts backend b behind the latency model opts. For a backend with a
// pool of its own (PoolStats ok), opts.Pool is ignored: the real pool
// queues, and its statistics are reported.
func Wrap(b Backend, opts Options) *Store {
	s := &Store{
		b:       b,
		latency: pick(opts.Latency, DefaultLatency),
		perRow:  pick(opts.PerRow, DefaultPerRow),
		jitter:  max(opts.Jitter, 0),
		pool:    opts.Pool,
		now:     opts.Now,
		sleep:   opts.Sleep,
		rnd:     opts.Rand,
	}
	if ps, ok := b.PoolStats(); ok {
		s.pool = ps.MaxConns
	} else {
		if s.pool == 0 {
			s.pool = DefaultPool
		}
		if s.pool > 0 {
			s.sem = make(chan struct{}, s.pool)
		} else {
			s.pool = 0
		}
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

// Backend returns the backend under the latency model.
func (s *Store) Backend() Backend { return s.b }

// Name is the backend's name: memory, sqlite or postgres.
func (s *Store) Name() string { return s.b.Name() }

// Close closes the backend.
func (s *Store) Close() error { return s.b.Close() }

// Cost returns what a call touching rows rows costs, without jitter.
func (s *Store) Cost(rows int) time.Duration {
	return s.latency + time.Duration(rows)*s.perRow
}

// acquire takes a modelled connection, queueing (and measuring the wait)
// when all are busy. It returns promptly with ctx's error if ctx ends while
// queued.
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

func (s *Store) recordWait(d time.Duration) {
	if s.sem != nil {
		s.queueWaits.Add(1)
		s.waitTotal.Add(int64(d))
	}
	for {
		old := s.waitMax.Load()
		if int64(d) <= old || s.waitMax.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// waitProbe carries a database backend's measured connection wait of one
// call back to the decorator.
type waitProbe struct{ ns atomic.Int64 }

type probeKey struct{}

// noteWait records d as connection wait of the call running under ctx
// (database backends call it after acquiring a connection).
func noteWait(ctx context.Context, d time.Duration) {
	if p, ok := ctx.Value(probeKey{}).(*waitProbe); ok {
		p.ns.Add(int64(d))
	}
}

// call runs op on a (modelled or real) connection and charges Latency +
// rows*PerRow (+ jitter) after it. op returns how many rows it touched. A
// write is applied before the cost is paid, so a caller whose ctx ends
// during the sleep sees an error although the write committed — as with a
// real database whose client times out after COMMIT. The call, its rows
// and its connection wait are added to the request's domain.StoreTrace.
func (s *Store) call(ctx context.Context, method string, op func(ctx context.Context) (rows int, err error)) error {
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
	tr := domain.StoreTraceFrom(ctx)
	var probe *waitProbe
	if s.sem == nil {
		// A real pool: the backend measures its own acquire.
		probe = &waitProbe{}
		ctx = context.WithValue(ctx, probeKey{}, probe)
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.calls.Add(1)
	s.byMethod[method].Add(1)
	rows, err := op(ctx)
	s.rows.Add(int64(rows))
	cost := s.Cost(rows)
	if s.jitter > 0 {
		cost += time.Duration(s.rnd() * float64(s.jitter))
	}
	if cost > 0 {
		if serr := s.sleep(ctx, cost); serr != nil && err == nil {
			err = serr
		}
	}
	if probe != nil {
		pw := time.Duration(probe.ns.Load())
		wait += pw
		s.recordWait(pw)
	}
	tr.Add(1, int64(rows), wait)
	if err != nil {
		s.errs.Add(1)
		if domain.ErrorCode(err) == domain.CodeUnavailable {
			s.unavail.Add(1)
		}
	}
	return err
}

// Stats returns a snapshot of the accounting.
func (s *Store) Stats() Stats {
	st := Stats{
		Calls:          s.calls.Load(),
		Rows:           s.rows.Load(),
		Errors:         s.errs.Load(),
		Unavailable:    s.unavail.Load(),
		InFlight:       s.inFlight.Load(),
		Queued:         s.queued.Load(),
		QueueWaits:     s.queueWaits.Load(),
		QueueWaitTotal: time.Duration(s.waitTotal.Load()),
		QueueWaitMax:   time.Duration(s.waitMax.Load()),
		Pool:           s.pool,
		Backend:        s.b.Name(),
		ByMethod:       make(map[string]int64, len(s.byMethod)),
	}
	if ps, ok := s.b.PoolStats(); ok {
		st.QueueWaits, st.QueueWaitTotal, st.Pool = ps.WaitCount, ps.WaitTotal, ps.MaxConns
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
	p, ok, err := s.b.PeekProduct(context.Background(), id)
	if err != nil {
		return domain.Product{}, false
	}
	return p, ok
}

func one(err error) int {
	if err != nil {
		return 0
	}
	return 1
}

// ---- reads ----

// GetProduct reads one product: one call, one row.
func (s *Store) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	var p domain.Product
	err := s.call(ctx, "GetProduct", func(ctx context.Context) (int, error) {
		var err error
		p, err = s.b.GetProduct(ctx, id)
		return one(err), err
	})
	return p, err
}

// GetProducts reads many products in one call costing one Latency plus one
// PerRow per product found. Missing ids yield a zero Product (ID 0).
func (s *Store) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
	var out []domain.Product
	err := s.call(ctx, "GetProducts", func(ctx context.Context) (int, error) {
		var err error
		if out, err = s.b.GetProducts(ctx, ids); err != nil {
			return 0, err
		}
		n := 0
		for _, p := range out {
			if p.ID != 0 {
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
	f.Offset, f.Limit = offset, limit
	var page domain.ProductPage
	err = s.call(ctx, "ListProducts", func(ctx context.Context) (int, error) {
		var err error
		page, err = s.b.ListProducts(ctx, f)
		return len(page.Products), err
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
	var out []domain.Review
	err = s.call(ctx, "ProductReviews", func(ctx context.Context) (int, error) {
		var err error
		out, err = s.b.ProductReviews(ctx, productID, offset, limit)
		return len(out), err
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
	err := s.call(ctx, "GetUser", func(ctx context.Context) (int, error) {
		var err error
		u, err = s.b.GetUser(ctx, id)
		return one(err), err
	})
	return u, err
}

// UserByEmail reads one user by email.
func (s *Store) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	var u domain.User
	err := s.call(ctx, "UserByEmail", func(ctx context.Context) (int, error) {
		var err error
		u, err = s.b.UserByEmail(ctx, email)
		return one(err), err
	})
	return u, err
}

// Authenticate checks email and password in one call; any mismatch,
// unknown email included, is CodeUnauthorized.
func (s *Store) Authenticate(ctx context.Context, email, password string) (domain.User, error) {
	var u domain.User
	err := s.call(ctx, "Authenticate", func(ctx context.Context) (int, error) {
		var err error
		u, err = s.b.Authenticate(ctx, email, password)
		return one(err), err
	})
	return u, err
}

// UserOrders returns a user's orders ordered by id; rows charged per order.
func (s *Store) UserOrders(ctx context.Context, userID int64) ([]domain.Order, error) {
	var out []domain.Order
	err := s.call(ctx, "UserOrders", func(ctx context.Context) (int, error) {
		var err error
		out, err = s.b.UserOrders(ctx, userID)
		return len(out), err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetOrder reads one order.
func (s *Store) GetOrder(ctx context.Context, id int64) (domain.Order, error) {
	var o domain.Order
	err := s.call(ctx, "GetOrder", func(ctx context.Context) (int, error) {
		var err error
		o, err = s.b.GetOrder(ctx, id)
		return one(err), err
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
	if err := ValidateOrder(in); err != nil {
		return domain.Order{}, err
	}
	var o domain.Order
	err := s.call(ctx, "CreateOrder", func(ctx context.Context) (int, error) {
		var err error
		if o, err = s.b.CreateOrder(ctx, in); err != nil {
			return 0, err
		}
		return 1 + len(in.Items), nil
	})
	if err != nil {
		return domain.Order{}, err
	}
	return o, nil
}

// ValidateOrder checks what an order must satisfy before any store call:
// at least one and at most MaxOrderItems lines, each quantity >= 1.
func ValidateOrder(in domain.NewOrder) error {
	if len(in.Items) == 0 {
		return domain.Errorf(domain.CodeInvalid, "an order needs at least one item")
	}
	if len(in.Items) > MaxOrderItems {
		return domain.Errorf(domain.CodeInvalid, "an order has at most %d items, got %d", MaxOrderItems, len(in.Items))
	}
	for _, it := range in.Items {
		if it.Quantity < 1 {
			return domain.Errorf(domain.CodeInvalid, "quantity of product %d must be >= 1, got %d", it.ProductID, it.Quantity)
		}
	}
	return nil
}

// UpdateProduct changes price and/or stock and bumps Version.
func (s *Store) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	if err := patch.Validate(); err != nil {
		return domain.Product{}, err
	}
	var p domain.Product
	err := s.call(ctx, "UpdateProduct", func(ctx context.Context) (int, error) {
		var err error
		p, err = s.b.UpdateProduct(ctx, id, patch)
		return one(err), err
	})
	return p, err
}

// DeleteProduct removes a product. Its reviews stay in storage but are no
// longer reachable; past orders keep their lines.
func (s *Store) DeleteProduct(ctx context.Context, id int64) error {
	return s.call(ctx, "DeleteProduct", func(ctx context.Context) (int, error) {
		err := s.b.DeleteProduct(ctx, id)
		return one(err), err
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
	err := s.call(ctx, "CreateReviews", func(ctx context.Context) (int, error) {
		var err error
		out, err = s.b.CreateReviews(ctx, rs)
		if err != nil {
			return 0, err
		}
		return len(out), nil
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
	err := s.call(ctx, "UpsertProducts", func(ctx context.Context) (int, error) {
		var err error
		res, err = s.b.UpsertProducts(ctx, ps)
		if err != nil {
			return 0, err
		}
		return len(ps), nil
	})
	return res, err
}

// RecordOrder stores an order whose stock is already reserved (by the
// write-behind cache, in Redis): the order and its lines, without touching
// products. Rows charged: 1 + one per item.
func (s *Store) RecordOrder(ctx context.Context, o domain.Order) (domain.Order, error) {
	if len(o.Items) == 0 || len(o.Items) > MaxOrderItems {
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "an order has 1..%d items, got %d", MaxOrderItems, len(o.Items))
	}
	var out domain.Order
	err := s.call(ctx, "RecordOrder", func(ctx context.Context) (int, error) {
		var err error
		if out, err = s.b.RecordOrder(ctx, o); err != nil {
			return 0, err
		}
		return 1 + len(o.Items), nil
	})
	return out, err
}

// upsertOne applies one flushed state in onto the stored cur following
// UpsertProducts' rules; write says whether next must be stored, and how
// the product counts in res.
func upsertOne(cur, in domain.Product, now time.Time, res *domain.UpsertResult) (next domain.Product, write bool) {
	next = cur
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
		return cur, false
	case in.Version == cur.Version:
		next.UpdatedAt = cur.UpdatedAt
		if next == cur {
			res.Same++
			return cur, false
		}
		next.Version = cur.Version + 1
	default:
		next.Version = in.Version
	}
	next.UpdatedAt = in.UpdatedAt
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = now
	}
	res.Applied++
	return next, true
}

// unavailable wraps a database failure (not a domain error, not the
// caller's cancellation) as CodeUnavailable, so servers answer 503 with
// Retry-After instead of 500.
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err()
	}
	return &unavailableError{err: err}
}

// unavailableError is a CodeUnavailable domain error that keeps the
// driver's error for logs (the client sees only the domain message).
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{&domain.Error{Code: domain.CodeUnavailable, Message: "the database is unavailable; retry later"}, e.err}
}
