package httpdrv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/loadrig/loadrig/internal/load/tmpl"
)

// Options configures the HTTP driver. The zero value of every field is a
// usable default except URL, which is required.
type Options struct {
	// Method is the request method. Default "GET".
	Method string
	// URL is the target, a template: http://host[:port]/path?query or
	// https://... Templates ({{.Seq}}, {{zipf ...}}, ...) are allowed in the
	// path and query, not in the scheme or host. Required.
	URL string
	// Headers are "Name: value" lines; values are templates. A Host header
	// replaces the URL's host in the request; a Content-Length header is
	// ignored (the driver computes it). Default: none besides Host and
	// User-Agent.
	Headers []string
	// Body is the request body, a template (the CLI resolves @file into
	// text). Default empty: no body, and Content-Length only for POST, PUT
	// and PATCH.
	Body string
	// HTTP2 speaks HTTP/2 only: over TLS via ALPN "h2" for https://, with
	// prior knowledge (h2c) for http://. It always uses the net/http path.
	// Default false: HTTP/1.1, also over TLS.
	HTTP2 bool
	// Connections caps the number of open connections, shared by all
	// workers: a worker that finds every connection busy waits for one, and
	// that wait counts into latency but not service time. Default 0: no
	// shared pool, each worker keeps its own connection (so the cap is the
	// engine's worker count).
	Connections int
	// DisableKeepAlive sends "Connection: close" and opens a new connection
	// for every request. Default false.
	DisableKeepAlive bool
	// Insecure skips TLS certificate verification. Default false.
	Insecure bool
	// Proxy is an http:// proxy URL every request goes through (net/http
	// path). Default "": no proxy; HTTP_PROXY and friends are deliberately
	// ignored so that the measured path does not depend on the environment.
	Proxy string
	// ExpectStatus lists the statuses that count as success. Default nil:
	// 2xx and 3xx succeed and any other status is an error of kind http_NNN.
	// When set, a status outside the list is http_NNN if it is >= 400 and
	// check_failed otherwise (e.g. a 200 where 201 was expected).
	ExpectStatus []StatusRange
	// ExpectBodyContains, when set, makes a successful response whose body
	// lacks this text an error of kind check_failed. Default "": bodies are
	// discarded unread.
	ExpectBodyContains string
	// CacheHeader is the response header read for the cache status
	// (HIT/MISS/STALE/BYPASS/REVALIDATED/..., case-insensitive, also "HIT
	// from cdn"). CF-Cache-Status and then Age are read when it is absent;
	// a 304 is always revalidated. Default "X-Cache".
	CacheHeader string
	// Data holds the rows that {{.Row.field}} reads. Default nil: no rows.
	Data *tmpl.Data
	// RowMode picks the row of each operation. Default round-robin by Seq.
	RowMode tmpl.RowMode
	// Seed is the base seed of every worker's template RNG (randInt, zipf,
	// uuid, random rows). Default 0 (a fixed seed: runs are reproducible).
	Seed uint64
	// UserAgent is sent unless Headers set one. Default "loadrig".
	UserAgent string
	// ForceNetHTTP uses net/http even where the fast path would serve, to
	// compare the two. Default false.
	ForceNetHTTP bool
	// Revalidate makes every worker behave like a browser cache: it
	// remembers, per rendered request URL (path and query), the ETag and
	// Last-Modified of the last 200 response, and sends them as
	// If-None-Match and If-Modified-Since on its next request to that URL,
	// so a server that still has the entity can answer 304 (counted as
	// revalidated). GET and HEAD only; the request headers may then not set
	// If-None-Match or If-Modified-Since themselves. Default false: requests
	// are sent exactly as rendered.
	Revalidate bool
	// RevalidateEntries bounds how many URLs each worker remembers under
	// Revalidate; when full, a random entry makes room for a new one. Each
	// entry costs roughly 100 bytes plus the URL and validators, per worker.
	// Default 0: DefaultRevalidateEntries (100,000).
	RevalidateEntries int
	// RevalidateShared gives all workers one validator cache (one lock),
	// like a caching proxy revalidating for many clients, instead of one
	// per worker, like browsers. The share of conditional requests then
	// does not depend on how many workers the engine started (the open
	// model starts them as needed). RevalidateEntries bounds the shared
	// cache as a whole. Default false: one cache per worker.
	RevalidateShared bool
	// NewExchange, when set, makes each worker's Exchange: it chooses every
	// request's target and body (the URL's path and Body are then unused)
	// and classifies every response by its body (see Exchange). Not with
	// Revalidate. Default nil: requests as rendered, bodies discarded.
	NewExchange func(worker int) Exchange
	// MaxBody bounds the bytes of a response body kept for the Exchange;
	// the rest is read and counted but not kept. Default 0:
	// DefaultMaxBody (1 MiB).
	MaxBody int
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// ParseExpectStatus parses a comma-separated status list: codes ("200"),
// ranges ("200-204") and classes ("2xx"), e.g. "200,201-204,3xx".
func ParseExpectStatus(s string) ([]StatusRange, error) {
	var out []StatusRange
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		bad := fmt.Errorf("bad expected status %q: expected codes, ranges or classes like 200,201-204,3xx", p)
		switch {
		case p == "":
			return nil, bad
		case len(p) == 3 && (p[1] == 'x' || p[1] == 'X') && (p[2] == 'x' || p[2] == 'X') && p[0] >= '1' && p[0] <= '5':
			c := int(p[0]-'0') * 100
			out = append(out, StatusRange{c, c + 99})
		default:
			lo, hi, isRange := strings.Cut(p, "-")
			a, err := strconv.Atoi(strings.TrimSpace(lo))
			if err != nil {
				return nil, bad
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
					return nil, bad
				}
			}
			if a < 100 || b > 599 || a > b {
				return nil, bad
			}
			out = append(out, StatusRange{a, b})
		}
	}
	return out, nil
}
