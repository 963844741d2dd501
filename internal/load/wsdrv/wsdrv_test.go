package wsdrv

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/pipenet"
)

func newDriver(t *testing.T, o Options) *Driver {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// runHeld opens n connections at 100/s and holds them for dur.
func runHeld(t *testing.T, d *Driver, n int, dur time.Duration) *metrics.Result {
	t.Helper()
	res, err := load.Run(testCtx(t), d, load.Config{Rate: 100, Arrivals: int64(n), MaxInflight: n, Duration: dur, Grace: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func code(c metrics.Connections, k string) int64 {
	if c.ClosedByCode == nil {
		return 0
	}
	return (*c.ClosedByCode)[k]
}

func TestEchoThroughEngine(t *testing.T) {
	t.Parallel()
	url := wsURL(echoServer(t), "/ws/echo")
	d := newDriver(t, Options{URLs: []string{url}, Connections: 4, MessageRate: 200,
		Message: `{"type":"msg","data":{"text":"n{{.Seq}} {{randInt 1 9}}"}}`})
	res := runHeld(t, d, 4, 1500*time.Millisecond)
	if res.Protocol != "ws" || res.StopReason != metrics.StopDuration || res.Requests.OK != 4 || res.Requests.Errors != 0 {
		t.Fatalf("protocol %s stop %s requests %+v", res.Protocol, res.StopReason, res.Requests)
	}
	m := res.Messages
	// 200/s over 4 connections for ~1.5 s; every message answered.
	if m == nil || m.Sent < 150 || m.Sent > 320 || m.Received != m.Sent || m.Errors != 0 {
		t.Fatalf("messages %+v", m)
	}
	if res.MessageLatency == nil || res.MessageLatency.N != m.Received {
		t.Fatalf("message latency %+v", res.MessageLatency)
	}
	c := res.Connections
	if c.Opened != 4 || c.PeakOpen != 4 || c.Failed != 0 || code(c, "1000") != 4 {
		t.Fatalf("connections %+v closed %v", c, c.ClosedByCode)
	}
	if res.ConnectTime == nil || res.ConnectTime.N != 4 || res.Histograms[metrics.HistConnectTime] == "" {
		t.Fatalf("connect time %+v", res.ConnectTime)
	}
	if res.Phases["handshake"].N != 4 || res.Phases["connect"].N != 4 {
		t.Fatalf("phases %+v", res.Phases)
	}
	// Bytes at the socket: the upgrade request alone is > 150 bytes, and
	// every echoed frame comes back.
	if res.Bytes == nil || res.Bytes.Sent < 4*150+m.Sent*40 || res.Bytes.Received < m.Received*40 {
		t.Fatalf("bytes %+v for %d messages", res.Bytes, m.Sent)
	}
	var msgPoints int
	for _, p := range res.Timeline {
		if p.MsgReceivedRPS > 0 && p.MsgP50US > 0 {
			msgPoints++
		}
	}
	if msgPoints == 0 {
		t.Fatalf("timeline without message columns: %+v", res.Timeline)
	}
}

func TestRawFIFO(t *testing.T) {
	t.Parallel()
	url := wsURL(echoServer(t), "/ws/echo")
	d := newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioRaw, Connections: 2, MessageRate: 100, Message: "plain {{.Seq}}"})
	res := runHeld(t, d, 2, time.Second)
	if m := res.Messages; m == nil || m.Sent < 50 || m.Received != m.Sent || m.Errors != 0 {
		t.Fatalf("messages %+v", m)
	}
}

func TestChatFanoutAndAcks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		dropEvery int64
	}{{"lossless", 0}, {"server drops every 5th", 5}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := wsURL(chatServer(t, &chatHub{dropEvery: c.dropEvery, history: true}), "/ws/chat")
			d := newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioChat, Connections: 10, Senders: 0.2, MessageRate: 40, Rooms: []string{"r1"}})
			res := runHeld(t, d, 10, 1500*time.Millisecond)
			if res.Requests.OK != 10 {
				t.Fatalf("requests %+v", res.Requests)
			}
			m, f := res.Messages, res.Fanout
			if m == nil || f == nil || m.Sent < 30 {
				t.Fatalf("messages %+v fanout %+v", m, f)
			}
			// Every post is acknowledged and timed as a round trip.
			if res.AckLatency == nil || res.AckLatency.N != m.Sent {
				t.Fatalf("ack latency %+v for %d sent", res.AckLatency, m.Sent)
			}
			// (a message that reaches a receiver just before the first one
			// that set its baseline is timed but not in the fanout)
			if f.Duplicates != 0 || f.OutOfOrder != 0 || f.Delivered > m.Received || m.Received-f.Delivered > 2 || res.MessageLatency.N != m.Received {
				t.Fatalf("fanout %+v messages %+v", f, m)
			}
			if c.dropEvery == 0 {
				// 9 other members get each post (the history replay is not counted).
				// (late joiners miss what was posted before they joined: not expected)
				if f.Dropped != 0 || f.DeliveryRatio != 1 || f.Expected < 7*m.Sent {
					t.Fatalf("lossless fanout %+v for %d posts", f, m.Sent)
				}
				return
			}
			if f.Dropped == 0 || f.DeliveryRatio > 0.9 || f.DeliveryRatio < 0.7 {
				t.Fatalf("lossy fanout %+v, want ~1/5 dropped", f)
			}
		})
	}
}

