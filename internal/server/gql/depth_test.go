package gql

import (
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func depthOf(t testing.TB, q string) (int, bool) {
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil || len(doc.Operations) == 0 {
		return 0, false
	}
	return Depth(doc, doc.Operations[0]), true
}

func TestDepth(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want int
	}{
		{`{ a }`, 1},
		{`{ a { b { c } } d }`, 3},
		{`{ a { ... on T { b { c } } } }`, 3},
		{`{ a { ...F } } fragment F on T { b { ...G } } fragment G on T { c { d } }`, 4},
		// A fragment spread twice at different depths counts at the deeper.
		{`{ x { ...F } y { z { ...F } } } fragment F on T { f { g } }`, 4},
		// Cycles (validation rejects them) and unknown fragments count as nothing.
		{`{ a { ...F } } fragment F on T { b { ...F } }`, 2},
		{`{ a { ...Missing } }`, 1},
	} {
		if got, ok := depthOf(t, tc.q); !ok || got != tc.want {
			t.Errorf("Depth(%s) = %d, want %d", tc.q, got, tc.want)
		}
	}
}

// TestDepthFragmentBomb: 30 fragments each spreading the next twice would
// expand to 2^30 selections; the memoized walk stays linear.
func TestDepthFragmentBomb(t *testing.T) {
	q := `{ root { ...F0 } }`
	for i := 0; i < 30; i++ {
		q += " fragment F" + itoa(i) + " on T { a: x { ...F" + itoa(i+1) + " } b: x { ...F" + itoa(i+1) + " } }"
	}
	q += " fragment F30 on T { leaf }"
	if got, _ := depthOf(t, q); got != 32 {
		t.Fatalf("bomb depth %d, want 32", got)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// FuzzDepth: the walker never panics, never exceeds the document's nesting
// when there are no fragments, and is at least 1 for any operation with a
// field.
func FuzzDepth(f *testing.F) {
	for _, s := range []string{
		`{ a }`, `{ a { ...F } } fragment F on T { b { ...F } }`,
		`query Q($x: Int) { a(x: $x) { ... on T { b } ... @include(if: true) { c { d } } } }`,
		`{ a { ...A } } fragment A on T { ...B } fragment B on T { ...A }`,
		`subscription { s { ...F } } fragment F on T { x { y { z } } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			return
		}
		for _, op := range doc.Operations {
			d := Depth(doc, op)
			if d < 0 {
				t.Fatalf("negative depth %d", d)
			}
			if len(op.SelectionSet) > 0 && d == 0 && hasField(op.SelectionSet) {
				t.Fatalf("depth 0 for an operation with a field: %q", q)
			}
			_ = introspectionOnly(op, doc)
		}
		_ = Depth(doc, nil)
	})
}

func hasField(ss ast.SelectionSet) bool {
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			return true
		case *ast.InlineFragment:
			if hasField(s.SelectionSet) {
				return true
			}
		}
	}
	return false
}
