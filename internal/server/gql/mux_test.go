package gql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// subStats is /stats' graphql.subscriptions.
func (f *fixture) subStats() (active, executions int64) {
	sub := f.h.GraphQLStats()["subscriptions"].(map[string]any)
	return sub["active"].(int64), sub["executions"].(int64)
}

// waitSubState waits (bounded: a hang guard, not a speed assertion) until
// the server has active subscribers on executions shared executions and
// the broker holds executions subscriptions.
func (f *fixture) waitSubState(active, executions int64) {
	f.t.Helper()
	var a, x, b int64
	for range 2000 {
		a, x = f.subStats()
		b = f.st.Feed.Stats().Subscribers
		if a == active && x == executions && b == executions {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.t.Fatalf("subscriptions: %d active on %d executions (broker %d), want %d on %d", a, x, b, active, executions)
}

// subscribeVars subscribes id to query with variables.
func (w *wsClient) subscribeVars(id, query string, vars map[string]any) {
	w.t.Helper()
	typ := "subscribe"
	if w.proto == "graphql-ws" {
		typ = "start"
	}
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	w.send(wsMsg{ID: id, Type: typ, Payload: p})
}

// stop ends subscription id (complete, or legacy stop).
func (w *wsClient) stop(id string) {
	w.t.Helper()
	typ := "complete"
	if w.proto == "graphql-ws" {
		typ = "stop"
	}
	w.send(wsMsg{ID: id, Type: typ})
}

// raw reads the next data message and checks it belongs to id.
func (w *wsClient) raw(id string) json.RawMessage {
	w.t.Helper()
	m := w.next()
	want := "next"
	if w.proto == "graphql-ws" {
		want = "data"
	}
	if m.Type != want || m.ID != id {
		w.t.Fatalf("want %s for %q, got %+v (%s)", want, id, m, m.Payload)
	}
	return m.Payload
}

// rawAll reads one data message for each of ids, in any order (the
// subscriptions of one connection are written by goroutines of their own).
func (w *wsClient) rawAll(ids ...string) map[string]json.RawMessage {
	w.t.Helper()
	want := "next"
	if w.proto == "graphql-ws" {
		want = "data"
	}
	out := map[string]json.RawMessage{}
	for len(out) < len(ids) {
		m := w.next()
		if m.Type != want || !slices.Contains(ids, m.ID) || out[m.ID] != nil {
			w.t.Fatalf("want %s for %q, got %+v (%s)", want, ids, m, m.Payload)
		}
		out[m.ID] = m.Payload
	}
	return out
}

const muxDoc = `subscription S($id: ID) { productUpdated(id: $id) { kind emittedAt product { id price version } } }`

// TestMuxSharedExecution: subscribers of one document, operation,
// variables and viewer share one execution (one broker subscription) and
// get byte-identical payloads, each under its own id, over both
// subprotocols; other variables and other viewers get executions of their
// own; a subscriber leaving does not end the others; the last one leaving
// ends the execution and its broker subscription.
func TestMuxSharedExecution(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, stack.Config{Cache: "lru"}, nil)
			tok := f.login()
			five := map[string]any{"id": 5}
			// Three connections, anonymous, one of them with two
			// subscriptions of the same operation: one execution.
			a, b := f.ws(proto, nil), f.ws(proto, nil)
			a.subscribeVars("a1", muxDoc, five)
			a.subscribeVars("a2", muxDoc, five)
			b.subscribeVars("b", muxDoc, five)
			// Another value of the variable, and another viewer: their own.
			other := f.ws(proto, nil)
			other.subscribeVars("six", muxDoc, map[string]any{"id": 6})
			user := f.ws(proto, map[string]any{"authorization": "Bearer " + tok})
			user.subscribeVars("u", muxDoc, five)
			f.waitSubState(5, 3)

			f.ok(request{Query: `mutation { updateProduct(id: 5, input: {price: 7.5}) { id } }`}, tok, nil)
			pa := a.rawAll("a1", "a2")
			pa1, pa2, pb, pu := pa["a1"], pa["a2"], b.raw("b"), user.raw("u")
			if !bytes.Equal(pa1, pa2) || !bytes.Equal(pa1, pb) || !bytes.Equal(pa1, pu) {
				t.Fatalf("payloads differ:\n%s\n%s\n%s\n%s", pa1, pa2, pb, pu)
			}
			if !strings.Contains(string(pa1), `"price":7.5`) || !strings.Contains(string(pa1), `"loadrig":{`) {
				t.Fatalf("payload %s", pa1)
			}
			f.ok(request{Query: `mutation { updateProduct(id: 6, input: {price: 3}) { id } }`}, tok, nil)
			if p := other.raw("six"); !strings.Contains(string(p), `"id":"6"`) {
				t.Fatalf("id 6: %s", p)
			}

			// One of the shared subscribers leaves; the others go on.
			a.stop("a1")
			// gqlgen acknowledges a client's complete (stop) with complete.
			if m := a.next(); m.Type != "complete" || m.ID != "a1" {
				t.Fatalf("after %s: %+v", proto, m)
			}
			f.waitSubState(4, 3)
			f.ok(request{Query: `mutation { updateProduct(id: 5, input: {price: 8.5}) { id } }`}, tok, nil)
			for _, c := range []struct {
				w  *wsClient
				id string
			}{{a, "a2"}, {b, "b"}, {user, "u"}} {
				if p := c.w.raw(c.id); !strings.Contains(string(p), `"price":8.5`) {
					t.Fatalf("%s after a1 left: %s", c.id, p)
				}
			}

			// The rest leave: every execution ends, nothing stays subscribed.
			a.c.CloseNow()
			b.c.CloseNow()
			f.waitSubState(2, 2)
			other.c.CloseNow()
			user.c.CloseNow()
			f.waitSubState(0, 0)

			// A new subscriber after that starts a new execution.
			c := f.ws(proto, nil)
			c.subscribeVars("c", muxDoc, five)
			f.waitSubState(1, 1)
			f.ok(request{Query: `mutation { updateProduct(id: 5, input: {price: 9.5}) { id } }`}, tok, nil)
			if p := c.raw("c"); !strings.Contains(string(p), `"price":9.5`) {
				t.Fatalf("after restart: %s", p)
			}
		})
	}
}

