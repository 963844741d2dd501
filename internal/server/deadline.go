package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// Deadlines, set when they can matter. net/http moves a connection's
// deadlines several times per request when the server has timeouts: the
// read deadline to the whole-request bound, off for the background read,
// to the past to stop that read, off again, to the idle bound, to the
// header bound; the write deadline to the write bound and off again. Each
// move is a timer operation in the runtime (and its clock read), and
// together they cost about a microsecond per request here — while on a
// keep-alive connection under load almost every read and write completes
// at once, without waiting, so almost none of those deadlines is ever
// looked at.
//
// A lazyDeadline records what was asked and hands it to the poller only
// when an operation is about to wait (or is waiting: a move while an
// operation waits applies at once, so a deadline set in the past still
// interrupts a blocked read). What a deadline protects against is the
// wait: a peer that sends too slowly (slowloris, a stalled body), one that
// does not read its responses, one idle too long; those all wait, so each
// meets the deadline it would have met. The one difference: an operation
// that can complete at once completes, even after its deadline passed
// (net.Conn would fail it) — except a deadline before the process
// started, net/http's way of interrupting a read, which fails at once as
// before.

// lazyDeadline is one direction's (read or write) deadline of a
// connection.
type lazyDeadline struct {
	mu     sync.Mutex
	want   time.Time // what was asked last
	armed  time.Time // what the poller has
	parked bool      // an operation waits in the poller with armed
	// interrupt is want.Before(monoEpoch): an operation fails at once.
	interrupt atomic.Bool
	set       func(time.Time) error // the connection's own Set*Deadline
}

// request records t as the deadline; an operation waiting now gets it at
// once.
func (d *lazyDeadline) request(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.want = t
	d.interrupt.Store(!t.IsZero() && t.Before(monoEpoch))
	if d.parked && !t.Equal(d.armed) {
		d.armed = t
		return d.set(t)
	}
	return nil
}

// park is called by an operation about to wait in the poller: the
// poller's deadline becomes the one asked last.
func (d *lazyDeadline) park() {
	d.mu.Lock()
	d.parked = true
	if !d.want.Equal(d.armed) {
		d.armed = d.want
		_ = d.set(d.want) // fails only on a closed connection; the wait says so
	}
	d.mu.Unlock()
}

// unpark is called when the operation that parked has returned.
func (d *lazyDeadline) unpark() {
	d.mu.Lock()
	d.parked = false
	d.mu.Unlock()
}

// rearm is called when the poller refused an operation because its
// deadline passed: when a later deadline was asked since, the poller gets
// it and the operation is retried (true); otherwise the deadline really
// passed.
func (d *lazyDeadline) rearm() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.want.Equal(d.armed) {
		return false
	}
	d.armed = d.want
	_ = d.set(d.want)
	return true
}
