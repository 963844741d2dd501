package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

func testData() domain.Dataset {
	return domain.Generate(1, domain.Counts{Users: 10, Products: 40, ReviewsPerProduct: 3, Orders: 20})
}

func ptr[T any](v T) *T { return &v }

func TestCallCostIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testData(), Options{}) // defaults: 2ms + 20µs/row
		ctx := t.Context()
		start := time.Now()
		if _, err := s.GetProduct(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), DefaultLatency+DefaultPerRow; got != want {
			t.Fatalf("GetProduct took %v, want %v", got, want)
		}
		start = time.Now()
		page, err := s.ListProducts(ctx, domain.ProductFilter{Limit: 10})
		if err != nil || len(page.Products) != 10 || page.Total != 40 {
			t.Fatalf("list: %+v %v", page, err)
		}
		if got, want := time.Since(start), DefaultLatency+10*DefaultPerRow; got != want {
			t.Fatalf("ListProducts(10) took %v, want %v", got, want)
		}
		st := s.Stats()
		if st.Calls != 2 || st.Rows != 11 || st.ByMethod["GetProduct"] != 1 || st.ByMethod["ListProducts"] != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestBatchCheaperThanSingles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testData(), Options{Latency: time.Millisecond, PerRow: 10 * time.Microsecond})
		ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
		start := time.Now()
		ps, err := s.GetProducts(t.Context(), append(ids, 999))
		if err != nil {
			t.Fatal(err)
		}
		batch := time.Since(start)
		if len(ps) != 11 || ps[0].ID != 1 || ps[9].ID != 10 || ps[10].ID != 0 {
			t.Fatalf("batch result %v", ps)
		}
		start = time.Now()
		for _, id := range ids {
			if _, err := s.GetProduct(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}
		singles := time.Since(start)
		if batch != time.Millisecond+10*10*time.Microsecond || singles != 10*(time.Millisecond+10*time.Microsecond) {
			t.Fatalf("batch %v, singles %v", batch, singles)
		}
		if batch*5 > singles {
			t.Fatalf("batch of 10 (%v) is not far cheaper than 10 singles (%v)", batch, singles)
		}
	})
}

func TestPoolQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testData(), Options{Latency: 10 * time.Millisecond, PerRow: Off, Pool: 2})
		start := time.Now()
		var mu sync.Mutex
		var done []time.Duration
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				if _, err := s.GetUser(t.Context(), int64(i+1)); err != nil {
					t.Error(err)
				}
				mu.Lock()
				done = append(done, time.Since(start))
				mu.Unlock()
			})
		}
		synctest.Wait()
		if st := s.Stats(); st.InFlight != 2 || st.Queued != 1 {
			t.Fatalf("in flight %d queued %d, want 2 and 1", st.InFlight, st.Queued)
		}
		wg.Wait()
		want := []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
		for i := range want {
			if done[i] != want[i] {
				t.Fatalf("completions %v, want %v", done, want)
			}
		}
		st := s.Stats()
		if st.QueueWaits != 1 || st.QueueWaitMax != 10*time.Millisecond || st.QueueWaitTotal != 10*time.Millisecond || st.QueueWaitMaxMS != 10 {
			t.Fatalf("queue stats %+v", st)
		}
	})
}

func TestCancelWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testData(), Options{Latency: time.Second, Pool: 1})
		go s.GetProduct(t.Context(), 1) // holds the only connection for 1s
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.GetProduct(ctx, 2)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Millisecond {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
		if st := s.Stats(); st.Errors != 1 || st.Calls != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestInjectedClockSleepRand(t *testing.T) {
	var slept []time.Duration
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(testData(), Options{
		Latency: time.Millisecond, PerRow: time.Microsecond, Jitter: 100 * time.Microsecond,
		Now:   func() time.Time { return fixed },
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil },
		Rand:  func() float64 { return 0.5 },
	})
	p, err := s.UpdateProduct(t.Context(), 3, domain.ProductPatch{Price: ptr(12.5)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || p.Price != 12.5 || !p.UpdatedAt.Equal(fixed) {
		t.Fatalf("updated %+v", p)
	}
	if len(slept) != 1 || slept[0] != time.Millisecond+time.Microsecond+50*time.Microsecond {
		t.Fatalf("slept %v", slept)
	}
}

func TestWritesAndErrors(t *testing.T) {
	s := New(testData(), Options{Latency: Off, PerRow: Off})
	ctx := t.Context()
	before, _ := s.PeekProduct(5)
	o, err := s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.PeekProduct(5)
	if o.ID != 21 || o.Total != before.Price || after.Stock != before.Stock-1 || after.Version != before.Version+1 {
		t.Fatalf("order %+v before %+v after %+v", o, before, after)
	}
	got, err := s.GetOrder(ctx, o.ID)
	if err != nil || got.UserID != 2 || len(got.Items) != 1 {
		t.Fatalf("get order %+v %v", got, err)
	}
	orders, _ := s.UserOrders(ctx, 2)
	if orders[len(orders)-1].ID != o.ID {
		t.Fatalf("user orders %+v", orders)
	}
	codes := []struct {
		name string
		err  error
		want domain.Code
	}{}
	add := func(name string, err error, want domain.Code) {
		codes = append(codes, struct {
			name string
			err  error
			want domain.Code
		}{name, err, want})
	}
	_, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: 0}}})
	add("quantity 0", err, domain.CodeInvalid)
	_, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 999, Quantity: 1}}})
	add("unknown product", err, domain.CodeInvalid)
	_, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 99, Items: []domain.OrderItem{{ProductID: 5, Quantity: 1}}})
	add("unknown user", err, domain.CodeInvalid)
	_, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2, Items: []domain.OrderItem{{ProductID: 5, Quantity: after.Stock + 1}}})
	add("insufficient stock", err, domain.CodeConflict)
	_, err = s.CreateOrder(ctx, domain.NewOrder{UserID: 2})
	add("no items", err, domain.CodeInvalid)
	_, err = s.UpdateProduct(ctx, 5, domain.ProductPatch{})
	add("empty patch", err, domain.CodeInvalid)
	_, err = s.UpdateProduct(ctx, 5, domain.ProductPatch{Price: ptr(-1.0)})
	add("negative price", err, domain.CodeInvalid)
	_, err = s.UpdateProduct(ctx, 999, domain.ProductPatch{Stock: ptr(int64(1))})
	add("update missing", err, domain.CodeNotFound)
	_, err = s.GetProduct(ctx, 999)
	add("get missing", err, domain.CodeNotFound)
	_, err = s.GetUser(ctx, 0)
	add("user 0", err, domain.CodeNotFound)
	_, err = s.ListProducts(ctx, domain.ProductFilter{Offset: -1})
	add("negative offset", err, domain.CodeInvalid)
	_, err = s.Authenticate(ctx, "user1@example.com", "nope")
	add("bad password", err, domain.CodeUnauthorized)
	_, err = s.Authenticate(ctx, "nobody@example.com", domain.SeedPassword)
	add("unknown email", err, domain.CodeUnauthorized)
	_, err = s.CreateReviews(ctx, []domain.NewReview{{ProductID: 1, AuthorID: 1, Rating: 6}})
	add("rating 6", err, domain.CodeInvalid)
	for _, c := range codes {
		if domain.ErrorCode(c.err) != c.want {
			t.Errorf("%s: got %v, want code %s", c.name, c.err, c.want)
		}
	}
	if after2, _ := s.PeekProduct(5); after2 != after {
		t.Fatalf("failed writes changed product 5: %+v -> %+v", after, after2)
	}
	u, err := s.Authenticate(ctx, "user3@example.com", domain.SeedPassword)
	if err != nil || u.ID != 3 {
		t.Fatalf("login: %+v %v", u, err)
	}

	// Delete removes it from reads and lists.
	if err := s.DeleteProduct(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProduct(ctx, 5); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("after delete: %v", err)
	}
	page, _ := s.ListProducts(ctx, domain.ProductFilter{Limit: 100})
	if page.Total != 39 {
		t.Fatalf("total after delete %d", page.Total)
	}
	if _, err := s.ProductReviews(ctx, 5, 0, 0); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("reviews of deleted: %v", err)
	}

	// Reviews.
	rs, err := s.CreateReviews(ctx, []domain.NewReview{{ProductID: 6, AuthorID: 1, Rating: 4, Text: "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := s.ProductReviews(ctx, 6, 0, domain.MaxPageSize)
	if list[len(list)-1].ID != rs[0].ID {
		t.Fatalf("reviews %+v", list)
	}
}

func TestListCategory(t *testing.T) {
	ds := testData()
	s := New(ds, Options{Latency: Off, PerRow: Off})
	want := 0
	for _, p := range ds.Products {
		if p.Category == "books" {
			want++
		}
	}
	page, err := s.ListProducts(t.Context(), domain.ProductFilter{Category: "books", Limit: 1000})
	if err != nil || page.Total != want || len(page.Products) != want || page.Limit != 1000 {
		t.Fatalf("books page %+v %v (want %d)", page, err, want)
	}
	for _, p := range page.Products {
		if p.Category != "books" {
			t.Fatalf("wrong category %+v", p)
		}
	}
	page, _ = s.ListProducts(t.Context(), domain.ProductFilter{Offset: 35})
	if len(page.Products) != 5 || page.Products[0].ID != 36 || page.Limit != domain.DefaultPageSize {
		t.Fatalf("tail page %+v", page)
	}
}

func TestUpsertProducts(t *testing.T) {
	s := New(testData(), Options{Latency: Off, PerRow: Off})
	ctx := t.Context()
	newer, _ := s.PeekProduct(7)
	newer.Price, newer.Stock, newer.Version = 1.25, 3, newer.Version+1
	conflict, _ := s.PeekProduct(8)
	conflict.Price = 2.5 // same version, different fields: another writer bumped the store
	same, _ := s.PeekProduct(10)
	stale, _ := s.PeekProduct(11)
	_, _ = s.UpdateProduct(ctx, 11, domain.ProductPatch{Stock: ptr(int64(1))}) // store now at version 2
	stale.Price = 99
	_ = s.DeleteProduct(ctx, 9)
	res, err := s.UpsertProducts(ctx, []domain.Product{newer, conflict, same, stale, {ID: 9, Price: 1, Version: 5}})
	if err != nil || res != (domain.UpsertResult{Applied: 2, Same: 1, Stale: 1, Missing: 1}) {
		t.Fatalf("upsert: %+v %v", res, err)
	}
	if got, _ := s.PeekProduct(7); got.Price != 1.25 || got.Stock != 3 || got.Version != newer.Version {
		t.Fatalf("7: %+v", got)
	}
	if got, _ := s.PeekProduct(8); got.Price != 2.5 || got.Version != 2 {
		t.Fatalf("8: %+v", got)
	}
	if got, _ := s.PeekProduct(11); got.Price == 99 || got.Version != 2 {
		t.Fatalf("stale write applied to 11: %+v", got)
	}
	if _, ok := s.PeekProduct(9); ok {
		t.Fatal("upsert resurrected deleted product 9")
	}
	// A duplicate delivery of the same batch changes nothing.
	again, _ := s.UpsertProducts(ctx, []domain.Product{newer})
	if again.Same != 1 {
		t.Fatalf("duplicate: %+v", again)
	}
	if st := s.Stats(); st.ByMethod["UpsertProducts"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStatsJSON(t *testing.T) {
	s := New(testData(), Options{Latency: Off, PerRow: Off})
	_, _ = s.GetProduct(t.Context(), 1)
	b, err := json.Marshal(s.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"calls", "rows", "queue_wait_total_ms", "queue_wait_max_ms", "by_method", "pool"} {
		if _, ok := m[k]; !ok {
			t.Errorf("stats JSON lacks %q: %s", k, b)
		}
	}
}

func TestStoreTracePerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(testData(), Options{Latency: 10 * time.Millisecond, PerRow: Off, Pool: 1})
		var a, b domain.StoreTrace
		var wg sync.WaitGroup
		wg.Go(func() {
			ctx := domain.WithStoreTrace(t.Context(), &a)
			if _, err := s.ListProducts(ctx, domain.ProductFilter{Limit: 5}); err != nil {
				t.Error(err)
			}
			if _, err := s.GetProduct(ctx, 1); err != nil {
				t.Error(err)
			}
		})
		synctest.Wait() // a holds the only connection
		wg.Go(func() {
			if _, err := s.GetProducts(domain.WithStoreTrace(t.Context(), &b), []int64{1, 2, 999}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if a.Calls() != 2 || a.Rows() != 6 {
			t.Errorf("trace a: calls %d rows %d, want 2 and 6", a.Calls(), a.Rows())
		}
		if b.Calls() != 1 || b.Rows() != 2 || b.Wait() != 10*time.Millisecond {
			t.Errorf("trace b: calls %d rows %d wait %v, want 1, 2, 10ms (queued behind a's list)", b.Calls(), b.Rows(), b.Wait())
		}
		if st := s.Stats(); st.Backend != BackendMemory || st.Calls != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}
