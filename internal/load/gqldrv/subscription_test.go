package gqldrv

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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

// wsServer is a GraphQL-over-WebSocket server for one subscription: after
// connection_init and the subscribe (or legacy start) it sends events,
// each stamped with emittedAt and then held back for its delay, so its
// latency at the client is exactly that delay; then one event with errors;
// then it waits for the client to close.
func wsServer(t *testing.T, proto string, delays []time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{proto}})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		read := func() wire {
			_, b, err := c.Read(ctx)
			if err != nil {
				return wire{}
			}
			var m wire
			json.Unmarshal(b, &m)
			return m
		}
		send := func(m wire) {
			b, _ := json.Marshal(m)
			c.Write(ctx, websocket.MessageText, b)
		}
		if m := read(); m.Type != "connection_init" || string(m.Payload) != `{"authorization":"Bearer T"}` {
			t.Errorf("first message %+v, want connection_init with the params", m)
			return
		}
		send(wire{Type: "connection_ack"})
		sub := read()
		if want := map[string]string{ProtoTransportWS: "subscribe", ProtoLegacyWS: "start"}[proto]; sub.Type != want || !strings.Contains(string(sub.Payload), `"variables":{"id":"7"}`) {
			t.Errorf("subscribe message %+v, want %s with the variables", sub, want)
			return
		}
		next := map[string]string{ProtoTransportWS: "next", ProtoLegacyWS: "data"}[proto]
		for _, d := range delays {
			stamp := time.Now()
			time.Sleep(d)
			send(wire{ID: sub.ID, Type: next, Payload: json.RawMessage(`{"data":{"productUpdated":{"product":{"id":"7"},"emittedAt":"` + stamp.Format(time.RFC3339Nano) + `"}}}`)})
		}
		send(wire{ID: sub.ID, Type: next, Payload: json.RawMessage(`{"errors":[{"message":"gone","extensions":{"code":"NOT_FOUND"}}]}`)})
		send(wire{Type: "ping"})
		if m := read(); proto == ProtoTransportWS && m.Type != "pong" {
			t.Errorf("ping answered with %+v", m)
		}
		for read().Type != "" { // the client's complete/stop, then its close
		}
	})
}

// latencySink records message latencies exactly, and message errors.
type latencySink struct {
	mu   sync.Mutex
	lat  []time.Duration
	sent int
	errs map[metrics.ErrKind]int
}

func (s *latencySink) MessageError(k metrics.ErrKind) {
	s.mu.Lock()
	if s.errs == nil {
		s.errs = map[metrics.ErrKind]int{}
	}
	s.errs[k]++
	s.mu.Unlock()
}

func (s *latencySink) MessageSent(n int) { s.mu.Lock(); s.sent += n; s.mu.Unlock() }
func (s *latencySink) MessageReceived(d time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}
func (s *latencySink) Phase(load.Phase, time.Duration) {}

// Latency math on the fake clock over in-memory pipes: each event's
// latency is its arrival minus its emittedAt, exactly; an event with
// errors is counted, not timed; the session ends normally at the window's
// end (Hold) with close code 1000 and is one successful operation.
func TestSubscriptionLatencyMath(t *testing.T) {
	for _, proto := range []string{ProtoTransportWS, ProtoLegacyWS} {
		t.Run(proto, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				delays := []time.Duration{time.Millisecond, 5 * time.Millisecond, 2500 * time.Microsecond, 40 * time.Millisecond}
				ln := pipenet.Listen()
				srv := &http.Server{Handler: wsServer(t, proto, delays)}
				go srv.Serve(ln)
				defer srv.Close()

				d := newDriver(t, Options{URL: "http://gql.test/graphql", WSProtocol: proto, Hold: time.Second,
					Query:            `subscription S($id: ID!) { productUpdated(id: $id) { product { id } emittedAt } }`,
					Variables:        `{"id":"{{.Seq}}"}`,
					ConnectionParams: `{"authorization":"Bearer T"}`})
				d.sub.dial = ln.Dial
				start := time.Now()
				w, err := d.NewWorker(t.Context(), 0)
				if err != nil {
					t.Fatal(err)
				}
				sink := &latencySink{}
				out := w.Do(t.Context(), load.NewOp(7, sink))
				w.Close()
				if out.Err != metrics.OK || out.Op != 1 {
					t.Fatalf("session outcome %+v, want OK", out)
				}
				if el := time.Since(start); el != time.Second {
					t.Errorf("session lasted %v, want the 1s window exactly", el)
				}
				if len(sink.lat) != len(delays) || sink.sent != 1 {
					t.Fatalf("latencies %v (sent %d), want %v", sink.lat, sink.sent, delays)
				}
				for i := range delays {
					if sink.lat[i] != delays[i] {
						t.Errorf("event %d latency %v, want exactly %v", i, sink.lat[i], delays[i])
					}
				}
				var res metrics.Result
				d.Annotate(&res)
				s := res.Subscriptions
				if s == nil || s.Subscribers != 1 || s.Received != int64(len(delays)+1) || sink.errs[ErrGraphQL] != 1 ||
					res.GraphQL.ErrorsByCode["NOT_FOUND"] != 1 || len(s.CloseCodes) != 0 {
					t.Errorf("subscriptions %+v, graphql %+v", s, res.GraphQL)
				}
				if b := d.WireBytes(); b.Sent == 0 || b.Received == 0 {
					t.Errorf("wire bytes %+v", b)
				}
				d.Close()
			})
		})
	}
}

