package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/store"
)

func TestReadRoutes(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{MaxAge: 30 * time.Second})

	r := rt.get("/api/products?limit=5&offset=10")
	wantStatus(t, r, 200)
	var page domain.ProductPage
	r.json(t, &page)
	if len(page.Products) != 5 || page.Products[0].ID != 11 || page.Total != testCounts.Products {
		t.Errorf("page = %d products from id %d, total %d", len(page.Products), page.Products[0].ID, page.Total)
	}
	if r.Header.Get("Cache-Control") != "max-age=30" {
		t.Errorf("list Cache-Control = %q", r.Header.Get("Cache-Control"))
	}

	cat := page.Products[0].Category
	r = rt.get("/api/products?category=" + cat + "&limit=1000")
	r.json(t, &page)
	for _, p := range page.Products {
		if p.Category != cat {
			t.Fatalf("category filter %q returned %q", cat, p.Category)
		}
	}
	if page.Total == 0 || page.Total == testCounts.Products {
		t.Errorf("category %q total = %d", cat, page.Total)
	}

	r = rt.get("/api/products/3")
	wantStatus(t, r, 200)
	var p domain.Product
	r.json(t, &p)
	if p.ID != 3 {
		t.Fatalf("product = %+v", p)
	}
	for k, want := range map[string]string{
		"Content-Type":  "application/json",
		"Etag":          fmt.Sprintf(`"p3-v%d"`, p.Version),
		"Last-Modified": p.UpdatedAt.UTC().Format(http.TimeFormat),
		"Cache-Control": "max-age=30",
		"Vary":          "Accept",
		"X-Cache":       "MISS",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if rt.get("/api/products/3").Header.Get("X-Cache") != "HIT" {
		t.Error("second GET is not a cache HIT")
	}
	if r.Header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
		t.Errorf("Content-Length %q for %d bytes", r.Header.Get("Content-Length"), len(r.body))
	}

	r = rt.get("/api/products/3/reviews?limit=2")
	wantStatus(t, r, 200)
	var rp reviewsPage
	r.json(t, &rp)
	if rp.ProductID != 3 || rp.Limit != 2 || len(rp.Reviews) > 2 {
		t.Errorf("reviews = %+v", rp)
	}
	for _, rv := range rp.Reviews {
		if rv.ProductID != 3 {
			t.Errorf("review %d of product %d", rv.ID, rv.ProductID)
		}
	}

	admin := rt.login()
	r = rt.get("/api/users/2", "Authorization", admin)
	wantStatus(t, r, 200)
	var u domain.User
	r.json(t, &u)
	if u.ID != 2 || u.Email != "user2@example.com" || r.Header.Get("Etag") != fmt.Sprintf(`"u2-v%d"`, u.Version) {
		t.Errorf("user = %+v, etag %s", u, r.Header.Get("Etag"))
	}
	wantStatus(t, rt.get("/api/users/2", "If-None-Match", r.Header.Get("Etag"), "Authorization", admin), 304)

	var uo userOrdersBody
	found := false
	for id := 1; id <= testCounts.Users && !found; id++ {
		r = rt.get(fmt.Sprintf("/api/users/%d/orders", id), "Authorization", admin)
		wantStatus(t, r, 200)
		r.json(t, &uo)
		found = len(uo.Orders) > 0
	}
	if !found {
		t.Fatal("no user has orders")
	}
	for _, o := range uo.Orders {
		if o.UserID != uo.UserID {
			t.Errorf("order %d of user %d listed under user %d", o.ID, o.UserID, uo.UserID)
		}
	}
	r = rt.get(fmt.Sprintf("/api/orders/%d", uo.Orders[0].ID), "Authorization", admin)
	wantStatus(t, r, 200)
	var o domain.Order
	r.json(t, &o)
	if o.ID != uo.Orders[0].ID || r.Header.Get("Etag") != fmt.Sprintf(`"o%d-v%d"`, o.ID, o.Version) {
		t.Errorf("order = %+v, etag %s", o, r.Header.Get("Etag"))
	}

	wantStatus(t, rt.get("/healthz"), 200)
}

func TestNoCacheMaxAge(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	if cc := rt.get("/api/products/1").Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control with max-age 0 = %q, want no-cache", cc)
	}
}

