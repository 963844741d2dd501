package gql

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Depth is the selection depth of operation op in doc: the longest chain of
// nested fields, a top-level field counting 1. Fragment spreads and inline
// fragments add no depth of their own; their fields count where they are
// spread. Each fragment's own depth is computed once (memoized), so a
// document that spreads fragments into fragments costs time linear in its
// size, not in the size it would have expanded to; a fragment cycle (which
// validation rejects, but the walker must survive) counts as no depth.
// Unknown fragment names count as no depth too.
func Depth(doc *ast.QueryDocument, op *ast.OperationDefinition) int {
	if op == nil {
		return 0
	}
	w := depthWalker{doc: doc}
	return w.set(op.SelectionSet)
}

type depthWalker struct {
	doc  *ast.QueryDocument
	memo map[string]int
	busy map[string]bool
}

func (w *depthWalker) set(ss ast.SelectionSet) int {
	d := 0
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			d = max(d, 1+w.set(s.SelectionSet))
		case *ast.InlineFragment:
			d = max(d, w.set(s.SelectionSet))
		case *ast.FragmentSpread:
			d = max(d, w.fragment(s.Name))
		}
	}
	return d
}

func (w *depthWalker) fragment(name string) int {
	if d, ok := w.memo[name]; ok {
		return d
	}
	if w.busy[name] || w.doc == nil {
		return 0
	}
	f := w.doc.Fragments.ForName(name)
	if f == nil {
		return 0
	}
	if w.memo == nil {
		w.memo, w.busy = map[string]int{}, map[string]bool{}
	}
	w.busy[name] = true
	d := w.set(f.SelectionSet)
	w.busy[name] = false
	w.memo[name] = d
	return d
}

// introspectionOnly reports whether every top-level field of op is an
// introspection field (__schema, __type, __typename): GraphiQL's schema
// query, which is exempt from the depth and complexity limits (it is 13
// levels deep by itself) and only runs when introspection is on.
func introspectionOnly(op *ast.OperationDefinition, doc *ast.QueryDocument) bool {
	if op == nil || op.Operation != ast.Query {
		return false
	}
	n := 0
	var all func(ss ast.SelectionSet, seen map[string]bool) bool
	all = func(ss ast.SelectionSet, seen map[string]bool) bool {
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				if len(s.Name) < 2 || s.Name[:2] != "__" {
					return false
				}
				n++
			case *ast.InlineFragment:
				if !all(s.SelectionSet, seen) {
					return false
				}
			case *ast.FragmentSpread:
				f := doc.Fragments.ForName(s.Name)
				if f == nil || seen[s.Name] {
					return false
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[s.Name] = true
				if !all(f.SelectionSet, seen) {
					return false
				}
			}
		}
		return true
	}
	return all(op.SelectionSet, nil) && n > 0
}

