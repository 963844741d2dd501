package gqldrv

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Operation is one operation of the document, ready to send.
type Operation struct {
	// Name is the operation's name ("" for an anonymous one, which is then
	// the document's only operation and reported as "anonymous").
	Name string
	// Kind is "query", "mutation" or "subscription".
	Kind string
	// Text is what goes in the request's "query": the document as given
	// when it holds one operation, else this operation and the fragments it
	// uses, compacted by the parser's formatter.
	Text string
	// Required lists the variables the operation declares non-null without
	// a default: the rendered variables must have them.
	Required []string
	// Weight is its share of a mix (Options.Mix); 1 when not mixed.
	Weight int
}

// ReportName is the name under which the result reports the operation.
func (o *Operation) ReportName() string {
	if o.Name == "" {
		return "anonymous"
	}
	return o.Name
}

// ParseDocument parses a GraphQL document and returns its operations, each
// with the text to send. A syntax error is reported with its line and
// column, once, before any request.
func ParseDocument(src string) ([]*Operation, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the query is empty: give a GraphQL document, e.g. --query '{ product(id: 1) { name } }' or --query @file.graphql")
	}
	doc, err := parser.ParseQuery(&ast.Source{Name: "query", Input: src})
	if err != nil {
		var ge *gqlerror.Error
		if errors.As(err, &ge) && len(ge.Locations) > 0 {
			return nil, fmt.Errorf("the query does not parse: %s (line %d, column %d)", ge.Message, ge.Locations[0].Line, ge.Locations[0].Column)
		}
		return nil, fmt.Errorf("the query does not parse: %v", err)
	}
	if len(doc.Operations) == 0 {
		return nil, errors.New("the document has no operation (only fragments?): add a query, mutation or subscription")
	}
	frags := map[string]*ast.FragmentDefinition{}
	for _, f := range doc.Fragments {
		if frags[f.Name] != nil {
			return nil, fmt.Errorf("the document defines fragment %s twice", f.Name)
		}
		frags[f.Name] = f
	}
	seen := map[string]bool{}
	var ops []*Operation
	for _, od := range doc.Operations {
		if od.Name == "" && len(doc.Operations) > 1 {
			return nil, errors.New("the document has several operations and one is anonymous: name every operation (query Name { ... })")
		}
		if seen[od.Name] {
			return nil, fmt.Errorf("the document defines operation %s twice", od.Name)
		}
		seen[od.Name] = true
		op := &Operation{Name: od.Name, Kind: string(od.Operation), Text: src, Weight: 1}
		for _, v := range od.VariableDefinitions {
			if v.Type != nil && v.Type.NonNull && v.DefaultValue == nil {
				op.Required = append(op.Required, v.Variable)
			}
		}
		if len(doc.Operations) > 1 {
			used, err := usedFragments(od.SelectionSet, frags)
			if err != nil {
				return nil, fmt.Errorf("operation %s: %w", od.Name, err)
			}
			var b strings.Builder
			sub := &ast.QueryDocument{Operations: ast.OperationList{od}, Fragments: used}
			formatter.NewFormatter(&b, formatter.WithCompacted()).FormatQueryDocument(sub)
			op.Text = strings.TrimSpace(b.String())
		} else if _, err := usedFragments(od.SelectionSet, frags); err != nil {
			return nil, fmt.Errorf("operation %s: %w", op.ReportName(), err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// usedFragments is the fragments set reaches, transitively, in the order
// of first use; a spread of an undefined fragment is an error.
func usedFragments(set ast.SelectionSet, frags map[string]*ast.FragmentDefinition) (ast.FragmentDefinitionList, error) {
	var out ast.FragmentDefinitionList
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) error
	walk = func(set ast.SelectionSet) error {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.InlineFragment:
				if err := walk(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				if seen[s.Name] {
					continue
				}
				f := frags[s.Name]
				if f == nil {
					return fmt.Errorf("fragment %s is used but not defined", s.Name)
				}
				seen[s.Name] = true
				out = append(out, f)
				if err := walk(f.SelectionSet); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(set)
}

// SelectOperations picks what a run sends from the document's operations:
// with mix ("A=70,B=30"), the named operations with those weights; with
// name, that operation alone; with neither, the document's only operation
// (several need --operation-name or --mix). Subscriptions cannot be mixed
// with queries or mutations.
func SelectOperations(ops []*Operation, name, mix string) ([]*Operation, error) {
	byName := map[string]*Operation{}
	var names []string
	for _, o := range ops {
		byName[o.Name] = o
		names = append(names, o.ReportName())
	}
	sort.Strings(names)
	have := strings.Join(names, ", ")
	var out []*Operation
	switch {
	case mix != "" && name != "":
		return nil, errors.New("--operation-name and --mix both choose operations: use one")
	case mix != "":
		seen := map[string]bool{}
		for _, part := range strings.Split(mix, ",") {
			n, w, ok := strings.Cut(strings.TrimSpace(part), "=")
			n = strings.TrimSpace(n)
			weight, err := strconv.Atoi(strings.TrimSpace(w))
			if !ok || n == "" || err != nil || weight <= 0 {
				return nil, fmt.Errorf("--mix %q: expected Name=weight pairs with positive integer weights, e.g. --mix GetProduct=70,ListProducts=30", part)
			}
			o := byName[n]
			if o == nil {
				return nil, fmt.Errorf("--mix gives a weight to %s, which the document does not define (it has: %s)", n, have)
			}
			if seen[n] {
				return nil, fmt.Errorf("--mix names %s twice", n)
			}
			seen[n] = true
			c := *o
			c.Weight = weight
			out = append(out, &c)
		}
	case name != "":
		o := byName[name]
		if o == nil {
			return nil, fmt.Errorf("--operation-name %s: the document has no such operation (it has: %s)", name, have)
		}
		out = []*Operation{o}
	case len(ops) > 1:
		return nil, fmt.Errorf("the document has %d operations (%s): choose one with --operation-name or mix them with --mix Name=weight,...", len(ops), have)
	default:
		out = []*Operation{ops[0]}
	}
	if len(out) > 32 {
		return nil, fmt.Errorf("--mix names %d operations; at most 32", len(out))
	}
	subs := 0
	for _, o := range out {
		if o.Kind == "subscription" {
			subs++
		}
	}
	if subs > 0 && subs != len(out) {
		return nil, errors.New("--mix combines a subscription with queries or mutations: subscriptions run as subscribers (--subscribers), so load them in a run of their own")
	}
	if subs > 1 {
		return nil, errors.New("--mix names several subscriptions: a subscription run subscribes with one operation; choose it with --operation-name")
	}
	return out, nil
}
