package gqldrv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// WebSocket subprotocols.
const (
	ProtoTransportWS = "graphql-transport-ws" // graphql-ws library's protocol
	ProtoLegacyWS    = "graphql-ws"           // subscriptions-transport-ws (legacy)
)

// maxMessage bounds one received WebSocket message.
const maxMessage = 1 << 20

// subscriber runs a subscription operation: each engine operation is one
// subscriber session (connect, init, subscribe, receive timed events until
// the window ends).
type subscriber struct {
	d      *Driver
	op     *Operation
	wsURL  string
	proto  string
	params json.RawMessage // connection_init payload, nil: none
	env    *tmpl.Env
	vars   *tmpl.Template
	header http.Header
	tsPath []string // nil: the first "emittedAt" anywhere
	conns  load.ConnTracker
	client *http.Client
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)

	startOnce sync.Once
	start     time.Time // the first subscriber's start (window start)
	windowEnd time.Time // zero: no window

	active     atomic.Int64 // subscribed sessions now
	subscribed atomic.Int64 // sessions that got as far as subscribing
	failed     atomic.Int64 // sessions that failed before subscribing
	received   atomic.Int64 // events received (measured or not)
	expected   atomic.Int64
	mu         sync.Mutex
	closeCodes map[string]int64

	pub *publisher
}

func newSubscriptionDriver(d *Driver, op *Operation, u *url.URL) (*Driver, error) {
	o := d.opts
	s := &subscriber{d: d, op: op, closeCodes: map[string]int64{}}
	switch o.WSProtocol {
	case "", ProtoTransportWS:
		s.proto = ProtoTransportWS
	case ProtoLegacyWS:
		s.proto = ProtoLegacyWS
	default:
		return nil, fmt.Errorf("--ws-protocol %q: use %s or %s", o.WSProtocol, ProtoTransportWS, ProtoLegacyWS)
	}
	if o.Subscribers < 0 || o.Ramp < 0 || o.PublishRate < 0 {
		return nil, errors.New("--subscribers, --ramp and --publish-rate must not be negative")
	}
	if o.GET || o.APQ || o.Mix != "" {
		return nil, errors.New("--get, --apq and --mix apply to queries and mutations, not to a subscription")
	}
	if o.ConnectionParams != "" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(o.ConnectionParams), &m); err != nil || m == nil {
			return nil, fmt.Errorf("--connection-params is not a JSON object: %.200s", o.ConnectionParams)
		}
		s.params = json.RawMessage(o.ConnectionParams)
	}
	if o.TimestampField != "" {
		s.tsPath = strings.Split(o.TimestampField, ".")
		for _, p := range s.tsPath {
			if p == "" {
				return nil, fmt.Errorf("--timestamp-field %q: expected a dot path inside data, e.g. productUpdated.emittedAt", o.TimestampField)
			}
		}
	}
	ws := *u
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	s.wsURL = ws.String()
	s.env = tmpl.NewEnv(o.HTTP.Data, o.HTTP.RowMode, o.HTTP.Seed)
	if o.Variables != "" {
		var err error
		if s.vars, err = s.env.Compile(o.Variables); err != nil {
			return nil, fmt.Errorf("--variables: %w", err)
		}
		d.vars = s.vars
	}
	if err := d.checkVariables(s.env, []*Operation{op}); err != nil {
		return nil, err
	}
	s.header = http.Header{}
	for _, h := range o.HTTP.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("bad header %q: expected 'Name: value'", h)
		}
		s.header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	var dialer net.Dialer
	s.dial = dialer.DialContext
	s.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := s.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return s.conns.Track(c), nil
		},
		TLSClientConfig:   tlsConfig(o.HTTP.Insecure),
		DisableKeepAlives: true,
		Proxy:             nil,
	}}
	if o.Publish != "" {
		p, err := newPublisher(s, o)
		if err != nil {
			return nil, err
		}
		s.pub = p
	}
	d.sub = s
	return d, nil
}

// connectTimeout is Options.ConnectTimeout or its default.
func (s *subscriber) connectTimeout() time.Duration {
	if t := s.d.opts.ConnectTimeout; t > 0 {
		return t
	}
	return 10 * time.Second
}

// begin starts the window (and the publisher) with the first subscriber.
func (s *subscriber) begin(run context.Context) {
	s.startOnce.Do(func() {
		s.start = time.Now()
		if h := s.d.opts.Hold; h > 0 {
			s.windowEnd = s.start.Add(h)
		}
		if s.pub != nil {
			go s.pub.run(run)
		}
	})
}

