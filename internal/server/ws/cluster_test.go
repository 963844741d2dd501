package ws

import (
	"fmt"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
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
	if in.Mode() != rediscache.ModeSpawned {
		t.Skip("needs redis-server on PATH to kill and restart")
	}
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