func TestWriteRoutes(t *testing.T) {
	t.Parallel()
	feed := domain.NewFeed()
	sub := feed.Subscribe(domain.TopicProducts, 4, 3)
	defer sub.Close()
	rt := newRESTTest(t, nil, Deps{Feed: feed})
	auth := rt.login()

	before := rt.get("/api/products/3")
	var p0 domain.Product
	before.json(t, &p0)

	r := rt.do("POST", "/api/orders", `{"user_id": 1, "items": [{"product_id": 3, "quantity": 2}]}`, "Authorization", auth)
	wantStatus(t, r, 201)
	var o domain.Order
	r.json(t, &o)
	if o.ID == 0 || o.UserID != 1 || len(o.Items) != 1 || o.Items[0].Quantity != 2 || o.Total != domain.RoundCents(2*p0.Price) {
		t.Fatalf("created order = %+v", o)
	}
	if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/api/orders/%d", o.ID) {
		t.Errorf("Location = %q", loc)
	}
	wantStatus(t, rt.get(fmt.Sprintf("/api/orders/%d", o.ID), "Authorization", auth), 200)

	r = rt.do("PATCH", "/api/products/3", `{"price": 12.5, "stock": 7}`, "Authorization", auth)
	wantStatus(t, r, 200)
	var p domain.Product
	r.json(t, &p)
	if p.Price != 12.5 || p.Stock != 7 || p.Version <= p0.Version {
		t.Fatalf("patched = %+v (was version %d)", p, p0.Version)
	}
	if r.Header.Get("Etag") != fmt.Sprintf(`"p3-v%d"`, p.Version) {
		t.Errorf("PATCH ETag = %q", r.Header.Get("Etag"))
	}
	select {
	case c := <-sub.C():
		if c.Product.ID != 3 || c.Product.Version != p.Version {
			t.Errorf("feed got %+v", c.Product)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("PATCH published nothing to the feed")
	}
	r = rt.do("PATCH", "/api/products/3", `{"stock": 9}`, "Authorization", auth)
	wantStatus(t, r, 200)
	r.json(t, &p)
	if p.Price != 12.5 || p.Stock != 9 {
		t.Errorf("partial patch = %+v", p)
	}

	wantStatus(t, rt.do("DELETE", "/api/products/4", nil, "Authorization", auth), 204)
	wantProblem(t, rt.get("/api/products/4"), 404, "not_found")
	wantProblem(t, rt.do("DELETE", "/api/products/4", nil, "Authorization", auth), 404, "not_found")
}

func TestInvalidation(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	auth := rt.login()
	old := rt.get("/api/products/5")
	if rt.get("/api/products/5").Header.Get("X-Cache") != "HIT" {
		t.Fatal("warm read is not a HIT")
	}
	wantStatus(t, rt.do("PATCH", "/api/products/5", `{"price": 1.25}`, "Authorization", auth), 200)
	r := rt.get("/api/products/5")
	if r.Header.Get("X-Cache") != "MISS" {
		t.Errorf("read after PATCH X-Cache = %q, want MISS", r.Header.Get("X-Cache"))
	}
	var p domain.Product
	r.json(t, &p)
	if p.Price != 1.25 || r.Header.Get("Etag") == old.Header.Get("Etag") {
		t.Errorf("read after PATCH = price %v, ETag %s (old %s)", p.Price, r.Header.Get("Etag"), old.Header.Get("Etag"))
	}
	wantStatus(t, rt.get("/api/products/5", "If-None-Match", old.Header.Get("Etag")), 200)
	wantStatus(t, rt.get("/api/products/5", "If-None-Match", r.Header.Get("Etag")), 304)
}

func TestConditionalGetSkipsStore(t *testing.T) {
	t.Parallel()
	memo := newMemo(freeStore(t))
	rt := newRESTTest(t, nil, Deps{Catalog: memo, MaxAge: time.Minute})
	rt.store = memo.Catalog.(*store.Store)
	first := rt.get("/api/products/7")
	tag, lm := first.Header.Get("Etag"), first.Header.Get("Last-Modified")
	calls, gets := rt.store.Stats().Calls, memo.gets.Load()

	for _, hdr := range [][]string{
		{"If-None-Match", tag},
		{"If-None-Match", `"zzz", W/` + tag},
		{"If-None-Match", "*"},
		{"If-Modified-Since", lm},
	} {
		r := rt.get("/api/products/7", hdr...)
		wantStatus(t, r, 304)
		if len(r.body) != 0 || r.Header.Get("Etag") != tag || r.Header.Get("Cache-Control") != "max-age=60" || r.Header.Get("X-Cache") != "HIT" {
			t.Errorf("304 for %v: body %q, headers %v", hdr, r.body, r.Header)
		}
	}
	if got := rt.store.Stats().Calls; got != calls {
		t.Errorf("store calls went %d -> %d answering 304s; want none", calls, got)
	}
	if got := memo.gets.Load(); got != gets {
		t.Errorf("304s read the product body %d times; the version alone should answer them", got-gets)
	}
	wantStatus(t, rt.get("/api/products/7", "If-None-Match", `"p7-v999"`), 200)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	wantStatus(t, rt.get("/api/products/7", "If-Modified-Since", old), 200)
}

