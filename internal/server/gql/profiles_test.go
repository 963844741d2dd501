package gql

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/profiles"
)

// TestBuiltinProfileQueries checks every GraphQL document the built-in
// profiles send (a graphql workload's query and publish mutation) against
// this server's schema, so a built-in cannot ship a query the reference
// server rejects on every request.
func TestBuiltinProfileQueries(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &resolver{}, Complexity: complexityRoot()}).Schema()
	checked := 0
	for _, name := range profiles.Names() {
		data, file, _ := profiles.Get(name)
		spec, err := profile.ParseSpec(file, data, nil)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, w := range spec.Workloads {
			if w.Protocol != "graphql" {
				continue
			}
			for _, o := range w.Options {
				if o.Name != "query" && o.Name != "publish" {
					continue
				}
				for _, q := range o.Values {
					if strings.HasPrefix(q, "@") {
						continue // a file, read at run time
					}
					checked++
					if _, errs := gqlparser.LoadQuery(schema, q); len(errs) > 0 {
						t.Errorf("%s:%d:%d: workload %s: %s does not validate against serve graphql's schema: %v",
							file, o.ValuePos.Line, o.ValuePos.Col, w.Name, o.Name, errs)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no built-in profile has a GraphQL query: the test checks nothing")
	}
}
