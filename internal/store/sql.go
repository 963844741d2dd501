package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

//go:embed migrations
var migrationFiles embed.FS

// rows is what a query returns, for both drivers.
type rows interface {
	Next() bool
	Scan(dst ...any) error
	Err() error
	Close()
}

// querier runs statements written with ? placeholders on one connection or
// in one transaction.
type querier interface {
	query(ctx context.Context, q string, args ...any) (rows, error)
	exec(ctx context.Context, q string, args ...any) (affected int64, err error)
}

// dbConn is one pooled connection.
type dbConn interface {
	querier
	begin(ctx context.Context) (dbTx, error)
	release()
}

type dbTx interface {
	querier
	commit(ctx context.Context) error
	rollback(ctx context.Context)
}

// driver is the database under a sqlStore: database/sql + modernc SQLite or
// pgxpool.
type driver interface {
	acquire(ctx context.Context) (dbConn, error)
	poolStats() PoolStats
	close()
}

// dialect holds what differs between SQLite and Postgres in the statements.
type dialect struct {
	name      string
	anyArray  bool   // ids as one array parameter (= ANY(?)) instead of IN (?,...)
	forUpdate string // row locks in read-modify-write transactions
	lock      string // statement serialising migrations ("" when BEGIN already does)
	afterSeed []string
}

// sqlStore is the Backend over a SQL database.
type sqlStore struct {
	d   driver
	dia dialect
	now func() time.Time
}

func (s *sqlStore) Name() string { return s.dia.name }

func (s *sqlStore) PoolStats() (PoolStats, bool) { return s.d.poolStats(), true }

func (s *sqlStore) Close() error { s.d.close(); return nil }

func (s *sqlStore) stamp() time.Time { return s.now().UTC().Round(0) }

// with runs fn on one connection. The time spent acquiring it is the
// call's connection wait; a driver error is CodeUnavailable.
func (s *sqlStore) with(ctx context.Context, fn func(q querier) error) error {
	start := time.Now()
	c, err := s.d.acquire(ctx)
	noteWait(ctx, time.Since(start))
	if err != nil {
		return unavailable(ctx, err)
	}
	defer c.release()
	return unavailable(ctx, fn(c))
}

// inTx runs fn in a transaction on one connection; any error rolls back.
func (s *sqlStore) inTx(ctx context.Context, fn func(q querier) error) error {
	return s.with(ctx, func(c querier) error {
		tx, err := c.(dbConn).begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.rollback(context.WithoutCancel(ctx))
			return err
		}
		return tx.commit(ctx)
	})
}

// in returns "col IN (?,?,...)" or "col = ANY(?)" and its arguments.
func (s *sqlStore) in(col string, ids []int64) (string, []any) {
	if s.dia.anyArray {
		return col + " = ANY(?)", []any{ids}
	}
	if len(ids) == 0 {
		return "1 = 0", nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return col + " IN (" + strings.Repeat("?,", len(ids)-1) + "?)", args
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// ---- schema and seed ----

// migrate applies the embedded migrations not yet applied, then loads ds
// when the database holds no dataset yet. It returns what the database
// holds ("seed=... counts=...") and whether this call loaded it.
func (s *sqlStore) migrate(ctx context.Context, ds domain.Dataset) (held string, seeded bool, err error) {
	dir := "migrations/" + s.dia.name
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return "", false, err
	}
	err = s.inTx(ctx, func(q querier) error {
		if s.dia.lock != "" {
			if _, err := q.exec(ctx, s.dia.lock); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
			return err
		}
		applied := map[int64]bool{}
		r, err := q.query(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return err
		}
		for r.Next() {
			var v int64
			if err := r.Scan(&v); err != nil {
				r.Close()
				return err
			}
			applied[v] = true
		}
		r.Close()
		if err := r.Err(); err != nil {
			return err
		}
		for _, e := range entries {
			num, _, _ := strings.Cut(e.Name(), "_")
			v, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return fmt.Errorf("migration %s: name must start with a number", e.Name())
			}
			if applied[v] {
				continue
			}
			body, err := migrationFiles.ReadFile(dir + "/" + e.Name())
			if err != nil {
				return err
			}
			for _, stmt := range splitSQL(string(body)) {
				if _, err := q.exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", e.Name(), err)
				}
			}
			if _, err := q.exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", v, nanos(time.Now())); err != nil {
				return err
			}
		}
		r, err = q.query(ctx, "SELECT value FROM meta WHERE key = 'dataset'")
		if err != nil {
			return err
		}
		if r.Next() {
			err = r.Scan(&held)
		}
		r.Close()
		if err != nil {
			return err
		}
		if held != "" {
			return nil
		}
		held = fmt.Sprintf("seed=%d users=%d products=%d reviews_per_product=%d orders=%d",
			ds.Seed, ds.Counts.Users, ds.Counts.Products, ds.Counts.ReviewsPerProduct, ds.Counts.Orders)
		if err := s.load(ctx, q, ds); err != nil {
			return fmt.Errorf("load dataset: %w", err)
		}
		if _, err := q.exec(ctx, "INSERT INTO meta (key, value) VALUES ('dataset', ?)", held); err != nil {
			return err
		}
		seeded = true
		return nil
	})
	return held, seeded, err
}

