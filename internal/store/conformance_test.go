package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/store/pgtest"
)

var pgCluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(m, &pgCluster) }

var fixedNow = func() time.Time { return time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC) }

// backendSpecs returns a fresh spec per backend: memory, a new SQLite file,
// a new Postgres database.
func backendSpecs(t *testing.T) map[string]string {
	return map[string]string{
		BackendMemory:   "memory",
		BackendSQLite:   "sqlite:" + filepath.Join(t.TempDir(), "shop.db"),
		BackendPostgres: "", // created in the subtest so a missing cluster skips only it
	}
}

func openFor(t *testing.T, name, spec string, ds domain.Dataset) (*Store, Info) {
	t.Helper()
	if name == BackendPostgres && spec == "" {
		spec = pgCluster.NewDatabase(t)
	}
	b, info, err := Open(t.Context(), OpenOptions{Spec: spec, Dataset: ds, Now: fixedNow, Pool: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if b.Name() != name {
		t.Fatalf("opened %s, want %s", b.Name(), name)
	}
	return Wrap(b, Options{Latency: Off, PerRow: Off}), info
}

// transcript runs one fixed sequence of reads and writes and records every
// result and error code as JSON: every backend must produce the same.
func transcript(t *testing.T, s *Store) []string {
	ctx := t.Context()
	var out []string
	rec := func(what string, v any, err error) {
		if err != nil {
			out = append(out, fmt.Sprintf("%s -> error %s: %s", what, domain.ErrorCode(err), domain.ErrorMessage(err)))
			return
		}
		b, _ := json.Marshal(v)
		out = append(out, what+" -> "+string(b))
	}
	p, err := s.GetProduct(ctx, 7)
	rec("GetProduct 7", p, err)
	p, err = s.GetProduct(ctx, 999)
	rec("GetProduct 999", p, err)
	ps, err := s.GetProducts(ctx, []int64{3, 999, 1, 3})
	rec("GetProducts", ps, err)
	page, err := s.ListProducts(ctx, domain.ProductFilter{Offset: 5, Limit: 7})
	rec("ListProducts", page, err)
	page, err = s.ListProducts(ctx, domain.ProductFilter{Category: domain.Categories[1], Limit: 3})
	rec("ListProducts category", page, err)
	page, err = s.ListProducts(ctx, domain.ProductFilter{Offset: 1000})
	rec("ListProducts past end", page, err)
	rs, err := s.ProductReviews(ctx, 2, 1, 2)
	rec("ProductReviews", rs, err)
	rs, err = s.ProductReviews(ctx, 999, 0, 0)
	rec("ProductReviews missing", rs, err)
	u, err := s.GetUser(ctx, 3)
	rec("GetUser", u, err)
	u, err = s.GetUser(ctx, 0)
	rec("GetUser 0", u, err)
	u, err = s.UserByEmail(ctx, "user4@example.com")
	rec("UserByEmail", u, err)
	u, err = s.UserByEmail(ctx, "nobody@example.com")
	rec("UserByEmail missing", u, err)
	u, err = s.Authenticate(ctx, "user1@example.com", domain.SeedPassword)
	rec("Authenticate", u, err)
	u, err = s.Authenticate(ctx, "user1@example.com", "wrong")
	rec("Authenticate wrong", u, err)
	os, err := s.UserOrders(ctx, 2)
	rec("UserOrders", os, err)
	os, err = s.UserOrders(ctx, 99)
	rec("UserOrders missing", os, err)
	o, err := s.GetOrder(ctx, 4)
	rec("GetOrder", o, err)
	o, err = s.GetOrder(ctx, 999)
	rec("GetOrder missing", o, err)

	before, _ := s.GetProduct(ctx, 5)
	o, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: 1}, {ProductID: 6, Quantity: 2}, {ProductID: 5, Quantity: 1}}})
	rec("CreateOrder", o, err)
	o, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: before.Stock}}})
	rec("CreateOrder past stock", o, err)
	o, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 999, Quantity: 1}}})
	rec("CreateOrder unknown product", o, err)
	o, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 99, Items: []domain.OrderItem{{ProductID: 5, Quantity: 1}}})
	rec("CreateOrder unknown user", o, err)
	o, err = s.RecordOrder(ctx, domain.Order{UserID: 2, Items: []domain.OrderItem{{ProductID: 3, Quantity: 2, UnitPrice: 1.25}}, Total: 2.5, Status: domain.OrderPending, Version: 1, UpdatedAt: fixedNow()})
	rec("RecordOrder", o, err)
	o, err = s.RecordOrder(ctx, domain.Order{UserID: 99, Items: []domain.OrderItem{{ProductID: 3, Quantity: 2, UnitPrice: 1.25}}, Total: 2.5, Status: domain.OrderPending, Version: 1, UpdatedAt: fixedNow()})
	rec("RecordOrder unknown user", o, err)
	os, err = s.UserOrders(ctx, 2)
	rec("UserOrders after", os, err)
	p, err = s.UpdateProduct(ctx, 8, domain.ProductPatch{Price: ptr(12.5)})
	rec("UpdateProduct price", p, err)
	p, err = s.UpdateProduct(ctx, 8, domain.ProductPatch{Stock: ptr(int64(3))})
	rec("UpdateProduct stock", p, err)
	p, err = s.UpdateProduct(ctx, 999, domain.ProductPatch{Stock: ptr(int64(3))})
	rec("UpdateProduct missing", p, err)
	rec("DeleteProduct", nil, s.DeleteProduct(ctx, 9))
	rec("DeleteProduct again", nil, s.DeleteProduct(ctx, 9))
	page, err = s.ListProducts(ctx, domain.ProductFilter{Limit: 3, Offset: 7})
	rec("ListProducts after delete", page, err)
	rv, err := s.CreateReviews(ctx, []domain.NewReview{{ProductID: 2, AuthorID: 1, Rating: 4, Text: "fine"}, {ProductID: 2, AuthorID: 3, Rating: 5, Text: "great"}})
	rec("CreateReviews", rv, err)
	rv, err = s.CreateReviews(ctx, []domain.NewReview{{ProductID: 9, AuthorID: 1, Rating: 4}})
	rec("CreateReviews deleted product", rv, err)
	rv, err = s.CreateReviews(ctx, []domain.NewReview{{ProductID: 2, AuthorID: 99, Rating: 4}})
	rec("CreateReviews unknown author", rv, err)
	rs, err = s.ProductReviews(ctx, 2, 0, 100)
	rec("ProductReviews after", rs, err)
	cur, _ := s.GetProduct(ctx, 10)
	newer := cur
	newer.Version, newer.Stock, newer.UpdatedAt = cur.Version+1, 77, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	stale := cur
	stale.Version, stale.Stock = cur.Version-1, 1
	res, err := s.UpsertProducts(ctx, []domain.Product{newer, stale, {ID: 9, Version: 5}, {ID: 11, Version: 0, Stock: 1}})
	rec("UpsertProducts", res, err)
	res, err = s.UpsertProducts(ctx, []domain.Product{newer})
	rec("UpsertProducts duplicate", res, err)
	ps, err = s.GetProducts(ctx, []int64{10, 11, 9})
	rec("GetProducts after upsert", ps, err)
	return out
}