func (s *subscriber) newWorker(ctx context.Context, id int) (load.Worker, error) {
	s.begin(ctx)
	return &subWorker{s: s, ev: s.env.NewEvaluator(id)}, nil
}

func (s *subscriber) close() error {
	if s.pub != nil {
		s.pub.wait()
		if err := s.pub.d.Close(); err != nil {
			return err
		}
	}
	s.client.CloseIdleConnections()
	return nil
}

// result is the run's subscriptions section.
func (s *subscriber) result() *metrics.Subscriptions {
	r := &metrics.Subscriptions{
		Subscribers: s.subscribed.Load(),
		Expected:    s.expected.Load(),
		Received:    s.received.Load(),
	}
	if s.pub != nil {
		r.Published, r.PublishErrors, r.PublishLate = s.pub.ok.Load(), s.pub.errs.Load(), s.pub.late.Load()
		r.PublishErrorsByKind = s.pub.errorKinds()
	}
	s.mu.Lock()
	for c, n := range s.closeCodes {
		if r.CloseCodes == nil {
			r.CloseCodes = map[string]int64{}
		}
		r.CloseCodes[c] = n
	}

	s.mu.Unlock()
	r.SetRatio()
	return r
}

func (s *subscriber) closeCode(code websocket.StatusCode) {
	s.mu.Lock()
	s.closeCodes[strconv.Itoa(int(code))]++
	s.mu.Unlock()
}

// subWorker runs subscriber sessions, one per operation.
type subWorker struct {
	s  *subscriber
	ev *tmpl.Evaluator
}

func (w *subWorker) Close() error { return nil }

// wire is a GraphQL-over-WebSocket message.
type wire struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Do is one subscriber session.
func (w *subWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	subscribed := false
	out := w.session(ctx, op, &subscribed)
	if !subscribed {
		w.s.failed.Add(1)
	}
	return out
}

func (w *subWorker) session(ctx context.Context, op *load.Op, subscribed *bool) load.Outcome {
	s := w.s
	var out load.Outcome
	out.Op = 1
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.connectTimeout())
	c, _, err := websocket.Dial(cctx, s.wsURL, &websocket.DialOptions{
		HTTPClient: s.client, HTTPHeader: s.header, Subprotocols: []string{s.proto},
	})
	if err != nil {
		cancel()
		out.Err = dialKind(ctx, cctx, err)
		return out
	}
	defer c.CloseNow()
	c.SetReadLimit(maxMessage)
	if c.Subprotocol() != s.proto {
		cancel()
		c.Close(websocket.StatusProtocolError, "subprotocol")
		out.Err = "ws_subprotocol"
		return out
	}
	init, _ := json.Marshal(wire{Type: "connection_init", Payload: s.params})
	if err := c.Write(cctx, websocket.MessageText, init); err != nil {
		cancel()
		out.Err = s.readKind(ctx, err)
		return out
	}
	for acked := false; !acked; {
		_, b, err := c.Read(cctx)
		if err != nil {
			cancel()
			out.Err = s.readKind(ctx, err)
			return out
		}
		var m wire
		if json.Unmarshal(b, &m) != nil {
			cancel()
			out.Err = metrics.ErrProtocol
			return out
		}
		switch m.Type {
		case "connection_ack":
			acked = true
		case "ping":
			c.Write(cctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case "ka", "pong":
		case "connection_error", "error":
			cancel()
			out.Err = ErrGraphQL
			return out
		default:
			cancel()
			out.Err = metrics.ErrProtocol
			return out
		}
	}
	cancel()
	op.Phase(load.PhaseHandshake, time.Since(t0))

	w.ev.Begin(op.Seq())
	payload := map[string]any{"query": s.op.Text}
	if s.op.Name != "" {
		payload["operationName"] = s.op.Name
	}
	if s.vars != nil {
		payload["variables"] = json.RawMessage(w.ev.Append(nil, s.vars))
	}
	pb, _ := json.Marshal(payload)
	typ, stop := "subscribe", "complete"
	if s.proto == ProtoLegacyWS {
		typ, stop = "start", "stop"
	}
	sub, _ := json.Marshal(wire{ID: "1", Type: typ, Payload: pb})
	if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
		out.Err = s.readKind(ctx, err)
		return out
	}
	op.MessageSent(1)
	*subscribed = true
	op.Hold() // subscribed: from now on the run's end closes the session
	s.subscribed.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)

	// The run's end (Op.Closing) or the window's (Options.Hold):
	// unsubscribe and close normally; the read below then ends with our
	// own close, a success.
	var ended atomic.Bool
	quit := make(chan struct{})
	defer close(quit)
	var window <-chan time.Time
	if !s.windowEnd.IsZero() {
		t := time.NewTimer(time.Until(s.windowEnd))
		defer t.Stop()
		window = t.C
	}
	go func() {
		select {
		case <-op.Closing():
		case <-window:
		case <-quit:
			return
		}
		ended.Store(true)
		done, _ := json.Marshal(wire{ID: "1", Type: stop})
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		c.Write(wctx, websocket.MessageText, done)
		wcancel()
		c.Close(websocket.StatusNormalClosure, "run over")
	}()
	var ts tsScratch
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if ended.Load() {
				return out
			}
			out.Err = s.readKind(ctx, err)
			return out
		}
		now := time.Now()
		var m wire
		if json.Unmarshal(b, &m) != nil {
			op.MessageError(metrics.ErrProtocol)
			continue
		}
		switch m.Type {
		case "next", "data":
			s.received.Add(1)
			var v Verdict
			Classify(m.Payload, &v)
			if v.Errors > 0 {
				if op.Recording() {
					s.d.countCodes(v.Codes)
				}
				op.MessageError(ErrGraphQL)
				continue
			}
			at, ok := ts.find(m.Payload, s.tsPath)
			if !ok {
				op.MessageError("no_timestamp")
				continue
			}
			op.MessageSince(at, now)
		case "ping":
			c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
		case "ka", "pong":
		case "error":
			var v Verdict
			// graphql-transport-ws: payload is the errors array.
			Classify(append(append([]byte(`{"errors":`), m.Payload...), '}'), &v)
			if op.Recording() {
				s.d.countCodes(v.Codes)
			}
			out.Err = ErrGraphQL
			c.Close(websocket.StatusNormalClosure, "")
			return out
		case "complete":
			c.Close(websocket.StatusNormalClosure, "")
			return out
		default:
			op.MessageError(metrics.ErrProtocol)
		}
	}
}

