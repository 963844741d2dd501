package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
)

// TestRedisRestartedEmptySeqsContinue: Redis stopped mid-test and started
// again empty. While it is away, messages are delivered on their node
// without a seq (they are in no log and cannot be replayed: no seq says
// so). When it is back, numbering continues above every seq a client
// holds — never from 1 again, which clients would skip as already seen —
// and resume gives exactly the numbered messages missed.
func TestRedisRestartedEmptySeqsContinue(t *testing.T) {
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
	for i := range 3 {
		a.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": fmt.Sprint("before", i)}})
		if e := a.expect(TypeAck); e.Seq != int64(i+1) {
			t.Fatalf("ack seq %d, want %d", e.Seq, i+1)
		}
		for _, c := range []*client{a2, b} {
			if e := c.expect(TypeMsg); e.Seq != int64(i+1) {
				t.Fatalf("seq %d, want %d", e.Seq, i+1)
			}
		}
	}
	// A late joiner on node 2: history 1..3, so it now skips seqs ≤ 3.
	late := n2.dial(t, "/ws/chat", 4)
	late.send(map[string]any{"type": "join", "room": "x"})
	late.expect(TypeAck)
	for i := range 3 {
		if e := late.expect(TypeMsg); e.Seq != int64(i+1) {
			t.Fatalf("history seq %d", e.Seq)
		}
	}

	in.Kill()
	for i := range 2 {
		a.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": fmt.Sprint("down", i)}})
		if e := a.expect(TypeAck); e.Seq != 0 {
			t.Fatalf("seq %d without a log", e.Seq)
		}
		if e := a2.expect(TypeMsg); e.Seq != 0 || text(e) != fmt.Sprint("down", i) {
			t.Fatalf("local delivery while Redis is down: %+v", e)
		}
	}
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Back (empty): node 1 posts until its message crosses to node 2; every
	// numbered ack is above 3 and consecutive.
	var acked []int64
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no numbered cross-node delivery 30s after Redis came back")
		}
		a.send(map[string]any{"type": "msg", "room": "x", "data": map[string]string{"text": fmt.Sprint("up", i)}})
		e := a.expect(TypeAck)
		if e.Seq == 0 {
			time.Sleep(50 * time.Millisecond) // the log is not reachable yet
			continue
		}
		if want := int64(4 + len(acked)); e.Seq != want {
			t.Fatalf("after the restart seq %d, want %d (numbering must continue)", e.Seq, want)
		}
		acked = append(acked, e.Seq)
		if got := drainUntilSeq(late, e.Seq, 300*time.Millisecond); got {
			break
		}
	}
	// The late joiner's floor (3) did not swallow the new numbering: it got
	// the last one live. Resume from 3 gives exactly 4..last, in order.
	r := n2.dial(t, "/ws/chat", 5)
	r.send(map[string]any{"type": "join", "room": "x"})
	r.expect(TypeAck)
	drainUntilSeq(r, acked[len(acked)-1], 10*time.Second) // history
	r.send(map[string]any{"type": "resume", "room": "x", "seq": 3})
	for _, want := range acked {
		if e := r.expect(TypeMsg); e.Seq != want {
			t.Fatalf("resume gave seq %d, want %d", e.Seq, want)
		}
	}
	r.quiet(200 * time.Millisecond)
}

// drainUntilSeq reads c's messages until one with seq arrives (true) or
// nothing more comes within d (false).
func drainUntilSeq(c *client, seq int64, d time.Duration) bool {
	c.t.Helper()
	for {
		select {
		case e, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection ended: %v", <-c.err)
			}
			<-c.raw
			if e.Type == TypeMsg && e.Seq == seq {
				return true
			}
		case <-time.After(d):
			return false
		}
	}
}

// wsEditor is a simClient over a real connection to one node.
type wsEditor struct {
	sim *simClient
	c   *client
}