// limits is the handler extension enforcing the depth limit and, through
// gqlgen's extension.FixedComplexityLimit, the complexity limit. Both
// record their measure for extensions.loadrig; an introspection-only
// operation skips both.
//
// Depth never depends on variables, and complexity only through the
// arguments of the weighted list fields; so an operation that passed, and
// passes no variable to a weighted field, is remembered by its text and
// name in passed, and its next requests skip both walks (gqlgen's
// complexity walk allocates per field). Refused operations are not
// remembered: each try is measured again.
type limits struct {
	maxDepth   int
	complexity *extension.ComplexityLimit
	passed     textBounded[*limitStats] // nil stats: introspection, exempt
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = (*limits)(nil)

func newLimits(maxDepth, maxComplexity, cacheSize int) *limits {
	return &limits{maxDepth: maxDepth, complexity: extension.FixedComplexityLimit(maxComplexity), passed: newTextBounded[*limitStats](cacheSize)}
}

func (l *limits) ExtensionName() string { return "LoadrigLimits" }

func (l *limits) Validate(es graphql.ExecutableSchema) error {
	return l.complexity.Validate(es)
}

// limitStats is what the limits measured, kept in the operation's stats;
// shared by the requests of a remembered operation, so never changed once
// remembered.
type limitStats struct{ depth, complexity int }

const limitStatsKey = "LoadrigLimits"

// passedKey names an operation by its name and text.
func passedKey(opCtx *graphql.OperationContext) string {
	if opCtx.OperationName == "" {
		return opCtx.RawQuery
	}
	return opCtx.OperationName + "\x00" + opCtx.RawQuery
}

func (l *limits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	key := passedKey(opCtx)
	if st, ok := l.passed.Get(ctx, key); ok {
		if st != nil {
			recordLimits(ctx, opCtx, st)
		}
		return nil
	}
	if introspectionOnly(opCtx.Operation, opCtx.Doc) {
		l.passed.Add(ctx, key, nil)
		return nil
	}
	st := &limitStats{depth: Depth(opCtx.Doc, opCtx.Operation)}
	recordLimits(ctx, opCtx, st)
	if l.maxDepth > 0 && st.depth > l.maxDepth {
		err := gqlerror.Errorf("operation is %d levels deep, over the limit of %d", st.depth, l.maxDepth)
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	err := l.complexity.MutateOperationContext(ctx, opCtx)
	if cs := extension.GetComplexityStats(graphql.WithOperationContext(ctx, opCtx)); cs != nil {
		st.complexity = cs.Complexity
	}
	if err == nil && !variablesWeigh(opCtx.Doc, opCtx.Operation) {
		l.passed.Add(ctx, key, st)
	}
	return err
}

// variablesWeigh reports whether op passes a variable to an argument of a
// weighted field (directly or through fragments): then its complexity
// depends on the request's variables.
func variablesWeigh(doc *ast.QueryDocument, op *ast.OperationDefinition) bool {
	seen := map[string]bool{}
	var walk func(ss ast.SelectionSet) bool
	walk = func(ss ast.SelectionSet) bool {
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				if s.ObjectDefinition != nil && weighted[s.ObjectDefinition.Name+"."+s.Name] {
					for _, a := range s.Arguments {
						if hasVariable(a.Value) {
							return true
						}
					}
				}
				if walk(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if walk(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				if f := doc.Fragments.ForName(s.Name); f != nil && walk(f.SelectionSet) {
					return true
				}
			}
		}
		return false
	}
	return op != nil && walk(op.SelectionSet)
}

func hasVariable(v *ast.Value) bool {
	if v == nil {
		return false
	}
	if v.Kind == ast.Variable {
		return true
	}
	for _, c := range v.Children {
		if hasVariable(c.Value) {
			return true
		}
	}
	return false
}

// recordLimits keeps what the limits measured for extensions.loadrig: in
// the POST transport's operation state, else in the operation's stats.
func recordLimits(ctx context.Context, opCtx *graphql.OperationContext, st *limitStats) {
	if s := opFrom(ctx); s != nil && s.post {
		s.limits = st
		return
	}
	opCtx.Stats.SetExtension(limitStatsKey, st)
}

func limitStatsOf(ctx context.Context, opCtx *graphql.OperationContext) (depth, complexity int) {
	if s := opFrom(ctx); s != nil && s.limits != nil {
		return s.limits.depth, s.limits.complexity
	}
	if opCtx == nil {
		return 0, 0
	}
	if st, ok := opCtx.Stats.GetExtension(limitStatsKey).(*limitStats); ok {
		return st.depth, st.complexity
	}
	return 0, 0
}

// listCost weighs a list field by the items it may return: 1 for the field
// plus first (at least 1) times the cost of one item.
// The product saturates at maxCost, so deep nesting cannot overflow.
func listCost(child int, first *int, def int) int {
	n := def
	if first != nil {
		n = *first
	}
	n = max(n, 1)
	if child > (maxCost-1)/n {
		return maxCost
	}
	return 1 + n*child
}

// maxCost is where complexity stops counting: far over any sane limit.
const maxCost = 1 << 40

// weighted are the fields complexityRoot weighs by their arguments
// (TestWeightedMatchesComplexityRoot keeps the two in step).
var weighted = map[string]bool{"Query.products": true, "Product.reviews": true, "User.orders": true}

// complexityRoot weighs the list fields by their first argument.
func complexityRoot() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Products = func(child int, first *int, _ *int64, _ *string) int { return listCost(child, first, 20) }
	c.Product.Reviews = func(child int, first *int) int { return listCost(child, first, 10) }
	c.User.Orders = func(child int, first *int) int { return listCost(child, first, 20) }
	return c
}
