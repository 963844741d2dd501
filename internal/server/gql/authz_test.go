package gql_test

import (
	"testing"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// loginAs returns a token for seeded user n.
func (f *fixture) loginAs(n int) string {
	f.t.Helper()
	var d struct{ Login struct{ Token string } }
	f.ok(request{Query: `mutation($e: String!) { login(email: $e, password: "loadrig") { token } }`,
		Variables: map[string]any{"e": "user" + itoa(n) + "@example.com"}}, "", &d)
	return d.Login.Token
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// TestAuthorization applies REST's rules: product writes need the admin
// (user 1); users' and orders' data is the owner's or the admin's (others
// NOT_FOUND, anonymous UNAUTHENTICATED); a review's author is public but
// not the author's email.
func TestAuthorization(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	customer := f.loginAs(2)
	admin := f.login()

	for _, op := range []string{
		`mutation { updateProduct(id: 3, input: {price: 1}) { id } }`,
		`mutation { deleteProduct(id: 3) }`,
	} {
		if r := f.post(request{Query: op}, customer); r.code() != gql.CodeForbidden {
			t.Errorf("customer %s: code %q, want FORBIDDEN", op, r.code())
		}
		if r := f.post(request{Query: op}, ""); r.code() != gql.CodeUnauthenticated {
			t.Errorf("anonymous %s: code %q, want UNAUTHENTICATED", op, r.code())
		}
	}
	if p, _ := f.st.Store.PeekProduct(3); p.Price == 1 {
		t.Fatal("a customer changed a product")
	}

	checks := []struct {
		query, token, code string
	}{
		{`{ user(id: 2) { id } }`, customer, ""},
		{`{ user(id: 3) { id } }`, customer, gql.CodeNotFound},
		{`{ user(id: 3) { id } }`, admin, ""},
		{`{ user(id: 2) { id } }`, "", gql.CodeUnauthenticated},
		{`{ user(id: 2) { orders { id } } }`, customer, ""},
		{`{ order(id: 1) { id } }`, "", gql.CodeUnauthenticated},
		{`{ order(id: 1) { id } }`, admin, ""},
		{`mutation { addReview(productId: 3, rating: 4, text: "ok") { id } }`, customer, ""},
		{`mutation { createOrder(items: [{productId: 3, quantity: 1}]) { userId } }`, customer, ""},
		{`mutation { createOrder(items: [{productId: 3, quantity: 5000}]) { userId } }`, customer, gql.CodeBadUserInput},
	}
	for _, c := range checks {
		r := f.post(request{Query: c.query}, c.token)
		if r.code() != c.code {
			t.Errorf("%s (token %v): code %q, want %q (%+v)", c.query, c.token != "", r.code(), c.code, r.Errors)
		}
	}

	// Someone else's order: NOT_FOUND, not FORBIDDEN (ids cannot be probed).
	var mine struct {
		CreateOrder struct{ ID string }
	}
	f.ok(request{Query: `mutation { createOrder(items: [{productId: 4, quantity: 1}]) { id } }`}, f.loginAs(3), &mine)
	if r := f.post(request{Query: `{ order(id: ` + mine.CreateOrder.ID + `) { id } }`}, customer); r.code() != gql.CodeNotFound {
		t.Errorf("another customer's order: code %q, want NOT_FOUND", r.code())
	}

	// Authors are public, their addresses are not.
	var d struct {
		Product struct {
			Reviews []struct {
				Author struct {
					ID    string
					Email *string
				}
			}
		}
	}
	f.ok(request{Query: `{ product(id: 3) { reviews(first: 20) { author { id email } } } }`}, customer, &d)
	if len(d.Product.Reviews) == 0 {
		t.Fatal("product 3 has no reviews")
	}
	for _, rv := range d.Product.Reviews {
		if (rv.Author.Email != nil) != (rv.Author.ID == "2") {
			t.Fatalf("author %s's email visible to user 2: %v", rv.Author.ID, rv.Author.Email)
		}
	}
	// The customer's own orders through a review author are still refused.
	r := f.post(request{Query: `{ product(id: 3) { reviews(first: 20) { author { orders { id } } } } }`}, "")
	if r.code() != gql.CodeUnauthenticated {
		t.Fatalf("anonymous author orders: code %q", r.code())
	}
}
