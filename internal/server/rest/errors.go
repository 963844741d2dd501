package rest

import (
	"github.com/loadrig/loadrig/internal/server"
)

// StatusOf returns the HTTP status for err: the HTTP transports' one table
// (server.HTTPStatus).
func StatusOf(err error) int { return server.HTTPStatus(err) }

// httpError is an error that only exists at the HTTP edge (405, 406): it
// has no domain code.
type httpError = server.HTTPError

// problem is the RFC 9457 problem document errors are written as.
type problem = server.Problem
