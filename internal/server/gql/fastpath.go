package gql

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loadrig/loadrig/internal/domain"
)

// fastSchema is the generated executable schema with one shortcut: an
// operation that is a single product(id) whose selection is plain Product
// scalars (productShape) is answered by calling the same resolver once and
// writing the JSON directly, instead of through gqlgen's generic per-field
// execution, which for the usual eight fields costs ~100 allocations (a
// field context, a context value, closures, a boxed result and a marshaler
// per field) and over half of the handler's CPU. Everything around Exec
// (parse and validation cache, variable coercion, limits, APQ, operation
// and response interceptors, extensions.loadrig, error presenter, recover
// func) runs as before; only the field walk is skipped. Any other shape
// goes to the generated Exec, and so does every unusual result (an error,
// a panic, no product, a zero time or a non-finite price): it is marshaled
// by the generated code under the field contexts gqlgen builds, so errors
// carry the same paths, codes and messages. The output is byte-for-byte
// the generated executor's (TestFastPathMatchesGenerated).
//
// The shortcut skips field middleware: newServer registers none (no
// AroundFields or AroundRootFields, no field-intercepting extension). One
// that adds some must take fastSchema out.
type fastSchema struct {
	*executableSchema
	taken func() // tests: called for each operation the shortcut takes
}

var _ graphql.ExecutableSchema = fastSchema{}

// Exec answers a productShape operation itself, anything else through the
// generated executor.
func (s fastSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	f, id, ok := productShape(opCtx)
	if !ok {
		return s.executableSchema.Exec(ctx)
	}
	if s.taken != nil {
		s.taken()
	}
	first := true
	return func(ctx context.Context) *graphql.Response {
		if !first {
			return nil // as the generated handler: one response, no @defer
		}
		first = false
		return &graphql.Response{Data: s.product(ctx, opCtx, f, id)}
	}
}

// productFields are the Product fields the shortcut writes: its scalars,
// read straight from domain.Product (no resolver, no directive, no
// arguments).
var productFields = [...]string{"__typename", "id", "name", "description", "category", "price", "stock", "version", "updatedAt"}

func productField(name string) int {
	for i, n := range productFields {
		if n == name {
			return i
		}
	}
	return -1
}

// productShape reports whether opCtx's operation is a query with exactly
// one root selection, product(id: …), selecting only productFields, with
// no fragments, no directives (@skip, @include, @defer) and no response
// key twice (which CollectFields would merge); and returns the field and
// its coerced id. An id that does not coerce is left to the generated
// executor, which reports it.
func productShape(opCtx *graphql.OperationContext) (*ast.Field, int64, bool) {
	op := opCtx.Operation
	if op == nil || op.Operation != ast.Query || len(op.SelectionSet) != 1 {
		return nil, 0, false
	}
	f, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || f.Name != "product" || f.ObjectDefinition == nil || f.ObjectDefinition.Name != "Query" ||
		len(f.Directives) != 0 || len(f.Arguments) != 1 || f.Arguments[0].Name != "id" ||
		len(f.SelectionSet) == 0 || len(f.SelectionSet) > len(productFields) {
		return nil, 0, false
	}
	for i, sel := range f.SelectionSet {
		sf, ok := sel.(*ast.Field)
		if !ok || len(sf.Directives) != 0 || len(sf.Arguments) != 0 || len(sf.SelectionSet) != 0 || productField(sf.Name) < 0 {
			return nil, 0, false
		}
		for _, prev := range f.SelectionSet[:i] {
			if prev.(*ast.Field).Alias == sf.Alias {
				return nil, 0, false
			}
		}
	}
	// The argument as gqlparser's ArgumentMap reads it (the generated
	// field_Query_product_args), then UnmarshalInt64ID as the generated
	// unmarshalNID2int64.
	var v any
	if a := f.Arguments[0].Value; a.Kind == ast.Variable {
		if v, ok = opCtx.Variables[a.Raw]; !ok {
			return nil, 0, false
		}
	} else {
		var err error
		if v, err = a.Value(opCtx.Variables); err != nil {
			return nil, 0, false
		}
	}
	id, err := UnmarshalInt64ID(v)
	if err != nil {
		return nil, 0, false
	}
	return f, id, true
}

