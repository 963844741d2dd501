package gql

import (
	"testing"

	"github.com/loadrig/loadrig/internal/domain"
)

// TestEveryDomainCodeHasAGraphQLCode keeps the one table complete.
func TestEveryDomainCodeHasAGraphQLCode(t *testing.T) {
	for _, c := range []domain.Code{
		domain.CodeNotFound, domain.CodeInvalid, domain.CodeConflict, domain.CodeUnauthorized,
		domain.CodeForbidden, domain.CodeRateLimited, domain.CodeUnavailable, domain.CodeTooLarge, domain.CodeInternal,
	} {
		if codeOf[c] == "" {
			t.Errorf("domain code %q has no GraphQL code", c)
		}
	}
}