// pump handles every frame that has arrived, without waiting.
func (ed *wsEditor) pump(t *testing.T) {
	t.Helper()
	for {
		select {
		case e, ok := <-ed.c.in:
			if !ok {
				t.Fatalf("editor connection ended: %v", <-ed.c.err)
			}
			<-ed.c.raw
			ed.handle(t, e)
		default:
			return
		}
	}
}

func (ed *wsEditor) handle(t *testing.T, e Envelope) {
	t.Helper()
	var od opData
	_ = json.Unmarshal(e.Data, &od)
	switch e.Type {
	case TypeOp:
		if od.Rev != ed.sim.rev+1 {
			t.Fatalf("op rev %d after %d", od.Rev, ed.sim.rev)
		}
		ed.sim.serverOp(Op{Pos: od.Pos, Ins: od.Insert, Del: od.Delete}, od.Rev)
	case TypeAck:
		ed.sim.ack(od.Rev)
	default:
		t.Fatalf("editor got %s %s", e.Type, e.Data)
	}
}

func (ed *wsEditor) sendNext() {
	if op, rev, ok := ed.sim.next(); ok {
		ed.c.send(map[string]any{"type": "op", "data": opData{Rev: rev, Pos: op.Pos, Insert: op.Ins, Delete: op.Del}})
	}
}

// TestDocsAcrossNodesConverge: seeded random editors, half on each of two
// nodes on one Redis, edit one document concurrently; every editor, and a
// joiner on each node, ends with the same text at the same revision. The
// nodes order the document through the Cluster (compare and set on the
// revision), so their concurrent appends conflict and are transformed
// again.
func TestDocsAcrossNodesConverge(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	n1, n2 := newNode(t, in, "n1", false), newNode(t, in, "n2", false)
	for seed := range uint64(3) {
		doc := fmt.Sprintf("/ws/docs/conv-%d", seed)
		r := rand.New(rand.NewPCG(seed, 11))
		eds := make([]*wsEditor, 4)
		for i := range eds {
			n := n1
			if i%2 == 1 {
				n = n2
			}
			eds[i] = &wsEditor{sim: &simClient{}, c: n.dial(t, doc, int64(i+1))}
			if e := eds[i].c.expect(TypeSnapshot); string(e.Data) != `{"rev":0,"text":""}` {
				t.Fatalf("snapshot %s", e.Data)
			}
		}
		for range 300 {
			ed := eds[r.IntN(len(eds))]
			switch r.IntN(3) {
			case 0:
				ed.sim.edit(r)
			case 1:
				ed.sendNext()
			default:
				ed.pump(t)
			}
		}
		// Drain: send what is buffered, until no editor has anything local.
		deadline := time.Now().Add(60 * time.Second)
		for anyLocalEd(eds) {
			if time.Now().After(deadline) {
				t.Fatal("editors did not drain within 60s")
			}
			for _, ed := range eds {
				ed.pump(t)
				ed.sendNext()
			}
			time.Sleep(time.Millisecond)
		}
		// Every editor reaches the document's revision and text.
		want := n1.dial(t, doc, 9).expect(TypeSnapshot)
		var snap snapshotData
		_ = json.Unmarshal(want.Data, &snap)
		if got := n2.dial(t, doc, 9).expect(TypeSnapshot); string(got.Data) != string(want.Data) {
			t.Fatalf("seed %d: node 2 snapshot %s, node 1 %s", seed, got.Data, want.Data)
		}
		for i, ed := range eds {
			for ed.sim.rev < snap.Rev {
				ed.handle(t, ed.c.next())
			}
			if string(ed.sim.text) != snap.Text || ed.sim.rev != snap.Rev {
				t.Fatalf("seed %d: editor %d has %q at %d, the document %q at %d", seed, i, string(ed.sim.text), ed.sim.rev, snap.Text, snap.Rev)
			}
		}
		if snap.Rev == 0 {
			t.Fatalf("seed %d: no edit applied", seed)
		}
	}
}

func anyLocalEd(eds []*wsEditor) bool {
	for _, ed := range eds {
		if ed.sim.outstanding || len(ed.sim.buffer) > 0 {
			return true
		}
	}
	return false
}

