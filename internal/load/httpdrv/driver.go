package httpdrv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// Paths the driver can take, as reported by Driver.Path.
const (
	PathFast    = "fast"     // the hand-written HTTP/1.1 client over net.Conn
	PathNetHTTP = "net/http" // net/http Transport (TLS, HTTP/2, proxies)
)

// Driver is the HTTP load.Driver. It is safe for concurrent use by the
// workers it creates.
type Driver struct {
	opts       Options
	method     string
	origin     string // scheme://host[:port] as given
	scheme     string
	addr       string // host:port to dial
	host       string // host without port (TLS server name, DNS name)
	port       string
	hostIsIP   bool
	cacheLower string // cacheHeader in lower case
	path       string // PathFast or PathNetHTTP

	env     *tmpl.Env
	target  *tmpl.Template // request target: /path?query
	headers []header
	body    *tmpl.Template

	hostHeader   string // value of the Host header
	userAgent    bool   // send the default User-Agent
	lenAlways    bool   // send Content-Length even for an empty body
	constReq     []byte // the whole request when nothing is templated
	constHead    int    // renderer.head of constReq
	constTarget  []byte // the request target within constReq
	statusKinds  [600]metrics.ErrKind
	cacheHeader  string
	expectBody   []byte
	idempotent   bool
	templatedURL bool
	constHeaders bool // no header is templated

	// Connection accounting.
	conns    load.ConnTracker
	reusedMu sync.Mutex
	reused   []*paddedCounter // one per worker

	revalOnce   sync.Once
	revalShared *revalStore // the workers' one validator store under RevalidateShared

	idleCheck time.Duration   // fast path: probe connections idle longer than this
	pool      *connPool       // fast path with Connections > 0
	transport *http.Transport // net/http path
	dialer    net.Dialer
	// dial makes every connection: dialer.DialContext (tests dial an
	// in-memory network, internal/pipenet, to run under testing/synctest).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

type header struct {
	name  string // as written
	value *tmpl.Template
}

var (
	_ load.Driver      = (*Driver)(nil)
	_ load.ConnCounter = (*Driver)(nil)
	_ load.WireCounter = (*Driver)(nil)
)

// New validates opts, compiles its templates and returns the driver.
func New(opts Options) (*Driver, error) {
	d := &Driver{opts: opts}
	d.method = strings.ToUpper(strings.TrimSpace(opts.Method))
	if d.method == "" {
		d.method = http.MethodGet
	}
	for i := 0; i < len(d.method); i++ {
		if !isTokenChar(d.method[i]) {
			return nil, fmt.Errorf("bad method %q: expected a token like GET or POST", opts.Method)
		}
	}
	if opts.Connections < 0 {
		return nil, fmt.Errorf("bad connection count %d: expected 0 (one per worker) or more", opts.Connections)
	}
	d.env = tmpl.NewEnv(opts.Data, opts.RowMode, opts.Seed)
	if err := d.parseURL(opts.URL); err != nil {
		return nil, err
	}
	d.hostHeader = d.defaultHost()
	d.userAgent = true
	for _, h := range opts.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || !isToken(name) {
			return nil, fmt.Errorf("bad header %q: expected 'Name: value'", h)
		}
		value = strings.TrimSpace(value)
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("bad header %q: the value must be one line", h)
		}
		t, err := d.env.Compile(value)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", name, err)
		}
		switch {
		case strings.EqualFold(name, "Host"):
			c, ok := t.Const()
			if !ok {
				return nil, fmt.Errorf("bad header %q: the Host header cannot be a template", h)
			}
			d.hostHeader = c
			continue
		case strings.EqualFold(name, "Content-Length"):
			continue
		case strings.EqualFold(name, "Transfer-Encoding"):
			return nil, fmt.Errorf("bad header %q: Transfer-Encoding is not supported for requests (the body is sent with Content-Length)", h)
		case strings.EqualFold(name, "User-Agent"):
			d.userAgent = false
		}
		d.headers = append(d.headers, header{name: name, value: t})
	}
	var err error
	if d.body, err = d.env.Compile(opts.Body); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if d.opts.UserAgent == "" {
		d.opts.UserAgent = "loadrig"
	}
	switch d.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		d.lenAlways = true
	}
	switch d.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		d.idempotent = true
	}
	d.cacheHeader = opts.CacheHeader
	if d.cacheHeader == "" {
		d.cacheHeader = "X-Cache"
	}
	if !isToken(d.cacheHeader) {
		return nil, fmt.Errorf("bad cache header %q: expected a header name like X-Cache", opts.CacheHeader)
	}
	d.cacheLower = strings.ToLower(d.cacheHeader)
	d.expectBody = []byte(opts.ExpectBodyContains)
	if err := d.initStatusKinds(); err != nil {
		return nil, err
	}
	if err := d.initRevalidate(); err != nil {
		return nil, err
	}
	if opts.NewExchange != nil {
		if opts.Revalidate {
			return nil, errors.New("revalidation cannot be combined with an exchange that chooses the requests")
		}
		if opts.MaxBody < 0 {
			return nil, fmt.Errorf("bad body limit %d: expected 0 (default %d) or more", opts.MaxBody, DefaultMaxBody)
		}
		if d.opts.MaxBody == 0 {
			d.opts.MaxBody = DefaultMaxBody
		}
	}
	if d.constant() && opts.NewExchange == nil {
		r := d.newRenderer(nil)
		r.render(0)
		d.constReq = r.req
		d.constHead = r.head
		d.constTarget = r.req[r.target.lo:r.target.hi]
	}

	var proxy *url.URL
	if opts.Proxy != "" {
		if proxy, err = url.Parse(opts.Proxy); err != nil || proxy.Host == "" || (proxy.Scheme != "http" && proxy.Scheme != "https") {
			return nil, fmt.Errorf("invalid proxy URL %q: expected http://host:port", opts.Proxy)
		}
	}
	d.dialer = net.Dialer{}
	d.dial = d.dialer.DialContext
	d.idleCheck = idleCheckAfter
	if d.scheme == "http" && !opts.HTTP2 && proxy == nil && !opts.ForceNetHTTP {
		d.path = PathFast
		if opts.Connections > 0 {
			d.pool = newConnPool(opts.Connections)
		}
	} else {
		d.path = PathNetHTTP
		d.transport = d.newTransport(proxy)
	}
	return d, nil
}