func TestConditionalGetWithoutCache(t *testing.T) {
	t.Parallel()
	st := freeStore(t)
	rt := newRESTTest(t, st, Deps{Catalog: st})
	tag := rt.get("/api/products/7").Header.Get("Etag")
	calls := st.Stats().Calls
	r := rt.get("/api/products/7", "If-None-Match", tag)
	wantStatus(t, r, 304)
	if got := st.Stats().Calls; got != calls+1 {
		t.Errorf("store calls %d -> %d: without a cache the version needs one read", calls, got)
	}
	if x := r.Header.Get("X-Cache"); x != "BYPASS" {
		t.Errorf("X-Cache with no cache layer = %q, want BYPASS", x)
	}
}

func TestBypass(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	tag := rt.get("/api/products/8").Header.Get("Etag") // now cached
	for _, hdr := range [][]string{{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}} {
		calls := rt.store.Stats().Calls
		r := rt.get("/api/products/8", hdr...)
		wantStatus(t, r, 200)
		if r.Header.Get("X-Cache") != "BYPASS" || rt.store.Stats().Calls != calls+1 {
			t.Errorf("%v: X-Cache %q, store calls +%d; want BYPASS and one store read", hdr, r.Header.Get("X-Cache"), rt.store.Stats().Calls-calls)
		}
	}
	// A bypassing conditional request is still answered 304 from the store's version.
	calls := rt.store.Stats().Calls
	wantStatus(t, rt.get("/api/products/8", "Cache-Control", "no-cache", "If-None-Match", tag), 304)
	if rt.store.Stats().Calls != calls+1 {
		t.Error("bypassing conditional GET did not read the store")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{BodyLimit: 256})
	auth := rt.login()
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/api/products/abc", "", 400, "invalid"},
		{"GET", "/api/products/0", "", 400, "invalid"},
		{"GET", "/api/products/-3", "", 400, "invalid"},
		{"GET", "/api/products?limit=x", "", 400, "invalid"},
		{"GET", "/api/products?limit=100000", "", 400, "invalid"},
		{"GET", "/api/products?offset=-1", "", 400, "invalid"},
		{"GET", "/api/products/99999", "", 404, "not_found"},
		{"GET", "/api/users/99999", "", 404, "not_found"},
		{"GET", "/api/orders/99999", "", 404, "not_found"},
		{"GET", "/api/nothing", "", 404, "not_found"},
		{"GET", "/", "", 404, "not_found"},
		{"PUT", "/api/products/1", "{}", 405, "method_not_allowed"},
		{"PATCH", "/api/products/1", `{"price": "cheap"}`, 400, "invalid"},
		{"PATCH", "/api/products/1", `{"colour": "red"}`, 400, "invalid"},
		{"PATCH", "/api/products/1", `{}`, 400, "invalid"},
		{"PATCH", "/api/products/1", `{"price": -1}`, 400, "invalid"},
		{"PATCH", "/api/products/1", `{"price": 1} {"price": 2}`, 400, "invalid"},
		{"PATCH", "/api/products/1", `{"price": 1`, 400, "invalid"},
		{"PATCH", "/api/products/1", ``, 400, "invalid"},
		{"PATCH", "/api/products/1", `{"stock": 1, "pad": "` + strings.Repeat("x", 300) + `"}`, 413, "too_large"},
		{"POST", "/api/orders", `{"user_id": -1, "items": [{"product_id": 3, "quantity": 2}]}`, 400, "invalid"},
		{"POST", "/api/orders", `{"user_id": 2, "items": [{"product_id": 3, "quantity": 2}]}`, 403, "forbidden"},
		{"POST", "/api/orders", `{"user_id": 1, "items": []}`, 400, "invalid"},
		{"POST", "/api/orders", `{"user_id": 1, "items": [{"product_id": 3, "quantity": 0}]}`, 400, "invalid"},
		{"POST", "/api/orders", `{"user_id": 1, "items": [{"product_id": 99999, "quantity": 1}]}`, 400, "invalid"},
		{"POST", "/api/orders", `{"user_id": 1, "items": [{"product_id": 3, "quantity": 100000}]}`, 400, "invalid"},
		{"POST", "/api/orders", `{"user_id": 1, "items": [{"product_id": 3, "quantity": 1000}]}`, 409, "conflict"},
		{"POST", "/api/login", `{"email": "user1@example.com"}`, 400, "invalid"},
	} {
		r := rt.do(c.method, c.path, c.body, "Authorization", auth)
		p := wantProblem(t, r, c.status, c.code)
		if p.Instance != strings.Split(c.path, "?")[0] {
			t.Errorf("%s %s: instance %q", c.method, c.path, p.Instance)
		}
	}
	r := rt.do("PUT", "/api/products/1", "{}")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "PATCH") || !strings.Contains(allow, "DELETE") {
		t.Errorf("405 Allow = %q", allow)
	}
	r = rt.get("/api/products/1", "Accept", "text/html")
	wantProblem(t, r, 406, "not_acceptable")
	wantStatus(t, rt.get("/api/products/1", "Accept", "text/html, application/json;q=0.9"), 200)
}

