package gql_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

const nPlusOne = `{ products(first: 50) { reviews(first: 5) { author { name } } } }`

// TestNPlusOneStoreCalls is the DataLoader's whole point, counted: with
// cache none and >= 5 reviews per product, the query costs 1 list + 50
// review reads + 250 author reads = 301 store calls without DataLoader, and
// one per level (3) with it.
func TestNPlusOneStoreCalls(t *testing.T) {
	for _, tc := range []struct {
		loader bool
		calls  int64
	}{{false, 1 + 50 + 250}, {true, 3}} {
		t.Run(fmt.Sprintf("dataloader=%v", tc.loader), func(t *testing.T) {
			f := newFixture(t, stack.Config{Cache: "none"}, func(d *gql.Deps) {
				d.DataLoader = tc.loader
				// Generous: a batch holds the keys that arrive within the
				// wait, and a loaded machine (or -race) can start sibling
				// resolvers tens of milliseconds apart.
				d.LoaderWait = 250 * time.Millisecond
			})
			topUpReviews(t, f.st, 50, 5)
			var d struct {
				Products []struct {
					Reviews []struct {
						Author struct{ Name string }
					}
				}
			}
			r := f.ok(request{Query: nPlusOne}, "", &d)
			if len(d.Products) != 50 {
				t.Fatalf("products: got %d, want 50", len(d.Products))
			}
			for i, p := range d.Products {
				if len(p.Reviews) != 5 {
					t.Fatalf("product %d: %d reviews, want 5", i, len(p.Reviews))
				}
				for _, rv := range p.Reviews {
					if rv.Author.Name == "" {
						t.Fatalf("product %d: a review without its author's name", i)
					}
				}
			}
			ext := r.Extensions.Loadrig
			if ext == nil {
				t.Fatal("no extensions.loadrig")
			}
			if ext.StoreCalls != tc.calls || ext.DataLoader != tc.loader {
				t.Fatalf("store_calls %d dataloader %v, want %d %v", ext.StoreCalls, ext.DataLoader, tc.calls, tc.loader)
			}
			// 50 products + 250 reviews + 250 authors (or the distinct ones).
			if ext.StoreRows < 50+250 || ext.Depth != 4 || ext.Complexity != 1+50*(1+5*2) {
				t.Fatalf("extensions %+v: want rows >= 300, depth 4, complexity %d", *ext, 1+50*(1+5*2))
			}
			gs := f.h.GraphQLStats()
			if gs["store_calls_per_request"].(float64) != float64(tc.calls) || gs["requests"].(int64) != 1 {
				t.Fatalf("/stats graphql %+v", gs)
			}
		})
	}
}

