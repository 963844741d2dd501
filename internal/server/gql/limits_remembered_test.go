package gql_test

import (
	"testing"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// TestLimitsRemembered: an operation that passed is remembered by its text
// and name, and its next requests report the same depth and complexity;
// a variable on a weighted field is measured per request, so a larger
// first is refused; a refused operation is refused every time.
func TestLimitsRemembered(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.MaxComplexity = 100 })

	q := `query P($id: ID!) { product(id: $id) { id reviews(first: 3) { id author { name } } } }`
	var first *loadrigExt
	for i := range 3 {
		r := f.ok(request{Query: q, Variables: map[string]any{"id": "2"}}, "", nil)
		ext := r.Extensions.Loadrig
		if ext.Depth != 4 || ext.Complexity != 1+1+(1+3*(1+1+1)) {
			t.Fatalf("request %d: depth %d complexity %d", i, ext.Depth, ext.Complexity)
		}
		if first == nil {
			first = ext
		} else if ext.Depth != first.Depth || ext.Complexity != first.Complexity {
			t.Fatalf("request %d: %+v, first %+v", i, ext, first)
		}
	}
	// Two operations in one text are remembered apart.
	two := `query A { product(id: 1) { id } } query B { products(first: 5) { id } }`
	if r := f.ok(request{Query: two, OperationName: "A"}, "", nil); r.Extensions.Loadrig.Complexity != 2 {
		t.Fatalf("A: complexity %d", r.Extensions.Loadrig.Complexity)
	}
	if r := f.ok(request{Query: two, OperationName: "B"}, "", nil); r.Extensions.Loadrig.Complexity != 1+5 {
		t.Fatalf("B: complexity %d", r.Extensions.Loadrig.Complexity)
	}

	v := `query L($n: Int) { products(first: $n) { id } }`
	if r := f.ok(request{Query: v, Variables: map[string]any{"n": 10}}, "", nil); r.Extensions.Loadrig.Complexity != 11 {
		t.Fatalf("first: 10: complexity %d", r.Extensions.Loadrig.Complexity)
	}
	for range 2 {
		if r := f.post(request{Query: v, Variables: map[string]any{"n": 500}}, ""); r.code() != gql.CodeComplexityLimit {
			t.Fatalf("first: 500 after first: 10: code %q", r.code())
		}
	}
	for range 2 {
		if r := f.post(request{Query: `{ products(first: 500) { id } }`}, ""); r.code() != gql.CodeComplexityLimit {
			t.Fatalf("over the limit, again: code %q", r.code())
		}
	}
}
