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
type limits struct {
	maxDepth   int
	complexity *extension.ComplexityLimit
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = (*limits)(nil)

func (l *limits) ExtensionName() string { return "LoadrigLimits" }

func (l *limits) Validate(es graphql.ExecutableSchema) error {
	return l.complexity.Validate(es)
}

// limitStats is what the limits measured, kept in the operation's stats.
type limitStats struct{ depth, complexity int }

const limitStatsKey = "LoadrigLimits"

func (l *limits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if introspectionOnly(opCtx.Operation, opCtx.Doc) {
		return nil
	}
	st := &limitStats{depth: Depth(opCtx.Doc, opCtx.Operation)}
	opCtx.Stats.SetExtension(limitStatsKey, st)
	if l.maxDepth > 0 && st.depth > l.maxDepth {
		err := gqlerror.Errorf("operation is %d levels deep, over the limit of %d", st.depth, l.maxDepth)
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	err := l.complexity.MutateOperationContext(ctx, opCtx)
	if cs := extension.GetComplexityStats(graphql.WithOperationContext(ctx, opCtx)); cs != nil {
		st.complexity = cs.Complexity
	}
	return err
}

func limitStatsOf(opCtx *graphql.OperationContext) (depth, complexity int) {
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

// complexityRoot weighs the list fields by their first argument.
func complexityRoot() ComplexityRoot {
	var c ComplexityRoot
	c.Query.Products = func(child int, first *int, _ *int64, _ *string) int { return listCost(child, first, 20) }
	c.Product.Reviews = func(child int, first *int) int { return listCost(child, first, 10) }
	c.User.Orders = func(child int, first *int) int { return listCost(child, first, 20) }
	return c
}
