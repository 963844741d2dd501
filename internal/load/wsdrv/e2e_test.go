package wsdrv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/ws"
)

// End-to-end: the driver against loadrig's own WebSocket server
// (internal/server/ws), in process on 127.0.0.1:0.

type realWS struct {
	base  string
	token string
	cur   atomic.Pointer[ws.Server]
	opts  ws.Options
}

// newRealWS serves ws.NewHandler(o) behind a handler that restart can
// swap, so a test can stop the server (1001) and bring up another.
func newRealWS(t *testing.T, o ws.Options) *realWS {
	t.Helper()
	auth := server.NewJWT(server.JWTOptions{Key: []byte("wsdrv-e2e-test-key-0123456789abcdef")})
	o.Auth, o.Dev = auth, true
	r := &realWS{opts: o}
	r.cur.Store(ws.NewHandler(o))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.cur.Load().ServeHTTP(w, req) }))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.cur.Load().Shutdown(ctx)
	})
	tok, err := auth.Issue(t.Context(), 7)
	if err != nil {
		t.Fatal(err)
	}
	r.base, r.token = srv.URL, tok.Value
	return r
}

// restart shuts the server down (every connection closed with 1001) and
// serves a new one.
func (r *realWS) restart(t *testing.T) {
	old := r.cur.Load()
	r.cur.Store(ws.NewHandler(r.opts))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}

func TestRealEcho(t *testing.T) {
	t.Parallel()
	r := newRealWS(t, ws.Options{})
	// A long drain: on a loaded machine replies can lag the sends by a lot.
	d := newDriver(t, Options{URLs: []string{wsURL(r.base, "/ws/echo")}, Connections: 5, MessageRate: 200, Drain: 3 * time.Second})
	res := runHeld(t, d, 5, 1500*time.Millisecond)
	if m := res.Messages; res.Requests.OK != 5 || m == nil || m.Sent < 100 || m.Received != m.Sent || m.Errors != 0 || code(res.Connections, "1000") != 5 {
		t.Fatalf("requests %+v messages %+v connections %+v", res.Requests, res.Messages, res.Connections)
	}
}

func TestRealChat(t *testing.T) {
	t.Parallel()
	r := newRealWS(t, ws.Options{})
	d := newDriver(t, Options{URLs: []string{wsURL(r.base, "/ws/chat")}, Scenario: ScenarioChat, Connections: 20,
		Senders: 0.1, MessageRate: 10, Rooms: []string{"e2e"}, Token: r.token, Drain: 2 * time.Second})
	res := runHeld(t, d, 20, 2*time.Second)
	m, f := res.Messages, res.Fanout
	if res.Requests.OK != 20 || m == nil || f == nil || m.Sent < 10 || m.Errors != 0 {
		t.Fatalf("requests %+v messages %+v fanout %+v", res.Requests, m, f)
	}
	// (out_of_order is the server's to answer for: posts of two senders can
	// reach a receiver in another order than their seqs; it is reported,
	// not asserted)
	if f.DeliveryRatio != 1 || f.Duplicates != 0 || f.Expected < 15*m.Sent || res.AckLatency == nil || res.AckLatency.N != m.Sent {
		t.Fatalf("fanout %+v for %d posts, acks %+v", f, m.Sent, res.AckLatency)
	}
	// Without a token the upgrade is refused before it happens.
	d = newDriver(t, Options{URLs: []string{wsURL(r.base, "/ws/chat")}, Scenario: ScenarioChat, Connections: 1})
	if res := runHeld(t, d, 1, 200*time.Millisecond); res.Requests.ErrorsByKind["http_401"] != 1 {
		t.Fatalf("no token: %+v", res.Requests)
	}
}

// TestRealRateLimited: posts past the server's per-connection rate get
// error envelopes, counted as message errors by code.
func TestRealRateLimited(t *testing.T) {
	t.Parallel()
	r := newRealWS(t, ws.Options{MsgRate: 5, MsgBurst: 5})
	d := newDriver(t, Options{URLs: []string{wsURL(r.base, "/ws/chat")}, Scenario: ScenarioChat, Connections: 2,
		Senders: 0.5, MessageRate: 20, Token: r.token})
	res := runHeld(t, d, 2, 1500*time.Millisecond)
	if m := res.Messages; m == nil || m.ErrorsByKind["ws_error_rate_limited"] == 0 {
		t.Fatalf("messages %+v", res.Messages)
	}
}

func TestRealTickerTransports(t *testing.T) {
	t.Parallel()
	r := newRealWS(t, ws.Options{TickRate: 50})
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"ws", Options{URLs: []string{wsURL(r.base, "/ws/ticker")}, Scenario: ScenarioSubscribe}},
		{"sse", Options{URLs: []string{r.base + "/api/events/stream?topic=ticker"}, Transport: TransportSSE}},
		{"poll", Options{URLs: []string{r.base + "/api/events?topic=ticker"}, Transport: TransportPoll, PollInterval: 200 * time.Millisecond}},
		{"long poll", Options{URLs: []string{r.base + "/api/events?topic=ticker"}, Transport: TransportPoll, LongPoll: 5 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.Connections = 5
			c.o.Drain = 2 * time.Second
			d := newDriver(t, c.o)
			res := runHeld(t, d, 5, 1500*time.Millisecond)
			m, f := res.Messages, res.Fanout
			if res.Requests.OK != 5 || m == nil || f == nil || m.Received < 5*30 || m.Errors != 0 {
				t.Fatalf("requests %+v messages %+v fanout %+v", res.Requests, m, f)
			}
			if f.DeliveryRatio != 1 || f.Duplicates != 0 || f.OutOfOrder != 0 || f.Delivered != m.Received {
				t.Fatalf("fanout %+v messages %+v", f, m)
			}
		})
	}
}

// TestRealShutdownReconnect: a server shutdown closes every connection with
// 1001; the driver reconnects to its successor and the sessions succeed.
func TestRealShutdownReconnect(t *testing.T) {
	t.Parallel()
	r := newRealWS(t, ws.Options{TickRate: 20})
	d := newDriver(t, Options{URLs: []string{wsURL(r.base, "/ws/ticker")}, Scenario: ScenarioSubscribe, Connections: 4,
		Reconnect: true, Backoff: Backoff{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond}})
	time.AfterFunc(800*time.Millisecond, func() { r.restart(t) })
	res := runHeld(t, d, 4, 2*time.Second)
	c := res.Connections
	if res.Requests.OK != 4 || code(c, "1001") != 4 || c.Reconnects < 4 || c.Opened < 8 || code(c, "1000") != 4 {
		t.Fatalf("requests %+v connections %+v closed %v", res.Requests, c, *c.ClosedByCode)
	}
	_ = metrics.OK
}