func (d *Driver) parseURL(raw string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid URL %q: %s (expected http://host[:port]/path)", raw, why)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return bad("no scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return bad(fmt.Sprintf("unsupported scheme %q", scheme))
	}
	hostport, target := rest, "/"
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostport, target = rest[:i], rest[i:]
		if target[0] == '?' {
			target = "/" + target
		}
	}
	if hostport == "" {
		return bad("no host")
	}
	if strings.Contains(hostport, "{{") {
		return bad("templates are allowed in the path and query, not in the host")
	}
	if strings.Contains(hostport, "@") {
		return bad("user info in the URL is not supported; send an Authorization header")
	}
	if i := strings.IndexByte(target, '#'); i >= 0 && !strings.Contains(target[i:], "}}") {
		target = target[:i]
	}
	t, err := d.env.Compile(target)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	// Validate one rendering the way net/http will read it.
	sample := string(d.env.NewEvaluator(0).Append(nil, t))
	u, err := url.Parse(scheme + "://" + hostport + sample)
	if err != nil {
		return bad(strings.TrimPrefix(err.Error(), "parse "))
	}
	if strings.ContainsAny(sample, " \t\r\n") {
		return bad("the path contains white space (escape it as %20)")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return bad("no host")
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad(fmt.Sprintf("bad port %q", port))
	}
	d.scheme, d.host, d.port, d.addr = scheme, host, port, net.JoinHostPort(host, port)
	d.hostIsIP = net.ParseIP(host) != nil
	d.origin = scheme + "://" + hostport
	d.target = t
	_, isConst := t.Const()
	d.templatedURL = !isConst
	return nil
}

func (d *Driver) defaultHost() string {
	_, rest, _ := strings.Cut(d.origin, "://")
	h := strings.ToLower(rest)
	if d.scheme == "http" {
		h = strings.TrimSuffix(h, ":80")
	} else {
		h = strings.TrimSuffix(h, ":443")
	}
	return h
}

func (d *Driver) constant() bool {
	d.constHeaders = true
	for _, h := range d.headers {
		if _, ok := h.value.Const(); !ok {
			d.constHeaders = false
		}
	}
	_, constBody := d.body.Const()
	return !d.templatedURL && constBody && d.constHeaders
}

