package wsdrv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/netcount"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// Driver is the WebSocket, SSE and polling load driver: a load.Driver
// whose every operation is one held connection (a session).
type Driver struct {
	opts Options
	env  *tmpl.Env
	tpl  *tmpl.Template
	// echoBody is the rendered echo template's object body after '{'
	// when constant (nil: templated).
	hdr http.Header
	tr  *http.Transport
	hc  *http.Client
	// netDial makes a connection from local (nil: any address): a
	// net.Dialer; tests dial an in-memory network (internal/pipenet) to
	// run under testing/synctest.
	netDial func(ctx context.Context, network, addr string, local net.Addr) (net.Conn, error)

	// rate per connection (echo, raw) or per sender (chat), messages/s.
	interval   time.Duration
	numSenders int

	conns      load.ConnTracker
	failed     atomic.Int64
	reconnects atomic.Int64
	codesMu    sync.Mutex
	codes      map[string]int64
	topics     topics

	wmu     sync.Mutex
	workers []*worker
}

type dialKey struct{}

// dialInfo is what one connection attempt tells the shared dialer: where to
// count bytes, which local address to use, and where to put the TCP
// connect time.
type dialInfo struct {
	count   *netcount.Counter
	local   net.Addr
	connect time.Duration
	conns   *load.ConnTracker
}

// New checks opts and prepares the driver. It does not connect.
func New(opts Options) (*Driver, error) {
	if opts.Transport == "" {
		opts.Transport = TransportWS
	}
	if len(opts.URLs) == 0 {
		return nil, usagef("no target URL given")
	}
	for _, u := range opts.URLs {
		if err := checkURL(u, opts.Transport); err != nil {
			return nil, err
		}
	}
	if opts.Connections < 1 {
		return nil, usagef("connections must be at least 1, got %d", opts.Connections)
	}
	if opts.Scenario == "" {
		opts.Scenario = ScenarioEcho
		if opts.Transport != TransportWS {
			opts.Scenario = ScenarioSubscribe
		}
	}
	if _, err := ParseScenario(string(opts.Scenario)); err != nil {
		return nil, err
	}
	if opts.Transport != TransportWS && opts.Scenario != ScenarioSubscribe {
		return nil, usagef("%s runs the subscribe scenario only, not %s", opts.Transport, opts.Scenario)
	}
	if math.IsNaN(opts.MessageRate) || math.IsInf(opts.MessageRate, 0) || opts.MessageRate < 0 {
		return nil, usagef("message rate must be a finite number >= 0 of messages/s, got %v", opts.MessageRate)
	}
	if opts.Senders < 0 || opts.Senders > 1 || math.IsNaN(opts.Senders) {
		return nil, usagef("senders is a fraction of the connections, 0..1, got %v", opts.Senders)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.Drain <= 0 {
		opts.Drain = DefaultDrain
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.Transport == TransportPoll && opts.PollInterval <= 0 && opts.LongPoll <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "loadrig"
	}
	if len(opts.Rooms) == 0 {
		opts.Rooms = []string{DefaultRoom}
	}
	for _, r := range opts.Rooms {
		if r == "" || len(r) > 128 || strings.ContainsAny(r, "\"\\\x00\n") {
			return nil, usagef("room %q: a room name is 1..128 characters without quotes, backslashes or newlines", r)
		}
	}
	if opts.Scenario == ScenarioEcho && opts.Correlate == "" {
		opts.Correlate = DefaultCorrelate
	}
	if opts.Correlate != "" && (strings.ContainsAny(opts.Correlate, "\"\\") || opts.Correlate == "ts") {
		return nil, usagef("correlate field %q: a plain JSON key other than ts", opts.Correlate)
	}
	opts.Backoff = opts.Backoff.withDefaults()

	d := &Driver{opts: opts, codes: map[string]int64{}, netDial: dialNet}
	if opts.Message == "" {
		opts.Message = DefaultEchoMessage
		if opts.Scenario == ScenarioChat {
			opts.Message = DefaultChatMessage
		}
		d.opts.Message = opts.Message
	}
	d.env = tmpl.NewEnv(nil, tmpl.RowRoundRobin, opts.Seed)
	t, err := d.env.Compile(opts.Message)
	if err != nil {
		return nil, usagef("message template: %v", err)
	}
	d.tpl = t
	if t.UsesRow() {
		return nil, usagef("message template: {{.Row...}} needs a rows file, which load ws does not take")
	}
	if opts.Scenario == ScenarioEcho {
		var e envelope
		b := d.env.NewEvaluator(0).Append(nil, t)
		if scanEnvelope(b, opts.Correlate, &e) != nil {
			return nil, usagef("the echo message must be a JSON object (the driver adds %q and \"ts\" to it), got %.60q", opts.Correlate, b)
		}
	}
	switch opts.Scenario {
	case ScenarioEcho, ScenarioRaw:
		rate := opts.MessageRate
		if rate == 0 {
			rate = float64(opts.Connections)
		}
		d.interval = time.Duration(float64(opts.Connections) / rate * float64(time.Second))
	case ScenarioChat:
		rate := opts.MessageRate
		if rate == 0 {
			rate = DefaultChatRate
		}
		if opts.Senders == 0 {
			opts.Senders = DefaultSenders
			d.opts.Senders = opts.Senders
		}
		d.numSenders = max(1, int(math.Round(opts.Senders*float64(opts.Connections))))
		d.interval = time.Duration(float64(d.numSenders) / rate * float64(time.Second))
	}

	d.hdr = http.Header{}
	d.hdr.Set("User-Agent", opts.UserAgent)
	if opts.Token != "" {
		d.hdr.Set("Authorization", "Bearer "+opts.Token)
	}
	if opts.Origin != "" {
		d.hdr.Set("Origin", opts.Origin)
	}
	d.tr = &http.Transport{
		Proxy:                 nil,
		DialContext:           d.dial,
		TLSClientConfig:       opts.TLS,
		TLSHandshakeTimeout:   opts.DialTimeout,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0,
		DisableCompression:    true,
	}
	d.hc = &http.Client{Transport: d.tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return d, nil
}

// checkURL rejects a URL whose scheme does not fit the transport.
func checkURL(raw string, tr Transport) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return usagef("target %q is not a URL; e.g. ws://127.0.0.1:8080/ws/echo", raw)
	}
	switch tr {
	case TransportWS:
		if u.Scheme != "ws" && u.Scheme != "wss" {
			return usagef("target %q: load ws needs a ws:// or wss:// URL, e.g. ws://127.0.0.1:8080/ws/echo", raw)
		}
	default:
		if u.Scheme != "http" && u.Scheme != "https" {
			return usagef("target %q: load %s needs an http:// or https:// URL, e.g. http://127.0.0.1:8080/api/events?topic=ticker", raw, tr)
		}
	}
	return nil
}