func TestSubscribeReconnectResume(t *testing.T) {
	t.Parallel()
	// The server drops every connection after 30 ticks during the first
	// 1.2 s of the 2 s run (not during the end's drain, when a drop would
	// rightly count the undelivered rest as dropped).
	tk := &ticker{period: 10 * time.Millisecond, closeAfter: 30, closeCode: websocket.StatusGoingAway, closeUntil: 1200 * time.Millisecond}
	url := wsURL(tickerServer(t, tk), "/ws/ticker")
	d := newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioSubscribe, Connections: 3,
		Reconnect: true, Backoff: Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}})
	res := runHeld(t, d, 3, 2*time.Second)
	c := res.Connections
	if res.Requests.OK != 3 || c.Reconnects == 0 || code(c, "1001") == 0 || c.Opened != 3+c.Reconnects {
		t.Fatalf("requests %+v connections %+v closed %v", res.Requests, c, c.ClosedByCode)
	}
	// resume: every tick is delivered exactly once despite the drops.
	f := res.Fanout
	if f == nil || f.Dropped != 0 || f.Duplicates != 0 || f.Delivered < 3*150 || res.Messages.Received != f.Delivered {
		t.Fatalf("fanout %+v messages %+v", f, res.Messages)
	}
}

// TestSubscribeDrainEndsWhenCaughtUp: a subscriber (WebSocket or SSE)
// stops draining once it has the newest event any receiver had seen at the
// run's end. With an hour's Drain, a session that waited it out would be
// cut off by the 3 s Grace (canceled, not ok, no clean close).
func TestSubscribeDrainEndsWhenCaughtUp(t *testing.T) {
	t.Parallel()
	for _, tr := range []Transport{TransportWS, TransportSSE} {
		t.Run(string(tr), func(t *testing.T) {
			t.Parallel()
			tk := &ticker{period: 10 * time.Millisecond}
			var url, closed string
			if tr == TransportSSE {
				url, closed = sseServer(t, tk, 0)+"/api/events/stream?topic=ticker", "client"
			} else {
				url, closed = wsURL(tickerServer(t, tk), "/ws/ticker"), "1000"
			}
			d := newDriver(t, Options{URLs: []string{url}, Transport: tr, Scenario: ScenarioSubscribe, Connections: 3, Drain: time.Hour})
			res := runHeld(t, d, 3, time.Second)
			// (on a starved machine a connection may open too late for a
			// tick; it is caught up at once, and still must not be cut off)
			if f := res.Fanout; res.Requests.OK != 3 || code(res.Connections, closed) != 3 || f != nil && f.Dropped != 0 {
				t.Fatalf("requests %+v connections %+v fanout %+v", res.Requests, res.Connections, f)
			}
		})
	}
}

func TestSubscribeWithoutReconnectFails(t *testing.T) {
	t.Parallel()
	tk := &ticker{period: 10 * time.Millisecond, closeAfter: 10, closeCode: websocket.StatusGoingAway}
	url := wsURL(tickerServer(t, tk), "/ws/ticker")
	d := newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioSubscribe, Connections: 2})
	res := runHeld(t, d, 2, time.Second)
	if res.Requests.ErrorsByKind["ws_close_1001"] != 2 || code(res.Connections, "1001") != 2 {
		t.Fatalf("requests %+v connections %+v", res.Requests, res.Connections)
	}
}

