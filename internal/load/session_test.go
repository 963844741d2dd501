package load

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// echoSession is a fake held session: it holds (Op.Hold), sends a message
// every interval (first after offset) with a Pacer, and a fake server
// answers each after rtt; replies are matched by id through an Inflight and
// timed from the intended send. At Closing it stops sending, waits for the
// replies still due, and returns OK. ignoreClose makes it wait for its
// context instead.
func echoSession(offset, interval, rtt time.Duration, ignoreClose bool) *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		op.Hold()
		if ignoreClose {
			<-ctx.Done()
			return Outcome{Err: metrics.ErrOther}
		}
		p := NewPacer(time.Now().Add(offset), interval)
		defer p.Stop()
		in := NewInflight(0)
		var replies sync.WaitGroup
		for {
			at, ok := p.Next(ctx, op.Closing())
			if !ok {
				break
			}
			id, _ := in.Add(at)
			op.MessageSent(1)
			replies.Add(1)
			time.AfterFunc(rtt, func() { // the server's echo
				defer replies.Done()
				if t, ok := in.Take(id); ok {
					op.MessageSince(t, time.Now())
				}
			})
		}
		replies.Wait()
		for range in.Reset() {
			op.MessageError(ErrNoReply)
		}
		return Outcome{}
	}}
}

// TestSoftStopClosesHeldSessions: five sessions arrive at 10/s and are held
// for a 2 s run with a 100 ms operation timeout. The run's end tells them to
// close; they do, and nothing is a timeout or canceled. Messages, their
// latency and the timeline's message columns come out exactly.
func TestSoftStopClosesHeldSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := echoSession(5*time.Millisecond, 10*time.Millisecond, 2*time.Millisecond, false)
		start := time.Now()
		res := run(t, t.Context(), d, Config{Rate: 10, Arrivals: 5, Duration: 2 * time.Second, Timeout: 100 * time.Millisecond})
		if el := time.Since(start); el != 2*time.Second {
			t.Errorf("run took %v, want exactly the 2s duration", el)
		}
		if res.StopReason != metrics.StopDuration || res.Requests.Total != 5 || res.Requests.OK != 5 {
			t.Fatalf("stop %q requests %+v, want 5 sessions ok at a duration stop", res.StopReason, res.Requests)
		}
		// Session i arrived at i×100 ms and sent at +5 ms, +15 ms, ...
		// until 2 s: 200−10i messages.
		if m := res.Messages; m == nil || m.Sent != 900 || m.Received != 900 || m.Errors != 0 {
			t.Fatalf("messages %+v, want 900 sent and received", res.Messages)
		}
		ml := res.MessageLatency
		if ml.N != 900 || ml.Min != 2000 || ml.Max != 2000 {
			t.Fatalf("message latency %+v, want every message at 2 ms", ml)
		}
		// A session's latency is its length: the last arrived at 400 ms.
		equiv(t, "shortest session", res.Latency.Min, 1600*time.Millisecond)
		equiv(t, "longest session", res.Latency.Max, 2000*time.Millisecond)
		if len(res.Timeline) != 2 {
			t.Fatalf("timeline %+v, want 2 points", res.Timeline)
		}
		p := res.Timeline[1]
		if p.MsgSentRPS != 500 || p.MsgReceivedRPS != 500 || p.MsgErrors != 0 || p.MsgP50US != 2000 || p.MsgP99US != 2000 {
			t.Errorf("second point %+v, want 500 messages/s each way at 2 ms", p)
		}
		if res.Generator.Saturated {
			t.Errorf("generator note %q: an arrivals cap is not a backlog", res.Generator.Note)
		}
		if p0 := res.Timeline[0]; p0.OfferedRPS != 5 {
			t.Errorf("first point offered %v/s, want the 5 arrivals", p0.OfferedRPS)
		}
	})
}

// TestSoftStopCutsSessionsThatDoNotClose: a held session that ignores
// Closing is canceled Grace after the stop and counted as canceled, never
// as a timeout.
func TestSoftStopCutsSessionsThatDoNotClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := echoSession(0, 0, 0, true)
		start := time.Now()
		res := run(t, t.Context(), d, Config{Rate: 10, Arrivals: 3, Duration: time.Second, Timeout: 50 * time.Millisecond, Grace: 300 * time.Millisecond})
		if el := time.Since(start); el != 1300*time.Millisecond {
			t.Errorf("run took %v, want the duration plus the grace", el)
		}
		if res.StopReason != metrics.StopDuration || res.Requests.ErrorsByKind["canceled"] != 3 || res.Requests.ErrorsByKind["timeout"] != 0 {
			t.Fatalf("stop %q requests %+v, want 3 canceled sessions", res.StopReason, res.Requests)
		}
	})
}

