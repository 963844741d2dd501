package loadcmd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// newGQLTarget serves the reference GraphQL server over a fast store with
// the small test dataset, on 127.0.0.1.
func newGQLTarget(t *testing.T, apq bool) string {
	t.Helper()
	st, err := stack.New(context.Background(), stack.Config{Dataset: "users=20,products=60,reviews=5,orders=30"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	d := gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Stats: st.Stats, Options: gql.Options{DataLoader: true}}
	if apq {
		d.Options.APQ = gql.NewAPQLRU(100)
	}
	srv := httptest.NewServer(gql.NewHandler(d))
	t.Cleanup(srv.Close)
	return srv.URL + "/graphql"
}

// token logs user1 in through the server.
func token(t *testing.T, u string) string {
	t.Helper()
	body := `{"query":"mutation { login(email: \"user1@example.com\", password: \"loadrig\") { token } }"}`
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct{ Login struct{ Token string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Data.Login.Token == "" {
		t.Fatalf("login: %v %+v", err, r)
	}
	return r.Data.Login.Token
}

func runGQL(t *testing.T, args ...string) *metrics.Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parseGraphQL(t, append([]string{"-q", "-o", out}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO, o.ToolVersion = ios, "loadrig e2e"
	if err := graphqlRun(t.Context(), o); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Through the real server: a mix of a nested query, a list and an
// unauthenticated me (HTTP 200 with an UNAUTHENTICATED error).
func TestGraphQLAgainstServer(t *testing.T) {
	u := newGQLTarget(t, false)
	doc := filepath.Join(t.TempDir(), "shop.graphql")
	os.WriteFile(doc, []byte(`
query Product($id: ID!) { product(id: $id) { name reviews(first: 3) { rating author { name } } } }
query Products { products(first: 5) { id name } }
query Me { me { name } }
`), 0o600)
	r := runGQL(t, "-c", "4", "-n", "300", "--query", "@"+doc, "--mix", "Product=5,Products=3,Me=2",
		"--variables", `{"id": "{{randInt 1 60}}"}`, u)
	p, l, m := r.Operations["Product"], r.Operations["Products"], r.Operations["Me"]
	if p == nil || l == nil || m == nil || p.Requests.Errors != 0 || l.Requests.Errors != 0 || m.Requests.OK != 0 {
		t.Fatalf("operations %+v", r.Operations)
	}
	if r.Requests.ErrorsByKind["graphql_error"] != m.Requests.Total || r.GraphQL.ErrorsByCode["UNAUTHENTICATED"] != m.Requests.Total {
		t.Fatalf("errors %v codes %v", r.Requests.ErrorsByKind, r.GraphQL.ErrorsByCode)
	}
}

// APQ through the real server: one miss per worker, then hits.
func TestGraphQLAPQAgainstServer(t *testing.T) {
	for _, get := range []string{"--get=false", "--get=true"} {
		u := newGQLTarget(t, true) // a fresh APQ cache each time
		r := runGQL(t, "-c", "2", "-n", "50", "--apq", get, "--query", `query P { product(id: 3) { name } }`, u)
		a := r.GraphQL.APQ
		if r.Requests.OK != 50 || a == nil || a.Misses < 1 || a.Misses > 2 || a.Hits+a.Misses != 50 || a.BytesSaved == 0 {
			t.Fatalf("%s: requests %+v apq %+v codes %v", get, r.Requests, a, r.GraphQL.ErrorsByCode)
		}
	}
}

// Subscriptions through the real server on both subprotocols, events
// published by an authorized mutation: every expected event delivered.
func TestGraphQLSubscriptionsAgainstServer(t *testing.T) {
	u := newGQLTarget(t, false)
	tok := token(t, u)
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		r := runGQL(t, "-d", "2s", "--subscribers", "10", "--ws-protocol", proto,
			"--query", `subscription { productUpdated(id: 5) { product { id price } emittedAt } }`,
			"-H", "Authorization: Bearer "+tok,
			"--publish", `mutation { updateProduct(id: 5, input: {price: 12.5}) { id } }`, "--publish-rate", "20", u)
		s := r.Subscriptions
		if r.Requests.OK != 10 || s == nil || s.Published == 0 || s.Expected != 10*s.Published || s.Received != s.Expected {
			t.Fatalf("%s: requests %+v subscriptions %+v", proto, r.Requests, s)
		}
		if r.MessageLatency == nil || r.MessageLatency.N != s.Received {
			t.Fatalf("%s: message latency %+v", proto, r.MessageLatency)
		}
	}
}