// TestMuxViewersNotMerged: orderUpdated streams the viewer's own orders;
// two users subscribed with the same document get an execution each, and
// neither sees the other's order.
func TestMuxViewersNotMerged(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, stack.Config{}, nil)
			tok1 := f.login()
			t2, err := f.st.Auth.Issue(context.Background(), 2)
			if err != nil {
				t.Fatal(err)
			}
			tok2 := t2.Value
			const doc = `subscription { orderUpdated { kind order { userId } } }`
			w1 := f.ws(proto, map[string]any{"authorization": "Bearer " + tok1})
			w2 := f.ws(proto, map[string]any{"authorization": "Bearer " + tok2})
			w1b := f.ws(proto, map[string]any{"authorization": "Bearer " + tok1})
			w1.subscribe("o", doc)
			w2.subscribe("o", doc)
			w1b.subscribe("o", doc)
			f.waitSubState(3, 2)
			order := `mutation { createOrder(items: [{productId: 3, quantity: 1}]) { id } }`
			f.ok(request{Query: order}, tok2, nil)
			f.ok(request{Query: order}, tok1, nil)
			// user1's two connections see user1's order first: user2's
			// never reached them.
			for _, w := range []*wsClient{w1, w1b} {
				if p := w.raw("o"); !strings.Contains(string(p), `"userId":"1"`) {
					t.Fatalf("user1 got %s", p)
				}
			}
			if p := w2.raw("o"); !strings.Contains(string(p), `"userId":"2"`) {
				t.Fatalf("user2 got %s", p)
			}
		})
	}
}

// TestMuxOff: with NoMultiplex every subscription has its own execution,
// as gqlgen runs them.
func TestMuxOff(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.NoMultiplex = true })
	w := f.ws("graphql-transport-ws", nil)
	w.subscribeVars("1", muxDoc, map[string]any{"id": 5})
	w.subscribeVars("2", muxDoc, map[string]any{"id": 5})
	f.waitSubState(2, 2)
	if m, _ := f.h.GraphQLStats()["subscriptions"].(map[string]any)["multiplexed"].(bool); m {
		t.Fatal("multiplexed with NoMultiplex")
	}
	w.c.CloseNow()
	f.waitSubState(0, 0)
}