// splitSQL splits a migration into statements at semicolons ending a line,
// dropping comment lines.
func splitSQL(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// load inserts ds with multi-row INSERTs of at most 500 rows.
func (s *sqlStore) load(ctx context.Context, q querier, ds domain.Dataset) error {
	creds := map[int64]domain.Credential{}
	for _, c := range ds.Credentials {
		creds[c.UserID] = c
	}
	if err := insertRows(ctx, q, "users (id, name, email, version, updated_at, salt, hash)", 7, len(ds.Users), func(i int) []any {
		u := ds.Users[i]
		c := creds[u.ID]
		return []any{u.ID, u.Name, u.Email, u.Version, nanos(u.UpdatedAt), c.Salt, c.Hash}
	}); err != nil {
		return err
	}
	if err := insertRows(ctx, q, "products (id, name, description, category, price, stock, version, updated_at)", 8, len(ds.Products), func(i int) []any {
		p := ds.Products[i]
		return []any{p.ID, p.Name, p.Description, p.Category, p.Price, p.Stock, p.Version, nanos(p.UpdatedAt)}
	}); err != nil {
		return err
	}
	if err := insertRows(ctx, q, "reviews (id, product_id, author_id, rating, text, version, updated_at)", 7, len(ds.Reviews), func(i int) []any {
		r := ds.Reviews[i]
		return []any{r.ID, r.ProductID, r.AuthorID, r.Rating, r.Text, r.Version, nanos(r.UpdatedAt)}
	}); err != nil {
		return err
	}
	if err := insertRows(ctx, q, "orders (id, user_id, total, status, version, updated_at)", 6, len(ds.Orders), func(i int) []any {
		o := ds.Orders[i]
		return []any{o.ID, o.UserID, o.Total, string(o.Status), o.Version, nanos(o.UpdatedAt)}
	}); err != nil {
		return err
	}
	type line struct {
		order int64
		n     int
		it    domain.OrderItem
	}
	var lines []line
	for _, o := range ds.Orders {
		for n, it := range o.Items {
			lines = append(lines, line{o.ID, n, it})
		}
	}
	if err := insertRows(ctx, q, "order_items (order_id, line, product_id, quantity, unit_price)", 5, len(lines), func(i int) []any {
		l := lines[i]
		return []any{l.order, l.n, l.it.ProductID, l.it.Quantity, l.it.UnitPrice}
	}); err != nil {
		return err
	}
	for _, stmt := range s.dia.afterSeed {
		if _, err := q.exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

func insertRows(ctx context.Context, q querier, into string, cols, n int, row func(i int) []any) error {
	const batch = 500
	tuple := "(" + strings.Repeat("?,", cols-1) + "?)"
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + into + " VALUES ")
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteByte(',')
			}
			sb.WriteString(tuple)
			args = append(args, row(i)...)
		}
		if _, err := q.exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// ---- scanning ----

const productCols = "id, name, description, category, price, stock, version, updated_at"

func scanProduct(r rows) (domain.Product, error) {
	var p domain.Product
	var at int64
	err := r.Scan(&p.ID, &p.Name, &p.Description, &p.Category, &p.Price, &p.Stock, &p.Version, &at)
	p.UpdatedAt = fromNanos(at)
	return p, err
}

// collect scans every row of a query with scan.
func collect[T any](ctx context.Context, q querier, scan func(rows) (T, error), stmt string, args ...any) ([]T, error) {
	r, err := q.query(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := []T{}
	for r.Next() {
		v, err := scan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, r.Err()
}

func scanInt(r rows) (int64, error) {
	var v int64
	err := r.Scan(&v)
	return v, err
}

// exists reports whether stmt returns a row.
func exists(ctx context.Context, q querier, stmt string, args ...any) (bool, error) {
	vs, err := collect(ctx, q, scanInt, stmt, args...)
	return len(vs) > 0, err
}

// ---- reads ----

func (s *sqlStore) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	var p domain.Product
	err := s.with(ctx, func(q querier) error {
		ps, err := collect(ctx, q, scanProduct, "SELECT "+productCols+" FROM products WHERE id = ?", id)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return notFound("product", id)
		}
		p = ps[0]
		return nil
	})
	return p, err
}

func (s *sqlStore) PeekProduct(ctx context.Context, id int64) (domain.Product, bool, error) {
	p, err := s.GetProduct(ctx, id)
	if domain.ErrorCode(err) == domain.CodeNotFound {
		return domain.Product{}, false, nil
	}
	return p, err == nil, err
}

// GetProducts is one query: WHERE id IN (...) / = ANY($1).
func (s *sqlStore) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
	return byIDs(ctx, s, ids, scanProduct, "SELECT "+productCols+" FROM products WHERE ", func(p domain.Product) int64 { return p.ID })
}