// TestOperations runs every query, relation and mutation once through the
// real server.
func TestOperations(t *testing.T) {
	f := newFixture(t, stack.Config{Cache: "lru"}, nil)
	topUpReviews(t, f.st, 10, 3)
	tok := f.login()

	var q struct {
		Product struct {
			ID, Name, Category, UpdatedAt string
			Price                         float64
			Stock, Version                int64
			Reviews                       []struct {
				ID, ProductID string
				Rating        int
				Author        struct{ ID, Name, Email string }
			}
		}
		Products []struct{ ID string }
		Page2    []struct{ ID string } `json:"page2"`
		User     struct {
			ID     string
			Orders []struct {
				ID, UserID, Status string
				Total              float64
				Items              []struct {
					ProductID string
					Quantity  int
					UnitPrice float64
					Product   *struct{ ID string }
				}
			}
		}
		Order struct{ ID string }
		Me    struct{ ID, Email string }
	}
	f.ok(request{Query: `query($id: ID!) {
		product(id: $id) { id name category price stock version updatedAt reviews(first: 3) { id productId rating author { id name email } } }
		products(first: 3) { id }
		page2: products(first: 3, after: 3) { id }
		user(id: 2) { id orders(first: 2) { id userId status total items { productId quantity unitPrice product { id } } } }
		order(id: 1) { id }
		me { id email }
	}`, Variables: map[string]any{"id": "7"}}, tok, &q)
	if q.Product.ID != "7" || q.Product.Name == "" || len(q.Product.Reviews) == 0 || q.Product.Reviews[0].Author.Name == "" {
		t.Fatalf("product: %+v", q.Product)
	}
	if _, err := time.Parse(time.RFC3339Nano, q.Product.UpdatedAt); err != nil {
		t.Fatalf("updatedAt %q is not RFC 3339: %v", q.Product.UpdatedAt, err)
	}
	if ids := fmt.Sprint(q.Products, q.Page2); ids != "[{1} {2} {3}] [{4} {5} {6}]" {
		t.Fatalf("products and the page after id 3: %s", ids)
	}
	if q.User.ID != "2" || q.Order.ID != "1" || q.Me.ID != "1" || q.Me.Email != "user1@example.com" {
		t.Fatalf("user/order/me: %+v %+v %+v", q.User, q.Order, q.Me)
	}
	for _, o := range q.User.Orders {
		if o.UserID != "2" || len(o.Items) == 0 || o.Items[0].Product == nil || o.Items[0].Product.ID != o.Items[0].ProductID {
			t.Fatalf("user 2's order: %+v", o)
		}
	}

	var m struct {
		UpdateProduct struct {
			ID, Name, Category string
			Price              float64
			Stock, Version     int64
		}
		AddReview struct {
			ID, ProductID string
			Rating        int
			Author        struct{ ID string }
		}
		CreateOrder struct {
			ID, UserID, Status string
			Items              []struct {
				ProductID string
				Quantity  int
			}
		}
	}
	f.ok(request{Query: `mutation {
		updateProduct(id: 7, input: {name: "Renamed", price: 12.5, stock: 40, category: "tools"}) { id name category price stock version }
		addReview(productId: 7, rating: 5, text: "great") { id productId rating author { id } }
		createOrder(items: [{productId: 7, quantity: 2}]) { id userId status items { productId quantity } }
	}`}, tok, &m)
	u := m.UpdateProduct
	if u.Name != "Renamed" || u.Category != "tools" || u.Price != 12.5 || u.Stock != 40 || u.Version != q.Product.Version+1 {
		t.Fatalf("updateProduct: %+v (was version %d)", u, q.Product.Version)
	}
	if m.AddReview.ProductID != "7" || m.AddReview.Author.ID != "1" || m.AddReview.Rating != 5 {
		t.Fatalf("addReview: %+v", m.AddReview)
	}
	if m.CreateOrder.UserID != "1" || m.CreateOrder.Status != "pending" || m.CreateOrder.Items[0].Quantity != 2 {
		t.Fatalf("createOrder: %+v", m.CreateOrder)
	}
	var cat struct{ Products []struct{ ID string } }
	f.ok(request{Query: `{ products(category: "tools") { id } }`}, "", &cat)
	if len(cat.Products) != 1 || cat.Products[0].ID != "7" {
		t.Fatalf("category filter after the change: %+v", cat.Products)
	}

	var del struct{ DeleteProduct bool }
	f.ok(request{Query: `mutation { deleteProduct(id: 7) }`}, tok, &del)
	if !del.DeleteProduct {
		t.Fatal("deleteProduct returned false")
	}
	r := f.post(request{Query: `{ product(id: 7) { id } }`}, "")
	if r.code() != gql.CodeNotFound || string(r.Data) != `{"product":null}` {
		t.Fatalf("deleted product: code %q data %s", r.code(), r.Data)
	}
	r = f.post(request{Query: `mutation { addReview(productId: 8, rating: 9, text: "x") { id } }`}, tok)
	if r.code() != gql.CodeBadUserInput {
		t.Fatalf("rating 9: code %q, want BAD_USER_INPUT", r.code())
	}
	r = f.post(request{Query: `mutation { login(email: "user1@example.com", password: "nope") { token } }`}, "")
	if r.code() != gql.CodeUnauthenticated {
		t.Fatalf("wrong password: code %q", r.code())
	}
}

