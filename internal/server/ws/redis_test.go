package ws

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/domain"
)

// startRedis spawns a redis-server of the test's own (so it can be killed
// without disturbing parallel tests).
func startRedis(t *testing.T) *rediscache.Instance {
	t.Helper()
	in, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	if in.Mode() != rediscache.ModeSpawned {
		t.Logf("redis mode %s (no redis-server on PATH)", in.Mode())
	}
	return in
}

// node is one server of a scale-out pair: its own Feed and hub, a relay
// and a replay log on the shared Redis.
func newNode(t *testing.T, in *rediscache.Instance, name string, sharded bool, mods ...func(*Options)) *testServer {
	t.Helper()
	b, err := rediscache.Open(rediscache.Options{URL: in.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	feed := domain.NewFeed()
	relay := rediscache.NewRelay(b, rediscache.RelayOptions{Prefix: "t:", Sharded: sharded, Deliver: feed.Receive})
	t.Cleanup(func() { relay.Close() })
	feed.SetRelay(name, relay)
	return newTestServer(t, func(d *Options) {
		d.Feed, d.Node, d.Watch, d.RelayErrors = feed, name, relay.Watch, relay.Errors
		d.Log = RedisLog{L: rediscache.NewEventLog(b, "t:", 1000).WithRelay(relay)}
		d.Cluster = RedisCluster{C: rediscache.NewCoord(b, "t:", 0)}
		for _, m := range mods {
			m(d)
		}
	})
}

func TestScaleOutRedis(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			t.Parallel()
			in := startRedis(t)
			n1, n2 := newNode(t, in, "n1", sharded), newNode(t, in, "n2", sharded)
			a := n1.dial(t, "/ws/chat", 1)
			a2 := n2.dial(t, "/ws/chat", 1) // user 1 on both nodes
			b := n2.dial(t, "/ws/chat", 2)
			for _, c := range []*client{a, a2, b} {
				c.send(map[string]any{"type": "join", "room": "x"})
				c.expect(TypeAck)
			}
			time.Sleep(200 * time.Millisecond) // sharded: SSUBSCRIBE of the new channels settles
			// A message on node 1 reaches node 2's members once, with one seq.
			a.send(map[string]any{"type": "msg", "id": 1, "room": "x", "data": map[string]string{"text": "across"}})
			if e := a.expect(TypeAck); e.Seq != 1 {
				t.Fatalf("ack %+v", e)
			}
			for _, c := range []*client{b, a2} {
				if e := c.expect(TypeMsg); e.Seq != 1 || text(e) != "across" {
					t.Fatalf("relayed msg %+v", e)
				}
			}
			// Seqs are global: node 2's next message is 2.
			b.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": "back"}})
			if e := b.expect(TypeAck); e.Seq != 2 {
				t.Fatalf("node 2 ack %+v", e)
			}
			for _, c := range []*client{a, a2} {
				if e := c.expect(TypeMsg); e.Seq != 2 || text(e) != "back" {
					t.Fatalf("got %+v", e)
				}
			}
			// A pm reaches every connection of the user on any node, once.
			b.send(map[string]any{"type": "pm", "to": 1, "data": map[string]string{"text": "hi"}})
			b.expect(TypeAck)
			for _, c := range []*client{a, a2} {
				if e := c.expect(TypePM); text(e) != "hi" {
					t.Fatalf("pm %+v", e)
				}
			}
			// Presence crosses nodes.
			c := n1.dial(t, "/ws/chat", 3)
			c.send(map[string]any{"type": "join", "room": "x"})
			c.expect(TypeAck)
			for {
				e := b.next()
				if e.Type == TypePresence && strings.Contains(string(e.Data), `"user_id":3,"status":"online"`) {
					break
				}
			}
			// Nothing twice.
			for _, cl := range []*client{a, a2, b} {
				cl.quiet(200 * time.Millisecond)
			}
			// History on join comes from the shared log.
			d := n2.dial(t, "/ws/chat", 4)
			d.send(map[string]any{"type": "join", "room": "x"})
			d.expect(TypeAck)
			if e1, e2 := d.expect(TypeMsg), d.expect(TypeMsg); e1.Seq != 1 || e2.Seq != 2 {
				t.Fatalf("history %d %d", e1.Seq, e2.Seq)
			}
			for _, n := range []*testServer{n1, n2} {
				if errs := n.Stats()["ws"].(map[string]any)["redis"].(map[string]any)["errors"].(int64); errs != 0 {
					t.Fatalf("%d redis errors against a healthy Redis", errs)
				}
			}
		})
	}
}

func TestRedisLostAndBack(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	redistest.RequireSpawned(t, in) // killed and restarted
	n1, n2 := newNode(t, in, "n1", false), newNode(t, in, "n2", false)
	a := n1.dial(t, "/ws/chat", 1)
	a2 := n1.dial(t, "/ws/chat", 2)
	b := n2.dial(t, "/ws/chat", 3)
	for _, c := range []*client{a, a2, b} {
		c.send(map[string]any{"type": "join", "room": "x"})
		c.expect(TypeAck)
	}
	in.Kill()
	// Local delivery goes on; the cross-node failures are counted.
	for i := range 3 {
		a.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": fmt.Sprint("down", i)}})
		if e := a.expect(TypeAck); e.Seq != 0 {
			t.Fatalf("seq %d without a log", e.Seq)
		}
		if e := a2.expect(TypeMsg); text(e) != fmt.Sprint("down", i) {
			t.Fatalf("local delivery %+v", e)
		}
	}
	b.quiet(300 * time.Millisecond)
	errs := n1.Stats()["ws"].(map[string]any)["redis"].(map[string]any)["errors"].(int64)
	if errs == 0 {
		t.Fatal("no redis errors counted while Redis was down")
	}
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Recovery: the relay subscribes again by itself.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		a.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": fmt.Sprint("up", i)}})
		a.expect(TypeAck)
		got := false
		select {
		case e := <-b.in:
			<-b.raw
			got = e.Type == TypeMsg && strings.HasPrefix(text(e), "up")
		case <-time.After(300 * time.Millisecond):
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cross-node delivery 20s after Redis came back")
		}
	}
}