// TestSSEResume: SSE streams that the server ends every 25 events, with
// reconnects resuming from Last-Event-ID: every tick reaches both clients
// once, in order, and a stream still reconnecting at the end misses at most
// the ticks of one backoff. On a synctest bubble's fake clock (the server
// over internal/pipenet), so the counts do not depend on the machine.
func TestSSEResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk := &ticker{period: 10 * time.Millisecond}
		ln := pipenet.Listen()
		srv := &http.Server{Handler: sseHandler(tk, 25)}
		go srv.Serve(ln)
		defer srv.Close()
		d := newDriver(t, Options{URLs: []string{"http://" + ln.Addr().String() + "/api/events/stream?topic=ticker"}, Transport: TransportSSE,
			Connections: 2, Reconnect: true, Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}})
		d.netDial = func(ctx context.Context, network, addr string, _ net.Addr) (net.Conn, error) {
			return ln.Dial(ctx, network, addr)
		}
		defer d.Close()
		res := runHeld(t, d, 2, 1500*time.Millisecond)
		f := res.Fanout
		if res.Protocol != "sse" || res.Requests.OK != 2 || res.Connections.Reconnects == 0 {
			t.Fatalf("protocol %s requests %+v connections %+v", res.Protocol, res.Requests, res.Connections)
		}
		// 1.5 s of 10 ms ticks to 2 clients; only a stream still
		// reconnecting at the end (20 ms cap: 2 ticks) misses some.
		if f == nil || f.Dropped > 2*3 || f.Duplicates != 0 || f.OutOfOrder != 0 || f.Delivered < 2*(150-3) || res.MessageLatency.N != f.Delivered {
			t.Fatalf("fanout %+v latency %+v", f, res.MessageLatency)
		}
		if res.Bytes == nil || res.Bytes.Received < f.Delivered*60 {
			t.Fatalf("bytes %+v", res.Bytes)
		}
	})
}

func TestPoll(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		interval time.Duration
		long     time.Duration
		noETag   bool
	}{{"interval", 100 * time.Millisecond, 0, false}, {"interval without etag", 100 * time.Millisecond, 0, true}, {"long poll", 0, 500 * time.Millisecond, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var reqs, notMod atomic.Int64
			tk := &ticker{period: 20 * time.Millisecond}
			if c.interval > 0 {
				tk.period = 300 * time.Millisecond // slower than the polls: some see nothing new
			}
			url := pollServer(t, tk, &reqs, &notMod) + "/api/events?topic=ticker"
			d := newDriver(t, Options{URLs: []string{url}, Transport: TransportPoll, Connections: 2, PollInterval: c.interval, LongPoll: c.long, NoETag: c.noETag})
			res := runHeld(t, d, 2, 1500*time.Millisecond)
			m, f := res.Messages, res.Fanout
			if res.Protocol != "poll" || res.Requests.OK != 2 || m == nil || f == nil {
				t.Fatalf("protocol %s requests %+v messages %+v fanout %+v", res.Protocol, res.Requests, m, f)
			}
			// (a long poll in flight at the end reached the server but was cut short)
			if m.Sent > reqs.Load() || reqs.Load() > m.Sent+2 || m.Errors != 0 || f.Dropped != 0 || f.Duplicates != 0 || f.Delivered == 0 {
				t.Fatalf("messages %+v (server saw %d requests) fanout %+v", m, reqs.Load(), f)
			}
			switch {
			case c.long > 0 && m.Sent > m.Received+4:
				t.Errorf("long poll: %d requests for %d events", m.Sent, m.Received)
			case c.interval > 0 && !c.noETag && notMod.Load() == 0:
				t.Error("no 304 while polling faster than events come")
			case c.noETag && notMod.Load() != 0:
				t.Error("304 without If-None-Match")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{URLs: []string{"http://127.0.0.1:1/ws"}, Connections: 1}, "ws:// or wss://"},
		{Options{URLs: []string{"ws://127.0.0.1:1/x"}, Transport: TransportSSE, Connections: 1}, "http:// or https://"},
		{Options{URLs: []string{"ws://127.0.0.1:1/x"}, Connections: 1, Scenario: "flood"}, "unknown scenario"},
		{Options{URLs: []string{"ws://127.0.0.1:1/x"}, Connections: 1, Message: `{"a": {{nope}}}`}, "message template"},
		{Options{URLs: []string{"ws://127.0.0.1:1/x"}, Connections: 1, Message: `not json`}, "JSON object"},
		{Options{URLs: []string{"ws://127.0.0.1:1/x"}, Connections: 0}, "connections"},
		{Options{URLs: []string{"http://127.0.0.1:1/x"}, Transport: TransportPoll, Scenario: ScenarioChat, Connections: 1}, "subscribe scenario only"},
	} {
		_, err := New(c.o)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("New(%+v) = %v, want a one-line usage error containing %q", c.o, err, c.want)
		}
	}
}

func TestRefusedIsClassified(t *testing.T) {
	t.Parallel()
	d := newDriver(t, Options{URLs: []string{"ws://127.0.0.1:1/ws/echo"}, Connections: 2})
	res := runHeld(t, d, 2, 300*time.Millisecond)
	if res.Requests.ErrorsByKind["refused"] != 2 || res.Connections.Failed != 2 || res.Connections.Opened != 0 {
		t.Fatalf("requests %+v connections %+v", res.Requests, res.Connections)
	}
}

