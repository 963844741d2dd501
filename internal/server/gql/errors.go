package gql

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/loadrig/loadrig/internal/domain"
)

// GraphQL error codes (extensions.code). gqlgen sets the parse, validation,
// complexity and persisted-query codes itself; the rest come from codeOf.
const (
	CodeDepthLimit        = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit   = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeParseFailed       = errcode.ParseFailed      // GRAPHQL_PARSE_FAILED (also the token limit)
	CodeValidationFailed  = errcode.ValidationFailed // GRAPHQL_VALIDATION_FAILED
	CodePersistedNotFound = "PERSISTED_QUERY_NOT_FOUND"
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodeForbidden         = "FORBIDDEN"
	CodeNotFound          = "NOT_FOUND"
	CodeBadUserInput      = "BAD_USER_INPUT"
	CodeConflict          = "CONFLICT"
	CodeRateLimited       = "RATE_LIMITED"
	CodeUnavailable       = "UNAVAILABLE"
	CodeInternal          = "INTERNAL_SERVER_ERROR"
)

// codeOf maps every domain error code to its GraphQL extension code: the one
// table of this transport (ARCHITECTURE.md convention 6).
var codeOf = map[domain.Code]string{
	domain.CodeNotFound:     CodeNotFound,
	domain.CodeInvalid:      CodeBadUserInput,
	domain.CodeConflict:     CodeConflict,
	domain.CodeUnauthorized: CodeUnauthenticated,
	domain.CodeRateLimited:  CodeRateLimited,
	domain.CodeUnavailable:  CodeUnavailable,
	domain.CodeTooLarge:     CodeBadUserInput,
	domain.CodeInternal:     CodeInternal,
	domain.CodeForbidden:    CodeForbidden,
}

// presentError gives every error a code: a domain error keeps its
// client-safe message and gets codeOf's code; gqlgen's own errors keep
// theirs (parse, validation, complexity, persisted query); a gqlgen error
// without one is the client's input (argument coercion, a bad APQ
// extension or hash); anything else is internal and its text is not shown.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	var de *domain.Error
	if errors.As(err, &de) {
		ge := gqlerror.WrapPath(graphql.GetPath(ctx), err)
		ge.Message = de.Message
		code, ok := codeOf[de.Code]
		if !ok {
			code = CodeInternal
		}
		errcode.Set(ge, code)
		return ge
	}
	ge := graphql.DefaultErrorPresenter(ctx, err)
	if _, ok := ge.Extensions["code"]; ok {
		return ge
	}
	var inner *gqlerror.Error
	if errors.As(err, &inner) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		errcode.Set(ge, CodeBadUserInput)
		return ge
	}
	ge.Message = "internal error"
	errcode.Set(ge, CodeInternal)
	return ge
}