// TestOversizedBodyIs413 checks that a body over the limit is 413 whatever
// it holds: not JSON, JSON with trailing data, declared length or chunked.
// Decoding stops at the first bad byte, so without reading on to the limit
// these were 400s.
func TestOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{BodyLimit: 256})
	auth := rt.login()
	junk := strings.Repeat("a", 2000)
	trailing := `{"stock": 1}` + strings.Repeat(" x", 1000)
	for _, c := range []struct {
		name string
		body any
	}{
		{"not JSON", junk},
		{"not JSON, chunked", io.MultiReader(strings.NewReader(junk))},
		{"trailing data", trailing},
		{"trailing data, chunked", io.MultiReader(strings.NewReader(trailing))},
	} {
		r := rt.do("PATCH", "/api/products/1", c.body, "Authorization", auth)
		if r.StatusCode != 413 {
			t.Errorf("%s: status %d, want 413: %s", c.name, r.StatusCode, r.body)
		}
	}
	// Under the limit, the same faults stay 400s.
	wantProblem(t, rt.do("PATCH", "/api/products/1", io.MultiReader(strings.NewReader(`{"stock": 1} x`)), "Authorization", auth), 400, "invalid")
	wantProblem(t, rt.do("PATCH", "/api/products/1", io.MultiReader(strings.NewReader(`aaaa`)), "Authorization", auth), 400, "invalid")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	body := `{"price": 3}`
	r := rt.do("PATCH", "/api/products/1", body)
	wantProblem(t, r, 401, "unauthorized")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
	wantProblem(t, rt.do("POST", "/api/orders", `{"user_id":1,"items":[{"product_id":3,"quantity":1}]}`), 401, "unauthorized")
	wantProblem(t, rt.do("DELETE", "/api/products/1", nil), 401, "unauthorized")
	wantProblem(t, rt.do("PATCH", "/api/products/1", body, "Authorization", "Bearer not.a.jwt"), 401, "unauthorized")
	wantProblem(t, rt.do("PATCH", "/api/products/1", body, "Authorization", "Basic dXNlcjpwYXNz"), 401, "unauthorized")
	wantProblem(t, rt.do("POST", "/api/login", `{"email":"user1@example.com","password":"wrong"}`), 401, "unauthorized")
	wantProblem(t, rt.do("POST", "/api/login", `{"email":"nobody@example.com","password":"loadrig"}`), 401, "unauthorized")

	r = rt.do("POST", "/api/login", `{"email":"user1@example.com","password":"loadrig"}`)
	wantStatus(t, r, 200)
	var lr loginResponse
	r.json(t, &lr)
	if lr.Token == "" || lr.TokenType != "Bearer" || lr.Scheme != "jwt" || lr.UserID != 1 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login = %+v", lr)
	}
	wantStatus(t, rt.do("PATCH", "/api/products/1", body, "Authorization", "bearer "+lr.Token), 200)
	// Reads need no credential.
	wantStatus(t, rt.get("/api/products/1"), 200)
}