// TestBackoff: socket.io-client's schedule, 1 s doubling to a 5 s cap, each
// spread ±50 %; waits in fake time take exactly the drawn delay, and the
// run's end interrupts a wait at once.
func TestBackoff(t *testing.T) {
	b := Backoff{}.withDefaults()
	r := rand.New(rand.NewPCG(1, 2))
	for n, base := range []time.Duration{1, 2, 4, 5, 5, 5} {
		base *= time.Second
		for range 200 {
			d := b.Delay(n, r)
			if lo, hi := base/2, min(base*3/2, b.Max); d < lo || d > hi {
				t.Fatalf("attempt %d: delay %v outside %v..%v", n, d, lo, hi)
			}
		}
	}
	if d := (Backoff{Initial: time.Second, Randomization: -1}).withDefaults().Delay(1, r); d != 2*time.Second {
		t.Fatalf("no jitter: %v", d)
	}
	synctest.Test(t, func(t *testing.T) {
		w := &worker{}
		op := load.NewOp(0, nil)
		closing := make(chan struct{})
		op.SetClosing(closing)
		var total time.Duration
		start := time.Now()
		for n := range 4 {
			d := b.Delay(n, r)
			total += d
			if !w.wait(t.Context(), op, d) {
				t.Fatal("wait ended early")
			}
		}
		if time.Since(start) != total {
			t.Fatalf("waited %v, want %v", time.Since(start), total)
		}
		time.AfterFunc(300*time.Millisecond, func() { close(closing) })
		start = time.Now()
		if w.wait(t.Context(), op, 5*time.Second) || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("the run's end did not interrupt the wait (%v)", time.Since(start))
		}
	})
}

func TestStreamAccounting(t *testing.T) {
	top := &topic{}
	s := &stream{top: top}
	for _, q := range []int64{10, 11, 13, 12, 12, 15} {
		s.observe(q)
	}
	top.raise(16) // a later event this receiver never got
	if s.counts.delivered != 5 || s.counts.duplicates != 1 || s.counts.outOfOrder != 1 {
		t.Fatalf("counts %+v", s.counts)
	}
	// 10..16 expected, 14 and 16 missing.
	if e := s.expected(); e != 7 {
		t.Fatalf("expected %d, want 7", e)
	}
	s.observe(5) // before this receiver's first event: history
	if s.counts.delivered != 5 {
		t.Fatalf("history counted: %+v", s.counts)
	}
	// A sender's own messages are acknowledged, not expected.
	s2 := &stream{top: top}
	s2.own(17)
	s2.observe(18)
	top.raise(18)
	if s2.expected() != 1 || s2.counts.delivered != 1 {
		t.Fatalf("sender: expected %d counts %+v", s2.expected(), s2.counts)
	}
	// A sender's own ack is not a delivery: the server queues it at once,
	// while a broadcast with a lower seq may still be on its way to the
	// sender through the room. Deliveries are in order among themselves.
	s4 := &stream{top: &topic{}}
	for _, q := range []int64{20, 22, 21, 23} { // 22 is the own ack
		if q == 22 {
			s4.own(q)
		} else {
			s4.observe(q)
		}
	}
	if s4.counts.outOfOrder != 0 || s4.counts.delivered != 3 || s4.counts.own != 1 {
		t.Fatalf("own ack before an earlier delivery: %+v", s4.counts)
	}
	s4.observe(21)
	if s4.counts.duplicates != 1 {
		t.Fatalf("duplicate delivery: %+v", s4.counts)
	}
	// Far ahead: the window slides and old marks do not read as duplicates.
	s3 := &stream{top: &topic{}}
	s3.observe(1)
	s3.observe(1 + seqWindow)
	s3.observe(1 + 2*seqWindow)
	if s3.counts.duplicates != 0 || s3.counts.delivered != 3 {
		t.Fatalf("window: %+v", s3.counts)
	}
}

// TestSourceAddrsTokenOrigin: connections dial from the source addresses
// round robin, and carry the bearer token and the Origin.
func TestSourceAddrsTokenOrigin(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	from := map[string]int{}
	var bad atomic.Int64
	url := wsURL(serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("Origin") != "http://app.example" {
			bad.Add(1)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from[host]++
		mu.Unlock()
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context())
	})), "/ws/echo")
	d := newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioSubscribe, Connections: 4, Token: "s3cret", Origin: "http://app.example",
		SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}})
	res := runHeld(t, d, 4, 300*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if bad.Load() != 0 || res.Requests.OK != 4 || from["127.0.0.2"] != 2 || from["127.0.0.3"] != 2 {
		t.Fatalf("rejected %d, requests %+v, connections from %v", bad.Load(), res.Requests, from)
	}
	// A rejected upgrade is classified by its status.
	d = newDriver(t, Options{URLs: []string{url}, Scenario: ScenarioSubscribe, Connections: 1})
	if res := runHeld(t, d, 1, 200*time.Millisecond); res.Requests.ErrorsByKind["http_401"] != 1 || res.Connections.Failed != 1 {
		t.Fatalf("401: %+v %+v", res.Requests, res.Connections)
	}
}
