package gql

import (
	"reflect"
	"testing"
	"unicode"

	"github.com/vektah/gqlparser/v2"
)

// TestWeightedMatchesComplexityRoot: weighted names exactly the fields
// complexityRoot gives a function, so the remembered complexities of
// operations without variables on weighted fields stay right.
func TestWeightedMatchesComplexityRoot(t *testing.T) {
	got := map[string]bool{}
	root := reflect.ValueOf(complexityRoot())
	for i := range root.NumField() {
		typ := root.Type().Field(i).Name
		fields := root.Field(i)
		for j := range fields.NumField() {
			if !fields.Field(j).IsNil() {
				name := fields.Type().Field(j).Name
				got[typ+"."+string(unicode.ToLower(rune(name[0])))+name[1:]] = true
			}
		}
	}
	if !reflect.DeepEqual(got, weighted) {
		t.Fatalf("complexityRoot weighs %v, weighted lists %v", got, weighted)
	}
}

func TestVariablesWeigh(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &resolver{}, Complexity: complexityRoot()}).Schema()
	for _, c := range []struct {
		query string
		want  bool
	}{
		{`query($id: ID!) { product(id: $id) { id reviews(first: 2) { id } } }`, false},
		{`query($n: Int) { products(first: $n) { id } }`, true},
		{`query($n: Int) { product(id: 1) { reviews(first: $n) { id } } }`, true},
		{`query($n: Int) { product(id: 1) { ...F } } fragment F on Product { reviews(first: $n) { id } }`, true},
		{`query($n: Int) { product(id: 1) { ... on Product { reviews(first: $n) { id } } } }`, true},
		{`{ products(first: 3) { id } }`, false},
	} {
		doc, errs := gqlparser.LoadQuery(schema, c.query)
		if errs != nil {
			t.Fatalf("%s: %v", c.query, errs)
		}
		if got := variablesWeigh(doc, doc.Operations[0]); got != c.want {
			t.Errorf("%s: variablesWeigh = %v, want %v", c.query, got, c.want)
		}
	}
}