func TestExpiredToken(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := freeStore(t)
		h := NewHandler(Deps{Catalog: st, Auth: server.NewJWT(server.JWTOptions{TTL: time.Minute})})
		w := serve(h, "POST", "/api/login", `{"email":"user1@example.com","password":"loadrig"}`)
		if w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		var lr loginResponse
		if err := jsonUnmarshal(w.Body.Bytes(), &lr); err != nil {
			t.Fatal(err)
		}
		if w := serve(h, "PATCH", "/api/products/2", `{"stock": 1}`, "Authorization", "Bearer "+lr.Token); w.Code != 200 {
			t.Fatalf("fresh token: %d %s", w.Code, w.Body)
		}
		time.Sleep(time.Minute + time.Second)
		w = serve(h, "PATCH", "/api/products/2", `{"stock": 2}`, "Authorization", "Bearer "+lr.Token)
		if w.Code != 401 || !strings.Contains(w.Body.String(), "expired") {
			t.Fatalf("expired token: %d %s", w.Code, w.Body)
		}
	})
}

// mapSessions is a hand-written fake session store.
type mapSessions struct {
	mu   sync.Mutex
	m    map[string]int64
	gets int
}

func (s *mapSessions) PutSession(_ context.Context, id string, u int64, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = u
	return nil
}

func (s *mapSessions) GetSession(_ context.Context, id string) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	u, ok := s.m[id]
	return u, ok, nil
}

func TestSessionAuth(t *testing.T) {
	t.Parallel()
	sess := &mapSessions{m: map[string]int64{}}
	rt := newRESTTest(t, nil, Deps{Auth: server.NewSessionAuth(sess, time.Hour, nil)})
	r := rt.do("POST", "/api/login", `{"email":"user1@example.com","password":"loadrig"}`)
	var lr loginResponse
	r.json(t, &lr)
	if lr.Scheme != "session" || strings.Count(lr.Token, ".") != 0 {
		t.Fatalf("session login = %+v", lr)
	}
	wantStatus(t, rt.do("PATCH", "/api/products/1", `{"stock": 4}`, "Authorization", "Bearer "+lr.Token), 200)
	if sess.gets != 1 {
		t.Errorf("session lookups = %d, want 1", sess.gets)
	}
	wantProblem(t, rt.do("PATCH", "/api/products/1", `{"stock": 4}`, "Authorization", "Bearer "+strings.Repeat("x", 32)), 401, "unauthorized")
	if rt.h.Stats()["auth"] != "session" {
		t.Errorf("stats auth = %v", rt.h.Stats()["auth"])
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := freeStore(t)
		lim := server.NewLocalLimiter(server.Rate{Events: 2, Per: time.Second, Burst: 2}, nil)
		h := NewHandler(Deps{Catalog: st, Limiter: lim})
		for i := range 2 {
			if w := serve(h, "GET", "/api/products/1", ""); w.Code != 200 {
				t.Fatalf("request %d within the burst: %d", i, w.Code)
			}
		}
		w := serve(h, "GET", "/api/products/1", "")
		if w.Code != 429 || w.Header().Get("Retry-After") != "1" || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("over the limit: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if w := serve(h, "GET", "/healthz", ""); w.Code != 200 {
			t.Errorf("/healthz is rate limited: %d", w.Code)
		}
		time.Sleep(500 * time.Millisecond)
		if w := serve(h, "GET", "/api/products/1", ""); w.Code != 200 {
			t.Errorf("after one interval: %d", w.Code)
		}
		if got := h.Stats()["responses"].(map[string]any)["rate_limited"]; got != int64(1) {
			t.Errorf("rate_limited = %v", got)
		}
		if reqs := h.Stats()["requests"].(map[string]any); reqs["rate_limited"] != int64(1) || reqs["GET /api/products/{id}"] != int64(3) || reqs["unmatched"] != nil {
			t.Errorf("requests per route = %v", reqs)
		}
	})
}

// failingLimiter is a limiter whose backend is down.
type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string) (server.Decision, error) {
	return server.Decision{}, errors.New("redis: connection refused")
}

