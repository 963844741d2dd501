package gql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// wsClient is a GraphQL-over-WebSocket client on a real coder/websocket
// connection, speaking either subprotocol.
type wsClient struct {
	t     *testing.T
	c     *websocket.Conn
	proto string
	ctx   context.Context
}

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func (f *fixture) dialWS(proto string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(f.t.Context(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.url, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{proto}, HTTPHeader: hdr,
	})
}

// ws connects and completes connection_init with payload.
func (f *fixture) ws(proto string, payload map[string]any) *wsClient {
	f.t.Helper()
	c, _, err := f.dialWS(proto, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.CloseNow() })
	if c.Subprotocol() != proto {
		f.t.Fatalf("negotiated %q, want %q", c.Subprotocol(), proto)
	}
	w := &wsClient{t: f.t, c: c, proto: proto, ctx: f.t.Context()}
	p, _ := json.Marshal(payload)
	w.send(wsMsg{Type: "connection_init", Payload: p})
	if m := w.next(); m.Type != "connection_ack" {
		f.t.Fatalf("after connection_init: %+v", m)
	}
	return w
}

func (w *wsClient) send(m wsMsg) {
	w.t.Helper()
	if err := wsjson.Write(w.ctx, w.c, m); err != nil {
		w.t.Fatal(err)
	}
}

// next reads the next message that is not a keep-alive, within 10s.
func (w *wsClient) next() wsMsg {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	for {
		var m wsMsg
		if err := wsjson.Read(ctx, w.c, &m); err != nil {
			w.t.Fatalf("read: %v", err)
		}
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m
		}
	}
}

func (w *wsClient) subscribe(id, query string) {
	typ := "subscribe"
	if w.proto == "graphql-ws" {
		typ = "start"
	}
	p, _ := json.Marshal(map[string]any{"query": query})
	w.send(wsMsg{ID: id, Type: typ, Payload: p})
}

// event reads the next data message of subscription id and decodes it.
func (w *wsClient) event(id string, v any) {
	w.t.Helper()
	payload := w.raw(id)
	var p struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || len(p.Errors) > 0 {
		w.t.Fatalf("event payload %s: %v", payload, err)
	}
	if err := json.Unmarshal(p.Data, v); err != nil {
		w.t.Fatal(err)
	}
}

