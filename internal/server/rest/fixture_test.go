package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/store"
)

// testCounts is a dataset small enough to build per test.
var testCounts = domain.Counts{Users: 20, Products: 50, ReviewsPerProduct: 3, Orders: 30}

// newStore returns a store over the test dataset with the given model.
func newStore(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	return store.New(domain.Generate(1, testCounts), o)
}

// freeStore is a store whose calls cost nothing, for behaviour tests.
func freeStore(t *testing.T) *store.Store {
	return newStore(t, store.Options{Latency: store.Off, PerRow: store.Off, Pool: -1})
}

// memoCatalog is a hand-written fake cache-aside decorator: just enough of a
// cache to exercise the handler's use of ProductVersion and CacheTrace
// without depending on internal/cache. Products are cached; PATCH and DELETE
// invalidate.
type memoCatalog struct {
	domain.Catalog
	mu   sync.Mutex
	m    map[int64]domain.Product
	gets atomic.Int64 // GetProduct calls, cached or not
}

func newMemo(c domain.Catalog) *memoCatalog {
	return &memoCatalog{Catalog: c, m: map[int64]domain.Product{}}
}

func (c *memoCatalog) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	c.gets.Add(1)
	tr := domain.CacheTraceFrom(ctx)
	if domain.Bypass(ctx) {
		tr.Mark(domain.CacheBypass)
		return c.Catalog.GetProduct(ctx, id)
	}
	c.mu.Lock()
	p, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		tr.Mark(domain.CacheHit)
		return p, nil
	}
	tr.Mark(domain.CacheMiss)
	p, err := c.Catalog.GetProduct(ctx, id)
	if err == nil {
		c.mu.Lock()
		c.m[id] = p
		c.mu.Unlock()
	}
	return p, err
}

func (c *memoCatalog) ProductVersion(_ context.Context, id int64) (domain.Version, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[id]
	return domain.Version{Version: p.Version, UpdatedAt: p.UpdatedAt}, ok
}

func (c *memoCatalog) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	p, err := c.Catalog.UpdateProduct(ctx, id, patch)
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
	return p, err
}

func (c *memoCatalog) DeleteProduct(ctx context.Context, id int64) error {
	err := c.Catalog.DeleteProduct(ctx, id)
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
	return err
}

// restTest is a REST server on 127.0.0.1:0 over a given Catalog.
type restTest struct {
	t     *testing.T
	store *store.Store
	h     *Handler
	srv   *server.HTTP
	url   string
	c     *http.Client
}

// newRESTTest serves NewHandler(d) on 127.0.0.1:0. d.Catalog defaults to a
// memoCatalog over a free store, d.Login to the store.
func newRESTTest(t *testing.T, st *store.Store, d Deps) *restTest {
	t.Helper()
	if st == nil {
		st = freeStore(t)
	}
	if d.Catalog == nil {
		d.Catalog = newMemo(st)
	}
	if d.Login == nil {
		d.Login = st
	}
	conns := &server.ConnStats{}
	d.Conns = conns
	h := NewHandler(d)
	srv := server.NewHTTP(server.HTTPOptions{Name: "rest", Handler: h, Conns: conns})
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &restTest{t: t, store: st, h: h, srv: srv, url: srv.URL(), c: &http.Client{Transport: tr}}
}

// response is a read response.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// do sends a request; hdr is alternating header names and values.
func (rt *restTest) do(method, path string, body any, hdr ...string) response {
	rt.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader: // of unknown length: sent chunked
		rd = b
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(rt.t.Context(), method, rt.url+path, rd)
	if err != nil {
		rt.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rt.c.Do(req)
	if err != nil {
		rt.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rt.t.Fatal(err)
	}
	return response{resp, b}
}

func (rt *restTest) get(path string, hdr ...string) response {
	rt.t.Helper()
	return rt.do(http.MethodGet, path, nil, hdr...)
}

// login returns a bearer header value for user 1.
func (rt *restTest) login() string {
	rt.t.Helper()
	r := rt.do(http.MethodPost, "/api/login", map[string]string{"email": "user1@example.com", "password": domain.SeedPassword})
	if r.StatusCode != http.StatusOK {
		rt.t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	var lr loginResponse
	r.json(rt.t, &lr)
	return "Bearer " + lr.Token
}

// wantStatus fails unless r has status code, showing the body.
func wantStatus(t *testing.T, r response, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s %s = %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, code, r.body)
	}
}

// wantProblem checks a problem+json error response.
func wantProblem(t *testing.T, r response, code int, domainCode string) problem {
	t.Helper()
	wantStatus(t, r, code)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	r.json(t, &p)
	if p.Status != code || p.Code != domainCode || p.Detail == "" || p.RequestID == "" {
		t.Fatalf("problem = %+v, want status %d code %q with detail and request id", p, code, domainCode)
	}
	return p
}

// serve runs one request through h in-process (no sockets), for tests
// inside a synctest bubble.
func serve(h http.Handler, method, path string, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