// TestHoldClearsDeadline: before Hold the operation has its timeout's
// deadline, after it none; the next operation on the worker has one again.
func TestHoldClearsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []bool
		d := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			_, before := ctx.Deadline()
			if op.Seq() == 0 {
				op.Hold()
			}
			_, after := ctx.Deadline()
			mu.Lock()
			got = append(got, before, after)
			mu.Unlock()
			return Outcome{Err: sleep(ctx, 100*time.Millisecond)}
		}}
		res := run(t, t.Context(), d, Config{Concurrency: 1, Requests: 2, Timeout: 50 * time.Millisecond})
		if want := []bool{true, false, true, true}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
			t.Fatalf("deadline before/after Hold = %v, want %v", got, want)
		}
		if res.Requests.OK != 1 || res.Requests.ErrorsByKind["timeout"] != 1 {
			t.Fatalf("requests %+v: the held op outlives the timeout, the next times out", res.Requests)
		}
	})
}

// TestClosingOnInterrupt: an interrupt closes Closing too; a session that
// closes then is a success.
func TestClosingOnInterrupt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(255*time.Millisecond, cancel)
		d := echoSession(0, 10*time.Millisecond, time.Millisecond, false)
		res := run(t, ctx, d, Config{Concurrency: 2, Duration: time.Hour})
		if res.StopReason != metrics.StopInterrupted || res.Requests.OK != 2 || res.Requests.Errors != 0 {
			t.Fatalf("stop %q requests %+v messages %+v latency %+v", res.StopReason, res.Requests, res.Messages, res.Latency)
		}
		if res.Messages.Sent != 52 || res.Messages.Received != 52 {
			t.Fatalf("messages %+v, want 26 per session (0, 10, ... 250 ms)", res.Messages)
		}
	})
}

// TestMessageErrorsCounted: messages failing on their own are counted by
// kind in the result and the timeline, apart from the sessions' outcome.
func TestMessageErrorsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			op.MessageSent(3)
			op.MessageSince(time.Now().Add(-time.Millisecond), time.Now())
			op.MessageError(ErrNoReply)
			op.MessageError("error_reply")
			return Outcome{Err: sleep(ctx, 10*time.Millisecond)}
		}}
		res := run(t, t.Context(), d, Config{Rate: 10, Duration: time.Second})
		m := res.Messages
		if m == nil || m.Sent != 30 || m.Received != 10 || m.Errors != 20 || m.ErrorsByKind["no_reply"] != 10 || m.ErrorsByKind["error_reply"] != 10 {
			t.Fatalf("messages %+v", m)
		}
		if res.Requests.OK != 10 || res.Timeline[0].MsgErrors != 20 {
			t.Fatalf("requests %+v timeline %+v", res.Requests, res.Timeline)
		}
	})
}

// TestPacerFromIntendedTimes: a sender whose 11th write stalls 50 ms. The
// messages that fell due during the stall go out at once when it ends (none
// skipped), and their latency, counted from when each was due, carries the
// wait: 51, 41, 31, 21, 11 ms for a 1 ms echo. Timed from the actual send
// every message would show 1 ms and the stall would vanish.
func TestPacerFromIntendedTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sk recSink
		op := NewOp(0, &sk)
		var mu sync.Mutex
		lat := make([]time.Duration, 20) // by message
		start := time.Now()
		p := NewPacer(start, 10*time.Millisecond)
		in := NewInflight(0)
		var wg sync.WaitGroup
		var due []time.Duration
		for i := range 20 {
			at, ok := p.Next(t.Context(), nil)
			if !ok {
				t.Fatal("pacer stopped")
			}
			due = append(due, at.Sub(start))
			if i == 10 {
				time.Sleep(50 * time.Millisecond) // the write stalls
			}
			id, lost := in.Add(at)
			if lost || id != uint64(i) {
				t.Fatalf("id %d lost %v", id, lost)
			}
			wg.Add(1)
			time.AfterFunc(time.Millisecond, func() {
				defer wg.Done()
				t, _ := in.Take(id)
				now := time.Now()
				op.MessageSince(t, now)
				mu.Lock()
				lat[id] = now.Sub(t)
				mu.Unlock()
			})
		}
		wg.Wait()
		for i, d := range due {
			if d != time.Duration(i)*10*time.Millisecond {
				t.Fatalf("message %d due at %v", i, d)
			}
		}
		want := map[int]time.Duration{10: 51, 11: 41, 12: 31, 13: 21, 14: 11}
		for i, l := range lat {
			w := time.Millisecond
			if ms, ok := want[i]; ok {
				w = ms * time.Millisecond
			}
			if l != w {
				t.Errorf("message %d latency %v, want %v", i, l, w)
			}
		}
		if len(sk.lat) != 20 || p.Late() != 4 || p.Sent() != 20 {
			t.Fatalf("%d latencies, %d late, %d sent; want 20, 4 (due during the stall), 20", len(sk.lat), p.Late(), p.Sent())
		}
		// Stop ends the wait at once and hands out nothing more.
		stop := make(chan struct{})
		time.AfterFunc(3*time.Millisecond, func() { close(stop) })
		before := time.Now()
		if _, ok := p.Next(t.Context(), stop); ok || time.Since(before) != 3*time.Millisecond {
			t.Fatalf("Next after stop: ok %v after %v", ok, time.Since(before))
		}
		if _, ok := p.Next(t.Context(), stop); ok {
			t.Fatal("Next handed out a message after stop")
		}
	})
}