// waitSubs waits (bounded) until n subscriptions are active on the server:
// the point after which a write reaches them.
func (f *fixture) waitSubs(n int64) {
	f.t.Helper()
	for i := 0; i < 1000; i++ {
		sub := f.h.GraphQLStats()["subscriptions"].(map[string]any)
		if sub["active"].(int64) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("%d subscriptions never became active", n)
}

// TestSubscriptions runs every subscription over both subprotocols: a
// write through HTTP reaches the WebSocket subscribers through the broker,
// stamped with emittedAt (RFC 3339, ns).
func TestSubscriptions(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, stack.Config{Cache: "lru"}, nil)
			tok := f.login()
			w := f.ws(proto, map[string]any{"authorization": "Bearer " + tok})
			w.subscribe("p", `subscription { productUpdated(id: 5) { kind emittedAt product { id price } } }`)
			w.subscribe("r", `subscription { reviewAdded(productId: 5) { emittedAt review { productId text author { id } } } }`)
			w.subscribe("o", `subscription { orderUpdated { kind emittedAt order { userId items { productId } } } }`)
			f.waitSubs(3)

			before := time.Now()
			f.ok(request{Query: `mutation { updateProduct(id: 6, input: {price: 1}) { id } }`}, tok, nil) // not product 5: filtered out
			f.ok(request{Query: `mutation { updateProduct(id: 5, input: {price: 9.25}) { id } }`}, tok, nil)
			var pe struct {
				ProductUpdated struct {
					Kind, EmittedAt string
					Product         struct {
						ID    string
						Price float64
					}
				}
			}
			w.event("p", &pe)
			at, err := time.Parse(time.RFC3339Nano, pe.ProductUpdated.EmittedAt)
			if err != nil || at.Before(before.Add(-time.Second)) || pe.ProductUpdated.Product.ID != "5" || pe.ProductUpdated.Product.Price != 9.25 || pe.ProductUpdated.Kind != "product_updated" {
				t.Fatalf("productUpdated: %+v (%v)", pe, err)
			}

			f.ok(request{Query: `mutation { addReview(productId: 5, rating: 4, text: "live") { id } }`}, tok, nil)
			var re struct {
				ReviewAdded struct {
					EmittedAt string
					Review    struct {
						ProductID, Text string
						Author          struct{ ID string }
					}
				}
			}
			w.event("r", &re)
			if re.ReviewAdded.Review.Text != "live" || re.ReviewAdded.Review.Author.ID != "1" {
				t.Fatalf("reviewAdded: %+v", re)
			}

			f.ok(request{Query: `mutation { createOrder(items: [{productId: 5, quantity: 1}]) { id } }`}, tok, nil)
			var oe struct {
				OrderUpdated struct {
					Kind  string
					Order struct{ UserID string }
				}
			}
			w.event("o", &oe)
			if oe.OrderUpdated.Kind != "order_created" || oe.OrderUpdated.Order.UserID != "1" {
				t.Fatalf("orderUpdated: %+v", oe)
			}

			w.c.Close(websocket.StatusNormalClosure, "")
			for i := 0; i < 1000 && f.h.GraphQLStats()["subscriptions"].(map[string]any)["active"].(int64) != 0; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			if n := f.h.GraphQLStats()["subscriptions"].(map[string]any)["active"].(int64); n != 0 {
				t.Fatalf("subscriptions still active after close: %d", n)
			}
		})
	}
}

// TestSubscriptionNeedsAuth: orderUpdated without a credential in
// connection_init is an error, not a stream.
func TestSubscriptionNeedsAuth(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	w := f.ws("graphql-transport-ws", nil)
	w.subscribe("o", `subscription { orderUpdated { kind } }`)
	m := w.next()
	if !strings.Contains(string(m.Payload), gql.CodeUnauthenticated) {
		t.Fatalf("orderUpdated without auth: %+v %s", m, m.Payload)
	}
}

// TestWSReadLimit: a message over 64 KiB closes the connection (1009).
func TestWSReadLimit(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	w := f.ws("graphql-transport-ws", nil)
	p, _ := json.Marshal(map[string]any{"query": "{ product(id: 1) { id } }", "variables": map[string]string{"x": strings.Repeat("y", 70<<10)}})
	_ = wsjson.Write(w.ctx, w.c, wsMsg{ID: "1", Type: "subscribe", Payload: p})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = w.c.Read(ctx)
	}
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Fatalf("over the read limit: %v (close code %d), want 1009", err, code)
	}
}

// TestWSOrigin: a page from a foreign origin cannot open a WebSocket; one
// listed in Origins can.
func TestWSOrigin(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.Origins = []string{"app.example"} })
	_, res, err := f.dialWS("graphql-transport-ws", http.Header{"Origin": {"http://evil.example"}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		st := 0
		if res != nil {
			st = res.StatusCode
		}
		t.Fatalf("foreign origin: err %v status %d, want 403", err, st)
	}
	c, _, err := f.dialWS("graphql-transport-ws", http.Header{"Origin": {"http://app.example"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	c.CloseNow()
}

// TestWSQuery runs a plain query over the socket (graphql-transport-ws
// allows any operation).
func TestWSQuery(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	w := f.ws("graphql-transport-ws", nil)
	w.subscribe("q", `{ product(id: 2) { id } }`)
	var d struct{ Product struct{ ID string } }
	w.event("q", &d)
	if d.Product.ID != "2" {
		t.Fatalf("query over ws: %+v", d)
	}
	if m := w.next(); m.Type != "complete" {
		t.Fatalf("after the result: %+v", m)
	}
}
