package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/loadrig/loadrig/internal/domain"
)

// statusOf maps every domain error code to its HTTP status: the one table
// of the HTTP transports (ARCHITECTURE.md convention 6).
var statusOf = map[domain.Code]int{
	domain.CodeInvalid:      http.StatusBadRequest,
	domain.CodeUnauthorized: http.StatusUnauthorized,
	domain.CodeForbidden:    http.StatusForbidden,
	domain.CodeNotFound:     http.StatusNotFound,
	domain.CodeConflict:     http.StatusConflict,
	domain.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	domain.CodeRateLimited:  http.StatusTooManyRequests,
	domain.CodeInternal:     http.StatusInternalServerError,
	domain.CodeUnavailable:  http.StatusServiceUnavailable,
}

// HTTPStatus returns the HTTP status for err.
func HTTPStatus(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	if s, ok := statusOf[domain.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// HTTPError is an error that only exists at the HTTP edge (405, 406, 431):
// it has no domain code.
type HTTPError struct {
	Status int
	Code   string
	Msg    string
}

func (e *HTTPError) Error() string { return e.Msg }

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// ProblemOf builds the problem document of err for request r.
func ProblemOf(err error, r *http.Request) Problem {
	p := Problem{Type: "about:blank", Instance: r.URL.Path, RequestID: RequestID(r.Context())}
	var he *HTTPError
	if errors.As(err, &he) {
		p.Status, p.Code, p.Detail = he.Status, he.Code, he.Msg
	} else {
		p.Status = HTTPStatus(err)
		p.Code = string(domain.ErrorCode(err))
		p.Detail = domain.ErrorMessage(err)
	}
	p.Title = http.StatusText(p.Status)
	return p
}

var problemCT = []string{"application/problem+json"}

// WriteProblem writes err as an application/problem+json response: never
// cached, validators dropped, WWW-Authenticate on 401, Retry-After on 503.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(err, r)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadrig"`)
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1") // the store (or session store) is down: retry soon
	}
	b, _ := json.Marshal(p)
	b = append(b, '\n')
	hd := w.Header()
	delete(hd, "ETag")
	delete(hd, "Last-Modified")
	hd["Cache-Control"] = []string{"no-store"}
	hd["Content-Type"] = problemCT
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}