// TestGETTransport answers a query in the URL; a mutation over GET is
// refused.
func TestGETTransport(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	r := f.raw(http.MethodGet, f.url+"/graphql?query="+url.QueryEscape(`{ product(id: 3) { id } }`), nil, "")
	if r.Status != 200 || string(r.Data) != `{"product":{"id":"3"}}` {
		t.Fatalf("GET: %d %s %+v", r.Status, r.Data, r.Errors)
	}
	r = f.raw(http.MethodGet, f.url+"/graphql?query="+url.QueryEscape(`mutation { deleteProduct(id: 3) }`), nil, "")
	if len(r.Errors) == 0 || r.Data != nil && string(r.Data) != "null" {
		t.Fatalf("mutation over GET ran: %d %s", r.Status, r.Data)
	}
}

// TestRequireAuth refuses writes, me and orderUpdated without a valid token:
// none, expired, signed with another algorithm, garbage.
func TestRequireAuth(t *testing.T) {
	const key = "test-secret-test-secret-test-secret"
	f := newFixture(t, stack.Config{JWTKey: []byte(key)}, nil)
	good := f.login()
	tokens := map[string]string{
		"none":          "",
		"expired":       jwtHS256(t, key, time.Now().Add(-time.Hour)),
		"alg none":      jwtNone(t, time.Now().Add(time.Hour)),
		"wrong key":     jwtHS256(t, "another-key-another-key-another-key", time.Now().Add(time.Hour)),
		"HS512 (wrong)": jwtHS512(t, key, time.Now().Add(time.Hour)),
		"garbage":       "not.a.token",
	}
	ops := []string{
		`mutation { createOrder(items: [{productId: 1, quantity: 1}]) { id } }`,
		`mutation { updateProduct(id: 1, input: {price: 1}) { id } }`,
		`mutation { addReview(productId: 1, rating: 3, text: "x") { id } }`,
		`mutation { deleteProduct(id: 1) }`,
		`{ me { id } }`,
	}
	for name, tok := range tokens {
		for _, op := range ops {
			r := f.post(request{Query: op}, tok)
			if r.code() != gql.CodeUnauthenticated || r.Status != 200 {
				t.Errorf("%s token, %s: status %d code %q, want UNAUTHENTICATED", name, op, r.Status, r.code())
			}
		}
	}
	p, _ := f.st.Store.PeekProduct(1)
	if p.Price == 1 {
		t.Fatal("an unauthenticated updateProduct changed the product")
	}
	var d struct{ Me struct{ ID string } }
	f.ok(request{Query: `{ me { id } }`}, good, &d)
	if d.Me.ID != "1" {
		t.Fatalf("me with a good token: %+v", d)
	}
}

