package domain

import (
	"errors"
	"fmt"
)

// Code is a domain error code. Transports map codes to their own vocabulary in
// one table each.
type Code string

// Domain error codes.
const (
	CodeNotFound     Code = "not_found"
	CodeInvalid      Code = "invalid"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden" // authenticated, but not allowed (a customer writing a product)
	CodeRateLimited  Code = "rate_limited"
	CodeUnavailable  Code = "unavailable"
	CodeTooLarge     Code = "too_large"
	CodeInternal     Code = "internal"
)

// Error is a domain error: a code plus a human message safe to show clients.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns a *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err: the *Error message, or
// "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