// presenceUsers joins room on n as user and returns the users of the
// presence frames that arrive before the join's ack.
func presenceUsers(t *testing.T, n *testServer, room string, user int64) (map[int64]bool, *client) {
	t.Helper()
	c := n.dial(t, "/ws/chat", user)
	c.send(map[string]any{"type": "join", "room": room})
	users := map[int64]bool{}
	for {
		e := c.next()
		switch e.Type {
		case TypeAck:
			return users, c
		case TypePresence:
			var p struct {
				UserID int64  `json:"user_id"`
				Status string `json:"status"`
			}
			_ = json.Unmarshal(e.Data, &p)
			if p.Status == "online" {
				users[p.UserID] = true
			}
		default:
			t.Fatalf("before the ack: %s %s", e.Type, e.Data)
		}
	}
}

// TestPresenceAcrossNodes: a joiner's presence list covers every node; a
// user connected on two nodes stays online when one connection leaves; a
// node that stops refreshing its entries (dead) drops out of the lists
// within the presence TTL.
func TestPresenceAcrossNodes(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	n1, n2 := newNode(t, in, "n1", false), newNode(t, in, "n2", false)
	_, a := presenceUsers(t, n1, "p", 1)
	users, b := presenceUsers(t, n2, "p", 2)
	if !users[1] || len(users) != 1 {
		t.Fatalf("joiner on node 2 saw %v, want user 1 from node 1", users)
	}
	// User 1 also on node 2: its node-1 connection leaving is no "offline".
	_, a2 := presenceUsers(t, n2, "p", 1)
	a.send(map[string]any{"type": "leave", "room": "p"})
	a.expect(TypeAck)
	a2.send(map[string]any{"type": "leave", "room": "p"})
	a2.expect(TypeAck)
	for {
		e := b.next()
		if e.Type != TypePresence {
			t.Fatalf("got %s", e.Type)
		}
		var p struct {
			UserID int64  `json:"user_id"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(e.Data, &p)
		if p.UserID == 1 && p.Status == "offline" {
			break // after the second leave only: the first was not offline
		}
	}
	if users, _ := presenceUsers(t, n1, "p", 3); users[1] || !users[2] {
		t.Fatalf("after user 1 left: %v", users)
	}

	// A node that died: its entry was added with a short TTL and is never
	// refreshed.
	bk, err := rediscache.Open(rediscache.Options{URL: in.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	dead := rediscache.NewCoord(bk, "t:", 0)
	if _, err := dead.PresenceAdd(t.Context(), topicRoomPrefix+"p", 500*time.Millisecond, "7@dead"); err != nil {
		t.Fatal(err)
	}
	// Past three times its TTL (by Redis's clock, which scores the entries)
	// the dead entry is gone, and it did not shorten the room's life: the
	// live user on node 2, known on node 1 from Redis only, is listed.
	time.Sleep(1500 * time.Millisecond)
	users, _ = presenceUsers(t, n1, "p", 99)
	if users[7] || !users[2] {
		t.Fatalf("after a dead node's entry lapsed: %v; want user 2 and not 7", users)
	}
}

// TestTickerOneLeaderAcrossNodes: with two nodes, one holds the ticker
// lease and ticks for both (one seq, --tick-rate once); when it stops, the
// other takes over and the numbering goes on.
func TestTickerOneLeaderAcrossNodes(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	tick := func(d *Options) { d.TickRate, d.LeaseTTL = 50, 6*time.Second }
	n1, n2 := newNode(t, in, "n1", false, tick), newNode(t, in, "n2", false, tick)
	c1, c2 := n1.dial(t, "/ws/ticker", 0), n2.dial(t, "/ws/ticker", 0)
	// The second client subscribed later: align on its first tick.
	e1, e2 := c1.expect(TypeTick), c2.expect(TypeTick)
	for e1.Seq < e2.Seq {
		e1 = c1.expect(TypeTick)
	}
	for e2.Seq < e1.Seq {
		e2 = c2.expect(TypeTick)
	}
	// Both clients get the same ticks, from one node, in seq order. (A tick
	// whose log append failed — Redis slower than its timeout on a loaded
	// machine — goes out without a seq.)
	last := e1.Seq
	for i := range 30 {
		e1, e2 := c1.expect(TypeTick), c2.expect(TypeTick)
		if e1.Seq != e2.Seq || string(e1.Data) != string(e2.Data) || (e1.Seq != 0 && e1.Seq <= last) {
			t.Fatalf("tick %d: seqs %d and %d after %d", i, e1.Seq, e2.Seq, last)
		}
		last = max(last, e1.Seq)
	}
	t1 := n1.Stats()["ws"].(map[string]any)["ticks"].(int64)
	t2 := n2.Stats()["ws"].(map[string]any)["ticks"].(int64)
	if (t1 == 0) == (t2 == 0) {
		t.Fatalf("ticks published: node 1 %d, node 2 %d; want one leader", t1, t2)
	}
	leader, follower, fc := n1, n2, c2
	if t2 > 0 {
		leader, follower, fc = n2, n1, c1
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := leader.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The follower takes over (the lease was released) and the seqs go on.
	deadline := time.Now().Add(30 * time.Second)
	for follower.Stats()["ws"].(map[string]any)["ticks"].(int64) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("no new ticker leader 30s after the leader stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 5 { // ticks the follower published, numbered after the leader's
		e := fc.expect(TypeTick)
		if e.Seq == 0 {
			continue
		}
		if e.Seq <= last {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
}

// TestDocsAcrossRedisRestart: with Redis gone an edit is refused (never
// applied on one node only, which would fork the text); when Redis comes
// back empty, the nodes put their copy back and edits go on in one order.
func TestDocsAcrossRedisRestart(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	redistest.RequireSpawned(t, in) // killed and restarted
	n1, n2 := newNode(t, in, "n1", false), newNode(t, in, "n2", false)
	a, b := n1.dial(t, "/ws/docs/r", 1), n2.dial(t, "/ws/docs/r", 2)
	a.expect(TypeSnapshot)
	b.expect(TypeSnapshot)
	a.send(map[string]any{"type": "op", "id": "a1", "data": map[string]any{"rev": 0, "pos": 0, "insert": "hello"}})
	if e := a.expect(TypeAck); string(e.Data) != `{"rev":1}` {
		t.Fatalf("ack %s", e.Data)
	}
	if e := b.expect(TypeOp); string(e.Data) != `{"rev":1,"pos":0,"insert":"hello"}` {
		t.Fatalf("op on node 2: %s", e.Data)
	}

	in.Kill()
	a.send(map[string]any{"type": "op", "id": "a2", "data": map[string]any{"rev": 1, "pos": 5, "insert": "!"}})
	if e := a.expect(TypeError); errCode(e) != CodeConflict || string(e.ID) != `"a2"` {
		t.Fatalf("edit with Redis gone: %s %s", e.Type, e.Data)
	}
	if err := in.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no edit accepted 30s after Redis came back")
		}
		a.send(map[string]any{"type": "op", "id": i, "data": map[string]any{"rev": 1, "pos": 5, "insert": "!"}})
		e := a.next()
		if e.Type == TypeAck {
			if string(e.Data) != `{"rev":2}` {
				t.Fatalf("ack after the restart %s", e.Data)
			}
			break
		}
		if e.Type != TypeError || errCode(e) != CodeConflict {
			t.Fatalf("got %s %s", e.Type, e.Data)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if e := b.expect(TypeOp); string(e.Data) != `{"rev":2,"pos":5,"insert":"!"}` {
		t.Fatalf("op on node 2 after the restart: %s", e.Data)
	}
	for _, n := range []*testServer{n1, n2} {
		if e := n.dial(t, "/ws/docs/r", 3).expect(TypeSnapshot); string(e.Data) != `{"rev":2,"text":"hello!"}` {
			t.Fatalf("snapshot after the restart: %s", e.Data)
		}
	}
}
