package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// TestPostJSONMatchesGqlgen sends the same requests through postJSON and
// gqlgen's transport.POST (one handler, one warm cache) and wants the same
// status, Content-Type and body, byte for byte: answers, errors of every
// stage, extensions, HTML-escaped strings and content negotiation.
func TestPostJSONMatchesGqlgen(t *testing.T) {
	st, err := stack.New(context.Background(), stack.Config{Cache: "lru", Dataset: "users=5,products=10,reviews=2,orders=3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	h := New(server.NewSpine(server.SpineOptions{}), server.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed},
		Options{DataLoader: true, APQ: NewAPQLRU(10), MaxDepth: 3, MaxComplexity: 50})
	ours, ref := h.newServer(postJSON{}), h.newServer(transport.POST{})

	// A product whose name needs HTML escaping in encoding/json's output.
	do := func(srv http.Handler, body string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		if a := r.Header.Get("Authorization"); a != "" { // as serveGraphQL
			r = r.WithContext(withToken(r.Context(), a))
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	login := do(ours, `{"query":"mutation { login(email: \"user1@example.com\", password: \"loadrig\") { token } }"}`, nil)
	tok := strings.Split(login.Body.String(), `"token":"`)[1]
	tok = tok[:strings.IndexByte(tok, '"')]
	auth := map[string]string{"Authorization": "Bearer " + tok}
	if w := do(ours, `{"query":"mutation { updateProduct(id: 3, input: {name: \"<b>A & B</b> \u2028 “q”\"}) { name } }"}`, auth); !strings.Contains(w.Body.String(), `\u003cb\u003e`) {
		t.Fatalf("update: %s", w.Body)
	}

	const full = `id name description category price stock version updatedAt`
	cases := []struct {
		name, body string
		hdr        map[string]string
	}{
		{"product", `{"query":"query P($id: ID!) { product(id: $id) { ` + full + ` } }","variables":{"id":"7"}}`, nil},
		{"escaped", `{"query":"{ product(id: 3) { name } }"}`, nil},
		{"relations", `{"query":"{ products(first: 3) { id reviews(first: 2) { rating author { name } } } }"}`, nil},
		{"not found", `{"query":"{ product(id: 999999) { id } }"}`, nil},
		{"parse", `{"query":"{ product(id: 1) { id "}`, nil},
		{"validation", `{"query":"{ product(id: 1) { nope } }"}`, nil},
		{"validation graphql-response", `{"query":"{ product(id: 1) { nope } }"}`, map[string]string{"Accept": "application/graphql-response+json"}},
		{"accept list", `{"query":"{ product(id: 1) { id } }"}`, map[string]string{"Accept": "text/html, application/json;q=0.9"}},
		{"accept unknown", `{"query":"{ product(id: 1) { id } }"}`, map[string]string{"Accept": "text/html"}},
		{"depth", `{"query":"{ products { reviews { author { orders { id } } } } }"}`, nil},
		{"complexity", `{"query":"{ products(first: 100) { id } }"}`, nil},
		{"bad variables", `{"query":"query P($id: ID!) { product(id: $id) { id } }","variables":{"id":{}}}`, nil},
		{"unknown operation", `{"query":"query A { me { id } }","operationName":"B"}`, nil},
		{"unauthenticated", `{"query":"{ me { id } }"}`, nil},
		{"me", `{"query":"{ me { id name } }"}`, auth},
		{"apq miss", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, nil},
		{"apq wrong hash", `{"query":"{ me { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, nil},
		{"bad json", `{"query":`, nil},
		{"not an object", `[1,2]`, nil},
		{"empty", ``, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			do(ours, c.body, c.hdr) // warm the cache either way
			got, want := do(ours, c.body, c.hdr), do(ref, c.body, c.hdr)
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") || got.Body.String() != want.Body.String() {
				t.Fatalf("postJSON:\n%d %s %s\ntransport.POST:\n%d %s %s", got.Code, got.Header().Get("Content-Type"), got.Body,
					want.Code, want.Header().Get("Content-Type"), want.Body)
			}
			if cl := got.Header().Get("Content-Length"); cl == "" {
				t.Fatal("no Content-Length")
			}
		})
	}
}

// TestPostJSONOtherExtensions: extensions.loadrig, which postJSON keeps out
// of Response.Extensions, still lands in key order among the extensions
// others register, as transport.POST writes them from the map.
func TestPostJSONOtherExtensions(t *testing.T) {
	st, err := stack.New(context.Background(), stack.Config{Cache: "lru", Dataset: "users=5,products=10,reviews=2,orders=3"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	h := New(server.NewSpine(server.SpineOptions{}), server.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed}, Options{DataLoader: true})
	register := func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		graphql.RegisterExtension(ctx, "zeta", map[string]int{"n": 1})
		graphql.RegisterExtension(ctx, "alpha", "<a>")
		return next(ctx)
	}
	ours, ref := h.newServer(postJSON{}), h.newServer(transport.POST{})
	ours.AroundResponses(register)
	ref.AroundResponses(register)
	for _, body := range []string{
		`{"query":"{ product(id: 2) { id name } }"}`,
		`{"query":"{ products(first: 2) { id } }"}`,
		`{"query":"{ product(id: 1) { nope } }"}`,
	} {
		do := func(srv http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			return w
		}
		do(ours)
		got, want := do(ours), do(ref)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Fatalf("postJSON:\n%d %s\ntransport.POST:\n%d %s", got.Code, got.Body, want.Code, want.Body)
		}
		if !strings.Contains(got.Body.String(), `"extensions":{"alpha":"\u003ca\u003e","loadrig":{`) {
			t.Fatalf("extensions not merged: %s", got.Body)
		}
	}
}

// TestAppendResponseIncremental: an incremental (@defer) part goes through
// encoding/json, with extensions.loadrig from the operation state.
func TestAppendResponseIncremental(t *testing.T) {
	next := true
	resp := &graphql.Response{Data: []byte(`{"a":1}`), Label: "l", Path: ast.Path{ast.PathName("x")}, HasNext: &next,
		Extensions: map[string]any{"other": 2}}
	st := &opState{post: true, hasExt: true, ext: loadrigExt{StoreCalls: 3, Depth: 2}}
	var buf bytes.Buffer
	if err := appendResponse(&buf, resp, st); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(&graphql.Response{Data: resp.Data, Label: "l", Path: resp.Path, HasNext: &next,
		Extensions: map[string]any{"other": 2, "loadrig": st.ext}})
	if buf.String() != string(want) {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	if len(resp.Extensions) != 1 {
		t.Fatalf("resp.Extensions changed: %v", resp.Extensions)
	}
}