// dial is the shared transport's dialer: it dials from the attempt's
// source address, times the TCP connect, tracks the connection and counts
// its bytes into the attempt's counter.
func (d *Driver) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	di, _ := ctx.Value(dialKey{}).(*dialInfo)
	var local net.Addr
	if di != nil {
		local = di.local
	}
	start := time.Now()
	c, err := d.netDial(ctx, network, addr, local)
	if err != nil {
		return nil, err
	}
	if di == nil {
		return d.conns.Track(c), nil
	}
	di.connect = time.Since(start)
	return di.conns.Track(netcount.Wrap(c, di.count)), nil
}

// dialNet dials addr from local (nil: any local address).
func dialNet(ctx context.Context, network, addr string, local net.Addr) (net.Conn, error) {
	nd := net.Dialer{LocalAddr: local}
	return nd.DialContext(ctx, network, addr)
}

// Protocol implements load.Driver.
func (d *Driver) Protocol() string { return string(d.opts.Transport) }

// Target implements load.Driver.
func (d *Driver) Target() string { return strings.Join(d.opts.URLs, ",") }

// Options returns the options with defaults applied.
func (d *Driver) Options() Options { return d.opts }

// Close implements load.Driver.
func (d *Driver) Close() error {
	d.tr.CloseIdleConnections()
	return nil
}

// Connections implements load.ConnCounter.
func (d *Driver) Connections() metrics.Connections {
	c := d.conns.Connections()
	c.Failed = d.failed.Load()
	c.Reconnects = d.reconnects.Load()
	d.codesMu.Lock()
	if len(d.codes) > 0 {
		cc := make(metrics.CodeCounts, len(d.codes))
		for k, v := range d.codes {
			cc[k] = v
		}
		c.ClosedByCode = &cc
	}
	d.codesMu.Unlock()
	return c
}

func (d *Driver) closedBy(code string) {
	d.codesMu.Lock()
	d.codes[code]++
	d.codesMu.Unlock()
}