// byIDs reads the rows of ids in one query (stmt + the id condition) and
// returns one entry per id in order; a missing id yields the zero value.
func byIDs[T any](ctx context.Context, s *sqlStore, ids []int64, scan func(rows) (T, error), stmt string, idOf func(T) int64) ([]T, error) {
	out := make([]T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := s.with(ctx, func(q querier) error {
		uniq := slices.Clone(ids)
		slices.Sort(uniq)
		uniq = slices.Compact(uniq)
		cond, args := s.in("id", uniq)
		found, err := collect(ctx, q, scan, stmt+cond, args...)
		if err != nil {
			return err
		}
		byID := make(map[int64]T, len(found))
		for _, v := range found {
			byID[idOf(v)] = v
		}
		for i, id := range ids {
			out[i] = byID[id]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) ListProducts(ctx context.Context, f domain.ProductFilter) (domain.ProductPage, error) {
	page := domain.ProductPage{Offset: f.Offset, Limit: f.Limit}
	err := s.with(ctx, func(q querier) error {
		var conds []string
		args := []any{}
		if f.Category != "" {
			conds, args = append(conds, "category = ?"), append(args, f.Category)
		}
		if f.After > 0 {
			conds, args = append(conds, "id > ?"), append(args, f.After)
		}
		where := ""
		if len(conds) > 0 {
			where = " WHERE " + strings.Join(conds, " AND ")
		}
		n, err := collect(ctx, q, scanInt, "SELECT count(*) FROM products"+where, args...)
		if err != nil {
			return err
		}
		page.Total = int(n[0])
		page.Products, err = collect(ctx, q, scanProduct,
			"SELECT "+productCols+" FROM products"+where+" ORDER BY id LIMIT ? OFFSET ?", append(args, f.Limit, f.Offset)...)
		return err
	})
	if err != nil {
		return domain.ProductPage{}, err
	}
	return page, nil
}

func scanReview(r rows) (domain.Review, error) {
	var v domain.Review
	var at int64
	err := r.Scan(&v.ID, &v.ProductID, &v.AuthorID, &v.Rating, &v.Text, &v.Version, &at)
	v.UpdatedAt = fromNanos(at)
	return v, err
}

func (s *sqlStore) ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]domain.Review, error) {
	var out []domain.Review
	err := s.with(ctx, func(q querier) error {
		ok, err := exists(ctx, q, "SELECT id FROM products WHERE id = ?", productID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("product", productID)
		}
		out, err = collect(ctx, q, scanReview,
			"SELECT id, product_id, author_id, rating, text, version, updated_at FROM reviews WHERE product_id = ? ORDER BY id LIMIT ? OFFSET ?",
			productID, limit, offset)
		return err
	})
	return out, err
}

// ReviewsOfProducts is one query: each live product's first limit reviews,
// numbered per product with ROW_NUMBER() (SQLite >= 3.25 and Postgres).
func (s *sqlStore) ReviewsOfProducts(ctx context.Context, productIDs []int64, limit int) ([][]domain.Review, error) {
	out := make([][]domain.Review, len(productIDs))
	for i := range out {
		out[i] = []domain.Review{}
	}
	if len(productIDs) == 0 {
		return out, nil
	}
	err := s.with(ctx, func(q querier) error {
		uniq := slices.Clone(productIDs)
		slices.Sort(uniq)
		uniq = slices.Compact(uniq)
		cond, args := s.in("r.product_id", uniq)
		rs, err := collect(ctx, q, scanReview,
			"SELECT id, product_id, author_id, rating, text, version, updated_at FROM ("+
				"SELECT r.id, r.product_id, r.author_id, r.rating, r.text, r.version, r.updated_at, "+
				"ROW_NUMBER() OVER (PARTITION BY r.product_id ORDER BY r.id) AS rn "+
				"FROM reviews r JOIN products p ON p.id = r.product_id WHERE "+cond+
				") AS t WHERE rn <= ? ORDER BY product_id, id", append(args, limit)...)
		if err != nil {
			return err
		}
		byProduct := map[int64][]domain.Review{}
		for _, r := range rs {
			byProduct[r.ProductID] = append(byProduct[r.ProductID], r)
		}
		for i, pid := range productIDs {
			if rs := byProduct[pid]; rs != nil {
				out[i] = slices.Clone(rs)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetUsers is one query: WHERE id IN (...) / = ANY($1).
func (s *sqlStore) GetUsers(ctx context.Context, ids []int64) ([]domain.User, error) {
	return byIDs(ctx, s, ids, scanUser, "SELECT "+userCols+" FROM users WHERE ", func(u domain.User) int64 { return u.ID })
}

func scanUser(r rows) (domain.User, error) {
	var u domain.User
	var at int64
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Version, &at)
	u.UpdatedAt = fromNanos(at)
	return u, err
}

const userCols = "id, name, email, version, updated_at"

func (s *sqlStore) GetUser(ctx context.Context, id int64) (domain.User, error) {
	var u domain.User
	err := s.with(ctx, func(q querier) error {
		us, err := collect(ctx, q, scanUser, "SELECT "+userCols+" FROM users WHERE id = ?", id)
		if err != nil {
			return err
		}
		if len(us) == 0 {
			return notFound("user", id)
		}
		u = us[0]
		return nil
	})
	return u, err
}

func (s *sqlStore) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	var u domain.User
	err := s.with(ctx, func(q querier) error {
		us, err := collect(ctx, q, scanUser, "SELECT "+userCols+" FROM users WHERE email = ?", email)
		if err != nil {
			return err
		}
		if len(us) == 0 {
			return domain.Errorf(domain.CodeNotFound, "no user with email %q", email)
		}
		u = us[0]
		return nil
	})
	return u, err
}

func (s *sqlStore) Authenticate(ctx context.Context, email, password string) (domain.User, error) {
	var u domain.User
	err := s.with(ctx, func(q querier) error {
		type row struct {
			u    domain.User
			cred domain.Credential
		}
		rs, err := collect(ctx, q, func(r rows) (row, error) {
			var x row
			var at int64
			err := r.Scan(&x.u.ID, &x.u.Name, &x.u.Email, &x.u.Version, &at, &x.cred.Salt, &x.cred.Hash)
			x.u.UpdatedAt = fromNanos(at)
			return x, err
		}, "SELECT "+userCols+", salt, hash FROM users WHERE email = ?", email)
		if err != nil {
			return err
		}
		if len(rs) == 0 || !rs[0].cred.Check(password) {
			return domain.Errorf(domain.CodeUnauthorized, "wrong email or password")
		}
		u = rs[0].u
		return nil
	})
	return u, err
}

// orderRows reads orders with their lines (one join) in order id order.
func orderRows(ctx context.Context, q querier, where string, arg int64) ([]domain.Order, error) {
	type line struct {
		o  domain.Order
		it domain.OrderItem
	}
	ls, err := collect(ctx, q, func(r rows) (line, error) {
		var l line
		var at int64
		var status string
		err := r.Scan(&l.o.ID, &l.o.UserID, &l.o.Total, &status, &l.o.Version, &at, &l.it.ProductID, &l.it.Quantity, &l.it.UnitPrice)
		l.o.Status, l.o.UpdatedAt = domain.OrderStatus(status), fromNanos(at)
		return l, err
	}, "SELECT o.id, o.user_id, o.total, o.status, o.version, o.updated_at, i.product_id, i.quantity, i.unit_price "+
		"FROM orders o JOIN order_items i ON i.order_id = o.id WHERE "+where+" ORDER BY o.id, i.line", arg)
	if err != nil {
		return nil, err
	}
	out := []domain.Order{}
	for _, l := range ls {
		if n := len(out); n == 0 || out[n-1].ID != l.o.ID {
			out = append(out, l.o)
		}
		o := &out[len(out)-1]
		o.Items = append(o.Items, l.it)
	}
	return out, nil
}

func (s *sqlStore) UserOrders(ctx context.Context, userID int64) ([]domain.Order, error) {
	var out []domain.Order
	err := s.with(ctx, func(q querier) error {
		ok, err := exists(ctx, q, "SELECT id FROM users WHERE id = ?", userID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("user", userID)
		}
		out, err = orderRows(ctx, q, "o.user_id = ?", userID)
		return err
	})
	return out, err
}

func (s *sqlStore) GetOrder(ctx context.Context, id int64) (domain.Order, error) {
	var o domain.Order
	err := s.with(ctx, func(q querier) error {
		os, err := orderRows(ctx, q, "o.id = ?", id)
		if err != nil {
			return err
		}
		if len(os) == 0 {
			return notFound("order", id)
		}
		o = os[0]
		return nil
	})
	return o, err
}

// ---- writes ----

// lockProducts reads the products ids (sorted, distinct) and, on Postgres,
// locks their rows in id order (no deadlocks between concurrent writers).
func (s *sqlStore) lockProducts(ctx context.Context, q querier, ids []int64) (map[int64]domain.Product, error) {
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	cond, args := s.in("id", uniq)
	ps, err := collect(ctx, q, scanProduct, "SELECT "+productCols+" FROM products WHERE "+cond+" ORDER BY id"+s.dia.forUpdate, args...)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]domain.Product, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m, nil
}

func (s *sqlStore) CreateOrder(ctx context.Context, in domain.NewOrder) (domain.Order, error) {
	var o domain.Order
	err := s.inTx(ctx, func(q querier) error {
		ok, err := exists(ctx, q, "SELECT id FROM users WHERE id = ?", in.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.CodeInvalid, "unknown user %d", in.UserID)
		}
		ids := make([]int64, len(in.Items))
		for i, it := range in.Items {
			ids[i] = it.ProductID
		}
		prods, err := s.lockProducts(ctx, q, ids)
		if err != nil {
			return err
		}
		want := map[int64]int64{}
		for _, it := range in.Items {
			p, ok := prods[it.ProductID]
			if !ok {
				return domain.Errorf(domain.CodeInvalid, "unknown product %d", it.ProductID)
			}
			want[p.ID] += it.Quantity
			if want[p.ID] > p.Stock {
				return domain.Errorf(domain.CodeConflict, "insufficient stock for product %d: %d left, %d wanted", p.ID, p.Stock, want[p.ID])
			}
		}
		now := s.stamp()
		o = domain.Order{UserID: in.UserID, Status: domain.OrderPending, Version: 1, UpdatedAt: now, Items: make([]domain.OrderItem, len(in.Items))}
		total := 0.0
		for i, it := range in.Items {
			p := prods[it.ProductID]
			o.Items[i] = domain.OrderItem{ProductID: p.ID, Quantity: it.Quantity, UnitPrice: p.Price}
			total += float64(it.Quantity) * p.Price
		}
		o.Total = domain.RoundCents(total)
		newIDs, err := collect(ctx, q, scanInt, "INSERT INTO orders (user_id, total, status, version, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
			o.UserID, o.Total, string(o.Status), o.Version, nanos(now))
		if err != nil {
			return err
		}
		o.ID = newIDs[0]
		if err := insertItems(ctx, q, o); err != nil {
			return err
		}
		pids := make([]int64, 0, len(want))
		for id := range want {
			pids = append(pids, id)
		}
		slices.Sort(pids)
		for _, id := range pids {
			// The WHERE keeps stock >= 0 even if another writer got in first.
			n, err := q.exec(ctx, "UPDATE products SET stock = stock - ?, version = version + 1, updated_at = ? WHERE id = ? AND stock >= ?",
				want[id], nanos(now), id, want[id])
			if err != nil {
				return err
			}
			if n == 0 {
				return domain.Errorf(domain.CodeConflict, "insufficient stock for product %d", id)
			}
		}
		return nil
	})
	if err != nil {
		return domain.Order{}, err
	}
	return o, nil
}

func insertItems(ctx context.Context, q querier, o domain.Order) error {
	return insertRows(ctx, q, "order_items (order_id, line, product_id, quantity, unit_price)", 5, len(o.Items), func(i int) []any {
		it := o.Items[i]
		return []any{o.ID, i, it.ProductID, it.Quantity, it.UnitPrice}
	})
}

// RecordOrder inserts a priced order and its lines; stock is not touched.
func (s *sqlStore) RecordOrder(ctx context.Context, o domain.Order) (domain.Order, error) {
	err := s.inTx(ctx, func(q querier) error {
		ok, err := exists(ctx, q, "SELECT id FROM users WHERE id = ?", o.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.CodeInvalid, "unknown user %d", o.UserID)
		}
		ids, err := collect(ctx, q, scanInt, "INSERT INTO orders (user_id, total, status, version, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
			o.UserID, o.Total, string(o.Status), o.Version, nanos(o.UpdatedAt))
		if err != nil {
			return err
		}
		o.ID = ids[0]
		return insertItems(ctx, q, o)
	})
	if err != nil {
		return domain.Order{}, err
	}
	return o, nil
}

func (s *sqlStore) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	var p domain.Product
	err := s.with(ctx, func(q querier) error {
		ps, err := collect(ctx, q, scanProduct,
			"UPDATE products SET price = COALESCE(?, price), stock = COALESCE(?, stock), name = COALESCE(?, name), category = COALESCE(?, category), version = version + 1, updated_at = ? WHERE id = ? RETURNING "+productCols,
			patch.Price, patch.Stock, patch.Name, patch.Category, nanos(s.stamp()), id)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return notFound("product", id)
		}
		p = ps[0]
		return nil
	})
	return p, err
}

