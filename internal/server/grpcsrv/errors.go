package grpcsrv

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loadrig/loadrig/internal/domain"
)

// codeOf is the one table mapping domain error codes to gRPC status codes.
var codeOf = map[domain.Code]codes.Code{
	domain.CodeNotFound:     codes.NotFound,
	domain.CodeInvalid:      codes.InvalidArgument,
	domain.CodeConflict:     codes.Aborted,
	domain.CodeUnauthorized: codes.Unauthenticated,
	domain.CodeForbidden:    codes.PermissionDenied,
	domain.CodeRateLimited:  codes.ResourceExhausted,
	domain.CodeUnavailable:  codes.Unavailable,
	domain.CodeTooLarge:     codes.ResourceExhausted,
	domain.CodeInternal:     codes.Internal,
}

// toStatus converts err (a domain error, a context error, or an error that
// already is a gRPC status) into a gRPC status error. Messages of
// non-domain errors are not leaked to clients.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	c, ok := codeOf[domain.ErrorCode(err)]
	if !ok {
		c = codes.Internal
	}
	return status.Error(c, domain.ErrorMessage(err))
}