func TestConformance(t *testing.T) {
	ds := domain.Generate(3, domain.Counts{Users: 12, Products: 60, ReviewsPerProduct: 3, Orders: 25})
	mem, _ := openFor(t, BackendMemory, "memory", ds)
	want := transcript(t, mem)
	for name, spec := range backendSpecs(t) {
		if name == BackendMemory {
			continue
		}
		t.Run(name, func(t *testing.T) {
			s, info := openFor(t, name, spec, ds)
			if !info.Seeded {
				t.Fatalf("a new database was not seeded: %+v", info)
			}
			got := transcript(t, s)
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					t.Fatalf("step %d differs from the memory backend:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			if st := s.Stats(); st.Backend != name || st.Calls == 0 || st.Pool != 4 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// A database keeps what was written across a restart: the dataset is
// loaded only into an empty one.
func TestRestartKeepsWrites(t *testing.T) {
	for name, spec := range backendSpecs(t) {
		if name == BackendMemory {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if spec == "" {
				spec = pgCluster.NewDatabase(t)
			}
			ds := domain.Generate(1, domain.Counts{Users: 5, Products: 20, ReviewsPerProduct: 1, Orders: 3})
			b, info, err := Open(t.Context(), OpenOptions{Spec: spec, Dataset: ds})
			if err != nil || !info.Seeded {
				t.Fatalf("first open: %+v %v", info, err)
			}
			s := Wrap(b, Options{Latency: Off, PerRow: Off})
			if _, err := s.UpdateProduct(t.Context(), 4, domain.ProductPatch{Price: ptr(99.25)}); err != nil {
				t.Fatal(err)
			}
			o, err := s.CreateOrder(t.Context(), domain.NewOrder{UserID: 1, Items: []domain.OrderItem{{ProductID: 4, Quantity: 1}}})
			if err != nil || o.ID != 4 {
				t.Fatalf("order %+v %v", o, err)
			}
			b.Close()
			other := domain.Generate(2, domain.Counts{Users: 50, Products: 50})
			b, info, err = Open(t.Context(), OpenOptions{Spec: spec, Dataset: other})
			if err != nil || info.Seeded || info.Dataset != datasetLabel(ds) {
				t.Fatalf("reopen: %+v %v (want the first dataset kept)", info, err)
			}
			defer b.Close()
			s = Wrap(b, Options{Latency: Off, PerRow: Off})
			p, err := s.GetProduct(t.Context(), 4)
			if err != nil || p.Price != 99.25 || p.Version != ds.Products[3].Version+2 {
				t.Fatalf("after restart: %+v %v", p, err)
			}
			o2, err := s.CreateOrder(t.Context(), domain.NewOrder{UserID: 1, Items: []domain.OrderItem{{ProductID: 4, Quantity: 1}}})
			if err != nil || o2.ID != 5 {
				t.Fatalf("order ids continue after restart: %+v %v", o2, err)
			}
		})
	}
}

// Concurrent orders for the last units: exactly the stock is sold, never
// more, on every backend.
func TestConcurrentOrdersNeverOversell(t *testing.T) {
	for name, spec := range backendSpecs(t) {
		t.Run(name, func(t *testing.T) {
			ds := domain.Generate(1, domain.Counts{Users: 5, Products: 5})
			ds.Products[0].Stock = 7
			s, _ := openFor(t, name, spec, ds)
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, conflicts := 0, 0
			for i := range 20 {
				wg.Go(func() {
					_, err := s.CreateOrder(t.Context(), domain.NewOrder{UserID: int64(i%5 + 1), Items: []domain.OrderItem{{ProductID: 1, Quantity: 1}}})
					mu.Lock()
					defer mu.Unlock()
					switch domain.ErrorCode(err) {
					case "":
						ok++
					case domain.CodeConflict:
						conflicts++
					default:
						t.Errorf("order: %v", err)
					}
				})
			}
			wg.Wait()
			p, _ := s.PeekProduct(1)
			if ok != 7 || conflicts != 13 || p.Stock != 0 {
				t.Fatalf("%d ok, %d conflicts, stock %d; want 7, 13, 0", ok, conflicts, p.Stock)
			}
		})
	}
}

func TestStoreTraceOnDatabases(t *testing.T) {
	for name, spec := range backendSpecs(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := openFor(t, name, spec, domain.Generate(1, domain.Counts{Users: 3, Products: 30}))
			var tr domain.StoreTrace
			ctx := domain.WithStoreTrace(t.Context(), &tr)
			if _, err := s.GetProducts(ctx, []int64{1, 2, 3, 99}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ListProducts(ctx, domain.ProductFilter{Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if tr.Calls() != 2 || tr.Rows() != 13 {
				t.Fatalf("trace: %d calls, %d rows; want 2 and 13", tr.Calls(), tr.Rows())
			}
		})
	}
}

func TestBadSpecs(t *testing.T) {
	for _, spec := range []string{"mysql://x", "sqlite:", "redis://127.0.0.1", "postgres://u:secret@[::1"} {
		_, _, err := ParseSpec(spec)
		if err == nil {
			t.Errorf("%q accepted", spec)
			continue
		}
		if msg := err.Error(); len(msg) == 0 || containsAny(msg, "secret", "\n") {
			t.Errorf("%q: message %q (must be one line, no password)", spec, msg)
		}
	}
	if got := Redact("postgres://bob:hunter2@db:5432/shop"); containsAny(got, "hunter2") {
		t.Errorf("redact: %s", got)
	}
}

func TestUnreachableDatabaseFailsFast(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// A port nothing listens on: connection refused at once.
	_, _, err := Open(ctx, OpenOptions{Spec: "postgres://postgres@127.0.0.1:1/x?sslmode=disable", ConnectTimeout: 3 * time.Second})
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v, want *OpenError", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
	if containsAny(err.Error(), "\n") {
		t.Fatalf("not one line: %q", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if len(x) > 0 && strings.Contains(s, x) {
			return true
		}
	}
	return false
}
