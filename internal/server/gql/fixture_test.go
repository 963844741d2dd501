package gql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// fixture is a GraphQL server over a real stack (store, cache layer,
// broker, JWT auth) on an httptest listener at 127.0.0.1.
type fixture struct {
	t   *testing.T
	url string
	st  *stack.Stack
	h   *gql.Handler
	// apqHas, when set, reports whether the APQ store holds a hash.
	apqHas func(hash string) bool
}

// newFixture starts a server over a free store (no latency) with the small
// test dataset; cfg and deps adjust it.
func newFixture(t *testing.T, cfg stack.Config, deps func(*gql.Deps)) *fixture {
	t.Helper()
	if cfg.Dataset == "" {
		cfg.Dataset = "users=20,products=60,reviews=5,orders=30"
	}
	st, err := stack.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	d := gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Stats: st.Stats, Options: gql.Options{DataLoader: true}}
	if deps != nil {
		deps(&d)
	}
	h := gql.NewHandler(d)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL, st: st, h: h}
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// loadrigExt mirrors extensions.loadrig.
type loadrigExt struct {
	StoreCalls  int64 `json:"store_calls"`
	StoreRows   int64 `json:"store_rows"`
	StoreWaitUS int64 `json:"store_wait_us"`
	DataLoader  bool  `json:"dataloader"`
	Depth       int   `json:"depth"`
	Complexity  int   `json:"complexity"`
}

type response struct {
	Status     int             `json:"-"`
	Header     http.Header     `json:"-"`
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Loadrig *loadrigExt `json:"loadrig"`
	} `json:"extensions"`
}

func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// request is one GraphQL POST body.
type request struct {
	Query         string         `json:"query,omitempty"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// post sends req with an optional bearer token.
func (f *fixture) post(req request, token string) response {
	f.t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.raw(http.MethodPost, f.url+"/graphql", bytes.NewReader(b), token)
}

func (f *fixture) raw(method, url string, body io.Reader, token string) response {
	f.t.Helper()
	hr, err := http.NewRequest(method, url, body)
	if err != nil {
		f.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		f.t.Fatalf("%s %s: status %d, body not JSON: %q", method, url, res.StatusCode, raw)
	}
	out.Status, out.Header = res.StatusCode, res.Header
	return out
}

// ok sends req and fails the test on any error; it decodes data into v.
func (f *fixture) ok(req request, token string, v any) response {
	f.t.Helper()
	r := f.post(req, token)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		f.t.Fatalf("%s: status %d, errors %+v", oneLine(req.Query), r.Status, r.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			f.t.Fatalf("decode data %s: %v", r.Data, err)
		}
	}
	return r
}

// login returns a token for user1.
func (f *fixture) login() string {
	f.t.Helper()
	var d struct {
		Login struct{ Token string } `json:"login"`
	}
	f.ok(request{Query: `mutation { login(email: "user1@example.com", password: "loadrig") { token } }`}, "", &d)
	if d.Login.Token == "" {
		f.t.Fatal("login returned no token")
	}
	return d.Login.Token
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// topUpReviews gives every product at least n reviews (written straight to
// the store).
func topUpReviews(t *testing.T, st *stack.Stack, products, n int) {
	t.Helper()
	ctx := context.Background()
	var add []domain.NewReview
	for id := int64(1); id <= int64(products); id++ {
		rs, err := st.Store.ProductReviews(ctx, id, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(rs); i < n; i++ {
			add = append(add, domain.NewReview{ProductID: id, AuthorID: 1 + int64(i)%5, Rating: 4, Text: "fine"})
		}
	}
	if _, err := st.Store.CreateReviews(ctx, add); err != nil {
		t.Fatal(err)
	}
}