func TestLimiterFailureFailsOpen(t *testing.T) {
	t.Parallel()
	h := NewHandler(Deps{Catalog: freeStore(t), Limiter: failingLimiter{}})
	if w := serve(h, "GET", "/api/products/1", ""); w.Code != 200 {
		t.Fatalf("limiter down: %d %s", w.Code, w.Body)
	}
	if got := h.Stats()["responses"].(map[string]any)["limiter_errors"]; got != int64(1) {
		t.Errorf("limiter_errors = %v", got)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	if id := rt.get("/api/products/1", "X-Request-ID", "trace-123").Header.Get("X-Request-ID"); id != "trace-123" {
		t.Errorf("echoed id = %q", id)
	}
	a, b := rt.get("/api/products/1").Header.Get("X-Request-ID"), rt.get("/api/nope").Header.Get("X-Request-ID")
	if a == "" || b == "" || a == b {
		t.Errorf("generated ids %q, %q", a, b)
	}
	if id := rt.get("/api/products/1", "X-Request-ID", "has space").Header.Get("X-Request-ID"); id == "has space" || id == "" {
		t.Errorf("invalid id echoed: %q", id)
	}
	var p problem
	r := rt.get("/api/products/0", "X-Request-ID", "err-7")
	r.json(t, &p)
	if p.RequestID != "err-7" || r.Header.Get("X-Cache") == "" {
		t.Errorf("problem request id %q, X-Cache %q", p.RequestID, r.Header.Get("X-Cache"))
	}
}

func TestStatsAndMetrics(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{Stats: func() map[string]any {
		return map[string]any{"redis_mode": "none", "cache": map[string]any{"hits": int64(4), "misses": int64(2), "errors": int64(0)}}
	}})
	rt.get("/api/products/1")
	rt.get("/api/products/1")
	rt.get("/api/products")
	rt.get("/api/missing")
	r := rt.get("/stats")
	wantStatus(t, r, 200)
	var s struct {
		RedisMode   string           `json:"redis_mode"`
		Cache       map[string]int64 `json:"cache"`
		Connections struct {
			Active, Total int64
		} `json:"connections"`
		Requests  map[string]int64 `json:"requests"`
		Responses map[string]int64 `json:"responses"`
		Auth      string           `json:"auth"`
	}
	r.json(t, &s)
	if s.RedisMode != "none" || s.Cache["hits"] != 4 || s.Auth != "jwt" {
		t.Errorf("stats = %+v", s)
	}
	if s.Connections.Active != 1 || s.Connections.Total != 1 {
		t.Errorf("connections = %+v, want 1 active of 1 (one keep-alive client)", s.Connections)
	}
	if s.Requests["GET /api/products/{id}"] != 2 || s.Requests["GET /api/products"] != 1 || s.Requests["unmatched"] != 1 {
		t.Errorf("requests = %v", s.Requests)
	}
	if s.Responses["2xx"] != 3 || s.Responses["4xx"] != 1 {
		t.Errorf("responses = %v", s.Responses)
	}

	r = rt.get("/metrics")
	wantStatus(t, r, 200)
	for _, want := range []string{
		`loadrig_http_requests_total{code="200",route="GET /api/products/{id}"} 2`,
		`loadrig_http_request_duration_seconds_count{route="GET /api/products"} 1`,
		`loadrig_cache_hits 4`,
		`loadrig_connections_total 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	wantStatus(t, newRESTTest(t, nil, Deps{}).get("/debug/pprof/"), 404)
	wantStatus(t, newRESTTest(t, nil, Deps{Pprof: true}).get("/debug/pprof/"), 200)
}

func TestGracefulShutdownDrains(t *testing.T) {
	t.Parallel()
	st := newStore(t, store.Options{Latency: 200 * time.Millisecond, PerRow: store.Off})
	rt := newRESTTest(t, st, Deps{Catalog: st})
	type res struct {
		code int
		err  error
	}
	got := make(chan res, 1)
	go func() {
		resp, err := http.Get(rt.url + "/api/products/1")
		if err != nil {
			got <- res{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- res{code: resp.StatusCode}
	}()
	for st.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rt.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if r := <-got; r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request during shutdown: %d, %v", r.code, r.err)
	}
}

func TestPanicIs500(t *testing.T) {
	t.Parallel()
	h := NewHandler(Deps{Catalog: panicky{freeStore(t)}})
	w := serve(h, "GET", "/api/products/1", "")
	if w.Code != 500 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

type panicky struct{ domain.Catalog }

func (panicky) GetProduct(context.Context, int64) (domain.Product, error) { panic("boom") }

// loginAs returns a bearer header value for user n.
func (rt *restTest) loginAs(n int) string {
	rt.t.Helper()
	r := rt.do(http.MethodPost, "/api/login", map[string]string{"email": fmt.Sprintf("user%d@example.com", n), "password": domain.SeedPassword})
	if r.StatusCode != http.StatusOK {
		rt.t.Fatalf("login user%d: %d %s", n, r.StatusCode, r.body)
	}
	var lr loginResponse
	r.json(rt.t, &lr)
	return "Bearer " + lr.Token
}

// TestAuthorization checks roles through the real server: product writes
// need the admin (user 1), an order is always the caller's, and a user's
// data is visible to its owner and the admin only — others get the 404 of a
// missing id, anonymous callers 401.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	admin, u2, u3 := rt.login(), rt.loginAs(2), rt.loginAs(3)

	// A customer's PATCH and DELETE: 403, and nothing changed.
	before := rt.get("/api/products/4")
	wantProblem(t, rt.do("PATCH", "/api/products/4", `{"price": 1}`, "Authorization", u2), 403, "forbidden")
	wantProblem(t, rt.do("DELETE", "/api/products/4", nil, "Authorization", u2), 403, "forbidden")
	if after := rt.get("/api/products/4"); after.Header.Get("Etag") != before.Header.Get("Etag") {
		t.Errorf("a forbidden PATCH changed the product: %s → %s", before.Header.Get("Etag"), after.Header.Get("Etag"))
	}
	wantStatus(t, rt.do("PATCH", "/api/products/4", `{"price": 1}`, "Authorization", admin), 200)

	// An order is the token's user's: without user_id, or with its own.
	r := rt.do("POST", "/api/orders", `{"items": [{"product_id": 3, "quantity": 1}]}`, "Authorization", u2)
	wantStatus(t, r, 201)
	var o domain.Order
	r.json(t, &o)
	if o.UserID != 2 {
		t.Fatalf("order placed by user 2 belongs to user %d", o.UserID)
	}
	wantProblem(t, rt.do("POST", "/api/orders", `{"user_id": 3, "items": [{"product_id": 3, "quantity": 1}]}`, "Authorization", u2), 403, "forbidden")

	// Owner and admin see it; another customer gets the 404 of a missing
	// order; nobody anonymous.
	path := fmt.Sprintf("/api/orders/%d", o.ID)
	wantStatus(t, rt.get(path, "Authorization", u2), 200)
	wantStatus(t, rt.get(path, "Authorization", admin), 200)
	foreign := wantProblem(t, rt.get(path, "Authorization", u3), 404, "not_found")
	missing := wantProblem(t, rt.get("/api/orders/99999", "Authorization", u3), 404, "not_found")
	if strings.Contains(foreign.Detail, "user") || foreign.Title != missing.Title {
		t.Errorf("a foreign order's 404 differs from a missing one's: %+v vs %+v", foreign, missing)
	}
	wantProblem(t, rt.get(path), 401, "unauthorized")
	for _, p := range []string{"/api/users/2", "/api/users/2/orders"} {
		wantStatus(t, rt.get(p, "Authorization", u2), 200)
		wantStatus(t, rt.get(p, "Authorization", admin), 200)
		wantProblem(t, rt.get(p, "Authorization", u3), 404, "not_found")
		wantProblem(t, rt.get(p), 401, "unauthorized")
	}
}

// TestOrderBounds checks the input bounds of an order through the real
// server: the quantity that once made a negative total, too many items, a
// zero quantity — all 400 before the store is asked.
func TestOrderBounds(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	auth := rt.login()
	items := make([]string, domain.MaxOrderItems+1)
	for i := range items {
		items[i] = `{"product_id": 3, "quantity": 1}`
	}
	for _, body := range []string{
		`{"items": [{"product_id": 3, "quantity": 9223372036854775807}]}`,
		`{"items": [{"product_id": 3, "quantity": 1001}]}`,
		`{"items": [{"product_id": 3, "quantity": -1}]}`,
		`{"items": [` + strings.Join(items, ",") + `]}`,
	} {
		wantProblem(t, rt.do("POST", "/api/orders", body, "Authorization", auth), 400, "invalid")
	}
	wantProblem(t, rt.do("PATCH", "/api/products/3", `{"price": 1e308}`, "Authorization", auth), 400, "invalid")
	r := rt.do("POST", "/api/orders", `{"items": [{"product_id": 3, "quantity": 1}]}`, "Authorization", auth)
	wantStatus(t, r, 201)
}