func (s *sqlStore) DeleteProduct(ctx context.Context, id int64) error {
	return s.with(ctx, func(q querier) error {
		n, err := q.exec(ctx, "DELETE FROM products WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("product", id)
		}
		return nil
	})
}

func (s *sqlStore) CreateReviews(ctx context.Context, rs []domain.NewReview) ([]domain.Review, error) {
	var out []domain.Review
	err := s.inTx(ctx, func(q querier) error {
		pids, uids := make([]int64, len(rs)), make([]int64, len(rs))
		for i, r := range rs {
			pids[i], uids[i] = r.ProductID, r.AuthorID
		}
		pc, pargs := s.in("id", pids)
		haveP, err := collect(ctx, q, scanInt, "SELECT id FROM products WHERE "+pc, pargs...)
		if err != nil {
			return err
		}
		uc, uargs := s.in("id", uids)
		haveU, err := collect(ctx, q, scanInt, "SELECT id FROM users WHERE "+uc, uargs...)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !slices.Contains(haveP, r.ProductID) {
				return domain.Errorf(domain.CodeInvalid, "unknown product %d", r.ProductID)
			}
			if !slices.Contains(haveU, r.AuthorID) {
				return domain.Errorf(domain.CodeInvalid, "unknown author (user) %d", r.AuthorID)
			}
		}
		now := s.stamp()
		out = make([]domain.Review, len(rs))
		for i, r := range rs {
			ids, err := collect(ctx, q, scanInt, "INSERT INTO reviews (product_id, author_id, rating, text, version, updated_at) VALUES (?, ?, ?, ?, 1, ?) RETURNING id",
				r.ProductID, r.AuthorID, r.Rating, r.Text, nanos(now))
			if err != nil {
				return err
			}
			out[i] = domain.Review{ID: ids[0], ProductID: r.ProductID, AuthorID: r.AuthorID, Rating: r.Rating, Text: r.Text, Version: 1, UpdatedAt: now}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqlStore) UpsertProducts(ctx context.Context, ps []domain.Product) (domain.UpsertResult, error) {
	var res domain.UpsertResult
	err := s.inTx(ctx, func(q querier) error {
		res = domain.UpsertResult{}
		ids := make([]int64, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
		}
		cur, err := s.lockProducts(ctx, q, ids)
		if err != nil {
			return err
		}
		now := s.stamp()
		changed := map[int64]bool{}
		for _, in := range ps {
			c, ok := cur[in.ID]
			if !ok {
				res.Missing++
				continue
			}
			next, write := upsertOne(c, in, now, &res)
			if write {
				cur[in.ID] = next
				changed[in.ID] = true
			}
		}
		for _, id := range ids {
			if !changed[id] {
				continue
			}
			delete(changed, id)
			p := cur[id]
			if _, err := q.exec(ctx, "UPDATE products SET name = ?, description = ?, category = ?, price = ?, stock = ?, version = ?, updated_at = ? WHERE id = ?",
				p.Name, p.Description, p.Category, p.Price, p.Stock, p.Version, nanos(p.UpdatedAt), id); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

var _ Backend = (*sqlStore)(nil)