func (d *Driver) initStatusKinds() error {
	for c := range d.statusKinds {
		switch {
		case d.opts.ExpectStatus == nil && c >= 200 && c < 400:
			d.statusKinds[c] = metrics.OK
		case d.opts.ExpectStatus == nil || c >= 400:
			d.statusKinds[c] = metrics.HTTPStatusKind(c)
		default:
			d.statusKinds[c] = metrics.ErrCheck
		}
	}
	for _, r := range d.opts.ExpectStatus {
		if r.Lo < 100 || r.Hi > 599 || r.Lo > r.Hi {
			return fmt.Errorf("bad expected status range %d-%d: expected codes within 100-599", r.Lo, r.Hi)
		}
		for c := r.Lo; c <= r.Hi; c++ {
			d.statusKinds[c] = metrics.OK
		}
	}
	return nil
}

func (d *Driver) statusKind(code int) metrics.ErrKind {
	if code < 100 || code >= 600 {
		return metrics.ErrProtocol
	}
	return d.statusKinds[code]
}

// Protocol returns "http".
func (d *Driver) Protocol() string { return "http" }

// Target returns the URL as given.
func (d *Driver) Target() string { return d.opts.URL }

// Path says which client serves the requests: PathFast ("fast") or
// PathNetHTTP ("net/http"), for the summary.
func (d *Driver) Path() string { return d.path }

// CacheSource is the header the cache status is read from, for
// metrics.Cache.Source.
func (d *Driver) CacheSource() string { return d.cacheHeader }

// Connections reports client-side connections: opened so far, requests
// sent on an already used connection, and the most open at once.
func (d *Driver) Connections() metrics.Connections {
	var reused int64
	d.reusedMu.Lock()
	for _, r := range d.reused {
		reused += r.Load()
	}
	d.reusedMu.Unlock()
	c := d.conns.Connections()
	c.Reused = reused
	return c
}

// WireBytes is what the driver's connections wrote and read so far, from
// counting connections on both paths (fast: under the raw-syscall wrapper;
// net/http: at the dialer, so TLS records and HTTP/2 frames are counted as
// sent): the result's bytes (load.WireCounter).
func (d *Driver) WireBytes() metrics.Bytes { return d.conns.WireBytes() }

// paddedCounter is a per-worker counter on its own cache line, so that
// workers on different cores do not contend for it.
type paddedCounter struct {
	atomic.Int64
	_ [56]byte
}

// newExchange returns worker id's Exchange and body buffer, or nils.
func (d *Driver) newExchange(id int) (Exchange, *bodyBuf) {
	if d.opts.NewExchange == nil {
		return nil, nil
	}
	return d.opts.NewExchange(id), &bodyBuf{max: d.opts.MaxBody}
}

func (d *Driver) newReusedCounter() *paddedCounter {
	c := new(paddedCounter)
	d.reusedMu.Lock()
	d.reused = append(d.reused, c)
	d.reusedMu.Unlock()
	return c
}

// NewWorker returns worker id's Worker. ctx should be the run's context:
// when it is canceled, the fast path aborts the worker's in-flight I/O.
func (d *Driver) NewWorker(ctx context.Context, id int) (load.Worker, error) {
	if id < 0 {
		return nil, fmt.Errorf("httpdrv: negative worker id %d", id)
	}
	if d.path == PathFast {
		return d.newFastWorker(ctx, id), nil
	}
	return d.newNetWorker(id), nil
}

// Close closes idle connections. Call it after every Worker is closed.
func (d *Driver) Close() error {
	if d.pool != nil {
		d.pool.close(d)
	}
	if d.transport != nil {
		d.transport.CloseIdleConnections()
	}
	return nil
}

func (d *Driver) newTransport(proxy *url.URL) *http.Transport {
	idle := d.opts.Connections
	if idle == 0 {
		idle = 1 << 16
	}
	tr := &http.Transport{
		DialContext:         d.dialCounted,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: d.opts.Insecure},
		DisableKeepAlives:   d.opts.DisableKeepAlive,
		DisableCompression:  true,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: idle,
		MaxConnsPerHost:     d.opts.Connections,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	var p http.Protocols
	switch {
	case d.opts.HTTP2 && d.scheme == "https":
		p.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	case d.opts.HTTP2:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	return tr
}

// dialCounted dials for net/http and counts the connection until closed.
func (d *Driver) dialCounted(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return d.conns.Track(c), nil
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

var errProtocol = errors.New("malformed HTTP response")