// Annotate implements load.Annotator: connect time, ack latency and fanout,
// merged from the workers once the run is over.
func (d *Driver) Annotate(res *metrics.Result) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	connect, ack := metrics.NewHistogram(), metrics.NewHistogram()
	var fan metrics.Fanout
	fanSeen := false
	for _, w := range d.workers {
		connect.Merge(w.connectH)
		ack.Merge(w.ackH)
		for _, s := range w.done {
			fanSeen = true
			fan.Expected += s.expected()
			fan.Delivered += s.counts.delivered
			fan.Duplicates += s.counts.duplicates
			fan.OutOfOrder += s.counts.outOfOrder
		}
	}
	put := func(name string, h *metrics.Histogram) *metrics.Summary {
		if h.TotalCount() == 0 {
			return nil
		}
		if enc, err := metrics.EncodeHistogram(h); err == nil {
			if res.Histograms == nil {
				res.Histograms = map[string]string{}
			}
			res.Histograms[name] = enc
		}
		return metrics.SummaryPtr(h)
	}
	res.ConnectTime = put(metrics.HistConnectTime, connect)
	res.AckLatency = put(metrics.HistAckLatency, ack)
	if fanSeen {
		fan.SetRatio()
		res.Fanout = &fan
	}
}

// NewWorker implements load.Driver: worker id holds connection id.
func (d *Driver) NewWorker(ctx context.Context, id int) (load.Worker, error) {
	w := &worker{
		d: d, id: id,
		ev:       d.env.NewEvaluator(id),
		rng:      rand.New(rand.NewPCG(d.opts.Seed, uint64(id)+1)),
		connectH: metrics.NewHistogram(),
		ackH:     metrics.NewHistogram(),
		url:      d.opts.URLs[id%len(d.opts.URLs)],
		room:     d.opts.Rooms[id%len(d.opts.Rooms)],
	}
	if n := len(d.opts.SourceAddrs); n > 0 {
		a := d.opts.SourceAddrs[(id/len(d.opts.URLs))%n]
		w.local = &net.TCPAddr{IP: a.AsSlice()}
	}
	if d.opts.Scenario == ScenarioChat {
		n := d.opts.Connections
		w.sender = (id%n)*d.numSenders%n < d.numSenders
	}
	d.wmu.Lock()
	d.workers = append(d.workers, w)
	d.wmu.Unlock()
	return w, nil
}

// closeKind is the error kind of a session the server ended: ws_close_<code>
// for codes 1000..4999, else ws_close_other; abnormal drops are "eof".
func closeKind(code int) metrics.ErrKind {
	if code < 0 {
		return metrics.ErrEOF
	}
	if code >= 1000 && code <= 4999 {
		return metrics.ErrKind("ws_close_" + strconv.Itoa(code))
	}
	return "ws_close_other"
}

// codeName is a close code's key in connections.closed_by_code.
func codeName(code int) string {
	if code < 0 {
		return "abnormal"
	}
	if code >= 1000 && code <= 4999 {
		return strconv.Itoa(code)
	}
	return "other"
}

// errorReplyKind is the message error kind of an error envelope, from its
// data.code (the server's error codes; others are ws_error_other).
func errorReplyKind(code []byte) metrics.ErrKind {
	switch string(code) {
	case "rate_limited", "unauthorized", "not_found", "invalid", "conflict":
		return metrics.ErrKind("ws_error_" + string(code))
	}
	return "ws_error_other"
}

// classifyDial maps a failed connection attempt to its error kind.
func classifyDial(ctx context.Context, err error, status int) metrics.ErrKind {
	if status >= 400 {
		return metrics.HTTPStatusKind(status)
	}
	if status != 0 && status != http.StatusSwitchingProtocols {
		return ErrHandshake
	}
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return metrics.ErrTimeout
	case ctx.Err() != nil:
		return metrics.ErrCanceled
	case errors.As(err, &dnsErr):
		return metrics.ErrDNS
	case isErrno(err, "connection refused"):
		return metrics.ErrRefused
	case isErrno(err, "connection reset"):
		return metrics.ErrReset
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return metrics.ErrTLS
	case isErrno(err, "too many open files"):
		return ErrDescriptors
	case isErrno(err, "cannot assign requested address"):
		return ErrPorts
	}
	return ErrHandshake
}

func isErrno(err error, text string) bool { return strings.Contains(err.Error(), text) }

// Error kinds of this driver.
const (
	// ErrHandshake is a connection whose upgrade failed other than by an
	// HTTP error status (a 200, a bad Sec-WebSocket-Accept, ...).
	ErrHandshake metrics.ErrKind = "ws_handshake"
	// ErrDescriptors is EMFILE: the process ran out of file descriptors.
	ErrDescriptors metrics.ErrKind = "emfile"
	// ErrPorts is EADDRNOTAVAIL: no ephemeral port left for a source
	// address (use more --source-addrs).
	ErrPorts metrics.ErrKind = "no_ports"
	// ErrUnmatched is a reply that matches no message awaiting one (a
	// duplicate, or one given up).
	ErrUnmatched metrics.ErrKind = "unmatched_reply"
)

var _ = fmt.Sprintf