// product resolves product(id) and returns the response data.
func (s fastSchema) product(ctx context.Context, opCtx *graphql.OperationContext, f *ast.Field, id int64) []byte {
	p, err, rec := s.resolveProduct(ctx, id)
	if rec != nil || err != nil || p == nil || !plainProduct(p) {
		return s.productGenerated(ctx, opCtx, f, p, err, rec)
	}
	var arr [512]byte
	b := append(arr[:0], '{')
	b = appendQuoted(b, f.Alias)
	b = append(b, ':', '{')
	for i, sel := range f.SelectionSet {
		sf := sel.(*ast.Field)
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, sf.Alias)
		b = append(b, ':')
		b = appendProductField(b, sf.Name, p)
	}
	b = append(b, '}', '}')
	return append([]byte(nil), b...)
}

// resolveProduct calls the resolver the generated _Query_product calls,
// recovering a panic as gqlgen's field guard does.
func (s fastSchema) resolveProduct(ctx context.Context, id int64) (p *domain.Product, err error, rec any) {
	defer func() {
		if r := recover(); r != nil {
			p, err, rec = nil, nil, r
		}
	}()
	p, err = s.Resolvers.Query().Product(ctx, id)
	return p, err, nil
}

// plainProduct reports whether every field of p marshals without an error:
// gqlgen writes a zero Time as null (an error on Time!) and refuses a
// non-finite Float.
func plainProduct(p *domain.Product) bool {
	return !p.UpdatedAt.IsZero() && !math.IsInf(p.Price, 0) && !math.IsNaN(p.Price)
}

// appendProductField writes one field of p as the generated marshalers do:
// MarshalInt64ID, graphql.MarshalString, MarshalFloatContext ("%g", which
// is strconv's shortest 'g'), MarshalInt64 and MarshalTime (RFC 3339 with
// nanoseconds, quoted; the layout writes only ASCII, so strconv.Quote adds
// the quotes alone).
func appendProductField(b []byte, name string, p *domain.Product) []byte {
	switch name {
	case "__typename":
		return append(b, `"Product"`...)
	case "id":
		b = append(b, '"')
		b = strconv.AppendInt(b, p.ID, 10)
		return append(b, '"')
	case "name":
		return appendQuoted(b, p.Name)
	case "description":
		return appendQuoted(b, p.Description)
	case "category":
		return appendQuoted(b, p.Category)
	case "price":
		return strconv.AppendFloat(b, p.Price, 'g', -1, 64)
	case "stock":
		return strconv.AppendInt(b, p.Stock, 10)
	case "version":
		return strconv.AppendInt(b, p.Version, 10)
	case "updatedAt":
		b = append(b, '"')
		b = p.UpdatedAt.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	panic("gql: productShape admitted field " + name) // unreachable
}

const hexDigits = "0123456789ABCDEF"

// appendQuoted is gqlgen's writeQuotedString (graphql.MarshalString):
// control characters, '\\' and '"' escaped, everything else (invalid UTF-8
// included) copied. It works on bytes where gqlgen ranges over runes; the
// escaped characters are ASCII, which never occur inside a multi-byte or
// invalid sequence, so the two agree (FuzzAppendQuoted).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// productGenerated answers the unusual results through the generated code,
// under the contexts gqlgen's _Query and ResolveField build: the root
// field context, the root-field context and product's field context (with
// its arguments), so an error or a panic is reported at the same path with
// the same presenter, and a product is marshaled (and its invalid fields
// reported) by the generated marshaler.
func (s fastSchema) productGenerated(ctx context.Context, opCtx *graphql.OperationContext, f *ast.Field, p *domain.Product, err error, rec any) []byte {
	ec := newExecutionContext(opCtx, s.executableSchema, nil)
	cf := graphql.CollectedField{Field: f, Selections: f.SelectionSet}
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query"})
	ctx = graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: f.Name, Field: cf})
	var m graphql.Marshaler = graphql.Null
	if fc, ferr := ec.fieldContext_Query_product(ctx, cf); ferr == nil { // productShape coerced the id already
		ctx = graphql.WithFieldContext(ctx, fc)
		switch {
		case rec != nil:
			opCtx.Error(ctx, opCtx.Recover(ctx, rec))
		case err != nil:
			opCtx.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		default:
			fc.Result = p
			m = ec.marshalOProduct2ᚖgithubᚗcomᚋloadrigᚋloadrigᚋinternalᚋdomainᚐProduct(ctx, cf.Selections, p)
		}
	}
	buf := getBuf()
	defer putBuf(buf)
	buf.WriteByte('{')
	buf.Write(appendQuoted(buf.AvailableBuffer(), f.Alias))
	buf.WriteByte(':')
	m.MarshalGQL(buf)
	buf.WriteByte('}')
	return append([]byte(nil), buf.Bytes()...)
}