// TestLimits: depth through fragments and inline fragments, complexity by
// first, the parser's token limit, the body cap; each with its code.
func TestLimits(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.BodyLimit = 64 << 10 })

	// 11 levels, hidden in fragments spread into fragments and an inline fragment.
	bomb := `query { products(first: 1) { ...A } }
	fragment A on Product { reviews(first: 1) { ...B } }
	fragment B on Review { author { ... on User { orders(first: 1) { ...C } } } }
	fragment C on Order { items { product { reviews(first: 1) { author { orders(first: 1) { items { product { id } } } } } } } }`
	r := f.post(request{Query: bomb}, "")
	if r.Status != 200 || r.code() != gql.CodeDepthLimit || r.Data != nil && string(r.Data) != "null" {
		t.Fatalf("depth bomb: status %d code %q data %s", r.Status, r.code(), r.Data)
	}
	if !strings.Contains(r.Errors[0].Message, "12 levels") {
		t.Fatalf("depth bomb message: %q", r.Errors[0].Message)
	}

	r = f.post(request{Query: `{ products(first: 100) { reviews(first: 100) { id } } }`}, "")
	if r.Status != 200 || r.code() != gql.CodeComplexityLimit {
		t.Fatalf("complexity: status %d code %q", r.Status, r.code())
	}

	r = f.post(request{Query: "{ " + strings.Repeat("a: __typename ", 3500) + "}"}, "")
	if r.code() != gql.CodeParseFailed {
		t.Fatalf("token limit: status %d code %q %+v", r.Status, r.code(), r.Errors)
	}

	r = f.post(request{Query: `{ product(id: 1) { id } }`, Variables: map[string]any{"pad": strings.Repeat("x", 70<<10)}}, "")
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over the cap: status %d", r.Status)
	}

	// A body of undeclared length (chunked) over the cap is 413 too.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"query": "{ product(id: 1) { id } }", "variables": {"pad": "` + strings.Repeat("x", 70<<10) + `"}}`))
		pw.Close()
	}()
	r = f.raw(http.MethodPost, f.url+"/graphql", pr, "")
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the cap: status %d", r.Status)
	}

	r = f.post(request{Query: `{ product(id: 1) { nope } }`}, "")
	if r.code() != gql.CodeValidationFailed {
		t.Fatalf("unknown field: code %q", r.code())
	}
	r = f.post(request{Query: `{ product(id: 1) { id }`}, "")
	if r.code() != gql.CodeParseFailed {
		t.Fatalf("syntax error: code %q", r.code())
	}
	r = f.post(request{Query: `{ product(id: "x") { id } }`}, "")
	if r.code() != gql.CodeBadUserInput && r.code() != gql.CodeValidationFailed {
		t.Fatalf("bad id: code %q %+v", r.code(), r.Errors)
	}

	gs := f.h.GraphQLStats()
	by := gs["errors_by_code"].(map[string]int64)
	if by[gql.CodeDepthLimit] != 1 || by[gql.CodeComplexityLimit] != 1 || by[gql.CodeParseFailed] != 2 {
		t.Fatalf("errors_by_code: %v", by)
	}
}

// TestIntrospectionOnlyWithDev: off by default (and no GraphiQL); with Dev
// the 13-level schema query runs, exempt from the depth limit.
func TestIntrospectionOnlyWithDev(t *testing.T) {
	q := request{Query: introspectionQuery}
	off := newFixture(t, stack.Config{}, nil)
	r := off.post(q, "")
	if len(r.Errors) == 0 {
		t.Fatal("introspection answered without Dev")
	}
	if res, err := http.Get(off.url + "/graphiql"); err != nil || res.StatusCode != 404 {
		t.Fatalf("/graphiql without Dev: %v %v", res.StatusCode, err)
	}
	on := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.Dev = true })
	var d struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	on.ok(q, "", &d)
	if len(d.Schema.Types) < 10 {
		t.Fatalf("introspection with Dev: %d types", len(d.Schema.Types))
	}
	// Introspection mixed with data is not exempt.
	r = on.post(request{Query: `{ __schema { types { name } } products(first: 5000) { id } }`}, "")
	if r.code() != gql.CodeBadUserInput && r.code() != gql.CodeComplexityLimit {
		t.Fatalf("mixed introspection: code %q", r.code())
	}
}

// TestStatsAndRoutes: /healthz, /stats with the graphql object, /metrics.
func TestStatsAndRoutes(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	f.ok(request{Query: `{ product(id: 1) { id } }`}, "", nil)
	res, err := http.Get(f.url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		GraphQL struct {
			Requests             int64            `json:"requests"`
			ErrorsByCode         map[string]int64 `json:"errors_by_code"`
			StoreCallsPerRequest float64          `json:"store_calls_per_request"`
			APQ                  struct{ Hits, Misses int64 }
			Subscriptions        struct{ Active int64 }
		} `json:"graphql"`
		Store map[string]any `json:"store"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if st.GraphQL.Requests != 1 || st.GraphQL.StoreCallsPerRequest != 1 || st.Store == nil {
		t.Fatalf("/stats: %+v", st)
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		res, err := http.Get(f.url + p)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, res.StatusCode, err)
		}
		res.Body.Close()
	}
}

const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`