// readKind classifies a failed WebSocket read or write: the context
// decides first; a close by the server is counted by its code and is the
// error kind ws_close_<code> (a normal closure mid-window included: the
// subscription ended early).
func (s *subscriber) readKind(ctx context.Context, err error) metrics.ErrKind {
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) {
			return metrics.ErrTimeout
		}
		return metrics.ErrCanceled
	}
	if code := websocket.CloseStatus(err); code != -1 {
		s.closeCode(code)
		return metrics.ErrKind("ws_close_" + strconv.Itoa(int(code)))
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return metrics.ErrTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return metrics.ErrEOF
	}
	return metrics.ErrOther
}

// dialKind classifies a failed handshake.
func dialKind(ctx, cctx context.Context, err error) metrics.ErrKind {
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) {
			return metrics.ErrTimeout
		}
		return metrics.ErrCanceled
	}
	if cctx.Err() != nil {
		return metrics.ErrTimeout
	}
	msg := err.Error()
	var op *net.OpError
	switch {
	case errors.As(err, &op) && strings.Contains(msg, "refused"):
		return metrics.ErrRefused
	case strings.Contains(msg, "expected handshake response status code 101"):
		// "… but got 403" and the like: the upgrade was refused.
		if i := strings.LastIndex(msg, "but got "); i >= 0 {
			if code, err := strconv.Atoi(strings.TrimSpace(msg[i+8:])); err == nil {
				return metrics.HTTPStatusKind(code)
			}
		}
		return "ws_handshake"
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return metrics.ErrTLS
	case strings.Contains(msg, "refused"):
		return metrics.ErrRefused
	}
	return "ws_handshake"
}

// tsScratch finds an event's timestamp.
type tsScratch struct{}

var emittedAtKey = []byte(`"emittedAt"`)

// find returns the event's emission time: at path inside payload.data,
// or, with no path, the first "emittedAt" string anywhere in the payload.
func (tsScratch) find(payload []byte, path []string) (time.Time, bool) {
	if path == nil {
		i := bytes.Index(payload, emittedAtKey)
		if i < 0 {
			return time.Time{}, false
		}
		rest := payload[i+len(emittedAtKey):]
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == ':' || rest[j] == '\t' || rest[j] == '\n' || rest[j] == '\r') {
			j++
		}
		if j >= len(rest) || rest[j] != '"' {
			return time.Time{}, false
		}
		end := bytes.IndexByte(rest[j+1:], '"')
		if end < 0 {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, string(rest[j+1:j+1+end]))
		return t, err == nil
	}
	var p struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return time.Time{}, false
	}
	cur := p.Data
	for _, key := range path {
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return time.Time{}, false
		}
		var ok bool
		if cur, ok = m[key]; !ok {
			return time.Time{}, false
		}
	}
	var s string
	if json.Unmarshal(cur, &s) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