// --timestamp-field reads a dot path in data; a missing one is an event
// error, not a latency.
func TestTimestampField(t *testing.T) {
	var ts tsScratch
	at := time.Date(2026, 12, 5, 8, 0, 0, 123456789, time.UTC)
	p := []byte(`{"data":{"a":{"sentAt":"` + at.Format(time.RFC3339Nano) + `","emittedAt":"x"}}}`)
	if got, ok := ts.find(p, []string{"a", "sentAt"}); !ok || !got.Equal(at) {
		t.Errorf("path a.sentAt: %v %v", got, ok)
	}
	if _, ok := ts.find(p, nil); ok {
		t.Error("a non-time emittedAt was accepted")
	}
	if _, ok := ts.find(p, []string{"a", "nope"}); ok {
		t.Error("a missing path was accepted")
	}
}

// A server that refuses the subscription (an error message) or closes the
// connection is an error of its own kind, counted by close code.
func TestSubscriptionServerErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := pipenet.Listen()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{ProtoTransportWS}})
			if err != nil {
				return
			}
			defer c.CloseNow()
			c.Read(r.Context())
			if r.URL.Query().Get("deny") != "" {
				c.Close(4403, "Forbidden")
				return
			}
			c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"connection_ack"}`))
			c.Read(r.Context())
			c.Write(r.Context(), websocket.MessageText, []byte(`{"id":"1","type":"error","payload":[{"message":"no","extensions":{"code":"UNAUTHENTICATED"}}]}`))
			c.Read(r.Context())
		})}
		go srv.Serve(ln)
		defer srv.Close()
		for _, c := range []struct {
			url  string
			want metrics.ErrKind
		}{{"http://gql.test/graphql?deny=1", "ws_close_4403"}, {"http://gql.test/graphql", ErrGraphQL}} {
			d := newDriver(t, Options{URL: c.url, Hold: time.Second, Query: `subscription { orderUpdated { emittedAt } }`})
			d.sub.dial = ln.Dial
			w, _ := d.NewWorker(t.Context(), 0)
			out := w.Do(t.Context(), load.NewOp(0, &latencySink{}))
			if out.Err != c.want {
				t.Errorf("%s: %+v, want %s", c.url, out, c.want)
			}
			var res metrics.Result
			d.Annotate(&res)
			if c.want == ErrGraphQL && res.GraphQL.ErrorsByCode["UNAUTHENTICATED"] != 1 {
				t.Errorf("codes %v", res.GraphQL.ErrorsByCode)
			}
			if c.want != ErrGraphQL && res.Subscriptions.CloseCodes["4403"] != 1 {
				t.Errorf("close codes %v", res.Subscriptions.CloseCodes)
			}
			d.Close()
		}
	})
}

// Through the engine against a loopback server that broadcasts an event
// per publish mutation: N subscribers, a publisher during the window,
// every expected event delivered, and the result's subscriptions section.
func TestSubscriptionsWithPublisher(t *testing.T) {
	var mu sync.Mutex
	subs := map[chan string]bool{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			ev := `{"data":{"productUpdated":{"emittedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`
			mu.Lock()
			for ch := range subs {
				select {
				case ch <- ev:
				default:
					t.Error("slow test subscriber")
				}
			}
			mu.Unlock()
			w.Write([]byte(`{"data":{"updateProduct":{"id":"1"}}}`))
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{ProtoTransportWS}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		c.Read(ctx)
		c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_ack"}`))
		c.Read(ctx)
		ch := make(chan string, 1000)
		mu.Lock()
		subs[ch] = true
		mu.Unlock()
		defer func() { mu.Lock(); delete(subs, ch); mu.Unlock() }()
		rctx := c.CloseRead(ctx)
		for {
			select {
			case ev := <-ch:
				c.Write(ctx, websocket.MessageText, []byte(`{"id":"1","type":"next","payload":`+ev+`}`))
			case <-rctx.Done():
				return
			}
		}
	})
	s := httptest.NewServer(h)
	defer s.Close()
	d := newDriver(t, Options{URL: "ws" + strings.TrimPrefix(s.URL, "http") + "/graphql", Subscribers: 5, Hold: 1500 * time.Millisecond,
		Query:       `subscription { productUpdated(id: 1) { emittedAt } }`,
		Publish:     `mutation { updateProduct(id: 1, input: {price: 10}) { id } }`,
		PublishRate: 20})
	// As load graphql runs it: 5 arrivals at 100/s, held until the run's
	// end (Op.Closing); Hold only times the publisher's stop.
	res, err := load.Run(t.Context(), d, load.Config{Rate: 100, Arrivals: 5, MaxInflight: 5, Duration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Annotate(res)
	sub := res.Subscriptions
	if res.Requests.OK != 5 || sub == nil || sub.Subscribers != 5 || sub.Published == 0 || sub.Expected != 5*sub.Published ||
		sub.Received != sub.Expected || sub.DeliveryRatio != 1 || sub.Drops != 0 {
		t.Fatalf("requests %+v subscriptions %+v", res.Requests, sub)
	}
	if res.Messages == nil || res.Messages.Received != sub.Received || res.MessageLatency == nil || res.Phases["handshake"].N != 5 {
		t.Fatalf("messages %+v latency %+v phases %+v", res.Messages, res.MessageLatency, res.Phases)
	}
	if res.Operations["anonymous"] == nil || res.Operations["anonymous"].Requests.OK != 5 {
		t.Fatalf("operations %+v", res.Operations)
	}
	if err := d.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// The publisher is an open model: against a server whose mutation takes
// 200 ms, 100/s over 0.5 s still sends all 50 mutations (a closed loop
// would send 3), never more than publishInflight at once, and the ones
// that waited for a free worker are counted late.
func TestPublisherPacedOpenModel(t *testing.T) {
	var inflight, peak atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		inflight.Add(-1)
		w.Write([]byte(`{"data":{"updateProduct":{"id":"1"}}}`))
	}))
	defer s.Close()
	d := newDriver(t, Options{URL: s.URL + "/graphql", Subscribers: 1,
		Query:       `subscription { productUpdated(id: 1) { emittedAt } }`,
		Publish:     `mutation { updateProduct(id: 1, input: {price: 10}) { id } }`,
		PublishRate: 100})
	p := d.sub.pub
	start := time.Now()
	p.paced(t.Context(), start, start.Add(500*time.Millisecond))
	if p.ok.Load() != 50 || p.errs.Load() != 0 {
		t.Fatalf("published %d ok, %d failed (%v), want 50 ok", p.ok.Load(), p.errs.Load(), p.errorKinds())
	}
	if got := peak.Load(); got > publishInflight {
		t.Fatalf("%d mutations in flight at once, want at most %d", got, publishInflight)
	}
	if p.late.Load() == 0 {
		t.Fatal("no send counted late, though 50 sends of 200 ms over 0.5 s need more than 16 in flight")
	}
	if inflight.Load() != 0 {
		t.Fatalf("paced returned with %d mutations in flight", inflight.Load())
	}
}