// TestPacerBackToBack: interval 0 has no schedule: the reference is the
// moment of each send.
func TestPacerBackToBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(time.Now(), 0)
		a, _ := p.Next(t.Context(), nil)
		time.Sleep(7 * time.Millisecond)
		b, _ := p.Next(t.Context(), nil)
		if b.Sub(a) != 7*time.Millisecond || p.Late() != 0 {
			t.Fatalf("back-to-back references %v apart, late %d", b.Sub(a), p.Late())
		}
	})
}

func TestInflight(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	f := NewInflight(4)
	for i := range 4 {
		if id, lost := f.Add(at(i)); id != uint64(i) || lost {
			t.Fatalf("Add %d = %d, %v", i, id, lost)
		}
	}
	// By id, out of order; a duplicate or unknown id matches nothing.
	if tm, ok := f.Take(2); !ok || !tm.Equal(at(2)) {
		t.Fatalf("Take(2) = %v, %v", tm, ok)
	}
	if _, ok := f.Take(2); ok {
		t.Fatal("a duplicate reply matched")
	}
	if _, ok := f.Take(9); ok {
		t.Fatal("an id never sent matched")
	}
	// The window holds 4: the 5th Add gives up the oldest (id 0); ids 1 and
	// 3 remain, then 4.
	if id, lost := f.Add(at(4)); id != 4 || !lost {
		t.Fatalf("Add over the window = %d, lost %v", id, lost)
	}
	if _, ok := f.Take(0); ok {
		t.Fatal("a given-up message matched")
	}
	if f.Pending() != 3 {
		t.Fatalf("pending %d, want 3", f.Pending())
	}
	// The window spans ids: id 5 gives up id 1, unanswered four messages
	// later, but 2 (answered) is no loss when the window moves past it.
	if _, lost := f.Add(at(5)); !lost {
		t.Fatal("Add gave up nothing")
	}
	if _, lost := f.Add(at(6)); lost {
		t.Fatal("Add reported an answered message lost")
	}
	// FIFO: oldest first.
	for _, want := range []int{3, 4, 5, 6} {
		if tm, ok := f.TakeOldest(); !ok || !tm.Equal(at(want)) {
			t.Fatalf("TakeOldest = %v, %v; want message %d", tm, ok, want)
		}
	}
	if _, ok := f.TakeOldest(); ok || f.Pending() != 0 {
		t.Fatal("TakeOldest on an empty Inflight")
	}
	f.Add(at(7))
	f.Add(at(8))
	if n := f.Reset(); n != 2 || f.Pending() != 0 {
		t.Fatalf("Reset gave up %d, pending %d", n, f.Pending())
	}
	if id, _ := f.Add(at(9)); id != 9 {
		t.Fatalf("ids restart after Reset: %d", id)
	}
}

func TestArrivalsValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Concurrency: 2, Arrivals: 2, Duration: time.Second}, "open model"},
		{Config{Rate: 2, Arrivals: 2, Requests: 5}, "use one"},
		{Config{Rate: 2, Arrivals: -1, Duration: time.Second}, "negative"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// recSink records message latencies in arrival order.
type recSink struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (s *recSink) MessageSent(int) {}
func (s *recSink) MessageReceived(d time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
}
func (s *recSink) Phase(Phase, time.Duration) {}
