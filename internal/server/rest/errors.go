package rest

import (
	"errors"
	"net/http"

	"github.com/loadrig/loadrig/internal/domain"
)

// statusOf maps every domain error code to its HTTP status: the one
// transport table (ARCHITECTURE.md convention 6).
var statusOf = map[domain.Code]int{
	domain.CodeInvalid:      http.StatusBadRequest,
	domain.CodeUnauthorized: http.StatusUnauthorized,
	domain.CodeNotFound:     http.StatusNotFound,
	domain.CodeConflict:     http.StatusConflict,
	domain.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	domain.CodeRateLimited:  http.StatusTooManyRequests,
	domain.CodeInternal:     http.StatusInternalServerError,
	domain.CodeUnavailable:  http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	if s, ok := statusOf[domain.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// httpError is an error that only exists at the HTTP edge (405, 406): it
// has no domain code.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

func problemOf(err error, r *http.Request, requestID string) problem {
	p := problem{Type: "about:blank", Instance: r.URL.Path, RequestID: requestID}
	var he *httpError
	if errors.As(err, &he) {
		p.Status, p.Code, p.Detail = he.status, he.code, he.msg
	} else {
		p.Status = StatusOf(err)
		p.Code = string(domain.ErrorCode(err))
		p.Detail = domain.ErrorMessage(err)
	}
	p.Title = http.StatusText(p.Status)
	return p
}
