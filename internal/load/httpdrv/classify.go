package httpdrv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/loadrig/loadrig/internal/metrics"
)

// classifyErr maps a failed request's error to its kind. ctx is the
// operation's context and run the worker's (run) context: when either is
// done, the context decides (deadline → timeout, cancel → canceled), because
// the I/O error is then only the symptom.
func classifyErr(ctx, run context.Context, err error) metrics.ErrKind {
	if err == nil {
		return metrics.OK
	}
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) {
			return metrics.ErrTimeout
		}
		return metrics.ErrCanceled
	}
	if run != nil && run.Err() != nil {
		return metrics.ErrCanceled
	}
	var dnsErr *net.DNSError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var verr *tls.CertificateVerificationError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invErr x509.CertificateInvalidError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return metrics.ErrTimeout
	case errors.Is(err, context.Canceled):
		return metrics.ErrCanceled
	case errors.As(err, &dnsErr):
		return metrics.ErrDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return metrics.ErrRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return metrics.ErrReset
	case errors.As(err, &recErr), errors.As(err, &alert), errors.As(err, &verr), errors.As(err, &uaErr),
		errors.As(err, &hostErr), errors.As(err, &invErr):
		return metrics.ErrTLS
	case errors.Is(err, errProtocol):
		return metrics.ErrProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return metrics.ErrEOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return metrics.ErrTimeout
	}
	// net/http and its HTTP/2 code report some conditions only as text.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "bad Content-Length"), strings.Contains(msg, "protocol error"),
		strings.Contains(msg, "PROTOCOL_ERROR"), strings.Contains(msg, "invalid header"),
		strings.Contains(msg, "too many headers"), strings.Contains(msg, "unexpected EOF reading trailer"),
		// An HTTP/1.1-only server answering an h2c preface: which of the
		// two the client reports depends on timing.
		strings.Contains(msg, "http2: frame too large"), strings.Contains(msg, "http2: client conn could not be established"):
		return metrics.ErrProtocol
	case strings.Contains(msg, "tls: "), strings.Contains(msg, "x509: "):
		return metrics.ErrTLS
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "GOAWAY"), strings.Contains(msg, "stream error"):
		return metrics.ErrReset
	case strings.Contains(msg, "server closed"), strings.Contains(msg, "EOF"):
		return metrics.ErrEOF
	}
	return metrics.ErrOther
}

// cacheValue classifies a cache status header value, case-insensitively:
// REVALIDATED (and CloudFront's RefreshHit) → revalidated, anything with HIT
// ("HIT", "HIT from cdn", "TCP_HIT", Fastly's "MISS, HIT") → hit, MISS →
// miss, any other value (STALE, BYPASS, EXPIRED, DYNAMIC, ...) → other.
func cacheValue(v []byte) metrics.CacheStatus {
	v = trimSpace(v)
	switch {
	case len(v) == 0:
		return metrics.CacheUnknown
	case containsFold(v, "revalidated"), containsFold(v, "refreshhit"):
		return metrics.CacheRevalidated
	case containsFold(v, "hit"):
		return metrics.CacheHit
	case containsFold(v, "miss"):
		return metrics.CacheMiss
	}
	return metrics.CacheOther
}

// ageValue reads an Age header: > 0 means the response came from a cache
// (hit); 0 means a cache passed on a fresh origin response (miss).
func ageValue(v []byte) metrics.CacheStatus {
	v = trimSpace(v)
	if len(v) == 0 {
		return metrics.CacheUnknown
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return metrics.CacheUnknown
		}
		if c != '0' {
			return metrics.CacheHit
		}
	}
	return metrics.CacheMiss
}

// cacheStatus combines the readings: 304 first, then the configured header,
// then CF-Cache-Status, then Age.
func cacheStatus(code int, configured, cf, age metrics.CacheStatus) metrics.CacheStatus {
	switch {
	case code == 304:
		return metrics.CacheRevalidated
	case configured != metrics.CacheUnknown:
		return configured
	case cf != metrics.CacheUnknown:
		return cf
	}
	return age
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// containsFold reports whether b contains the lower-case ASCII word w,
// ignoring case, without allocating.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for j < len(w) && lower(b[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// bodyScan looks for a needle in a body that arrives in pieces, keeping the
// last len(needle)-1 bytes across pieces. It does not allocate after reset.
type bodyScan struct {
	needle []byte
	carry  []byte
	win    []byte
	found  bool
}

func newBodyScan(needle []byte) *bodyScan {
	n := max(len(needle)-1, 0)
	return &bodyScan{needle: needle, carry: make([]byte, 0, n), win: make([]byte, 0, 2*n)}
}

func (s *bodyScan) reset() {
	s.carry = s.carry[:0]
	s.found = len(s.needle) == 0
}

func (s *bodyScan) feed(p []byte) {
	if s.found || len(p) == 0 {
		return
	}
	k := len(s.needle) - 1
	if len(s.carry) > 0 {
		s.win = append(append(s.win[:0], s.carry...), p[:min(len(p), k)]...)
		if bytes.Contains(s.win, s.needle) {
			s.found = true
			return
		}
	}
	if bytes.Contains(p, s.needle) {
		s.found = true
		return
	}
	if k == 0 {
		return
	}
	if len(p) >= k {
		s.carry = append(s.carry[:0], p[len(p)-k:]...)
		return
	}
	if drop := len(s.carry) + len(p) - k; drop > 0 {
		n := copy(s.carry, s.carry[drop:])
		s.carry = s.carry[:n]
	}
	s.carry = append(s.carry, p...)
}
