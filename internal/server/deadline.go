package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Deadlines, kept by a watchdog. net/http moves a connection's deadlines
// eight times per request when the server has timeouts: the read deadline
// to the header bound, the whole-request bound, off for the background
// read, to the past to stop that read, off again, to the idle bound; the
// write deadline to the write bound and off again. On a net.Conn each move
// is a timer operation in the runtime's poller; and the wrapper that
// before this deferred them until an operation was about to wait (a
// mutex per move, every read and write through syscall.RawConn) still
// cost more than a bare handler's whole connection handling.
//
// A watchConn only records the deadline asked for (one atomic store) and
// marks each read and write as in progress while it runs (two). Its
// listener's watchdog looks at the connections every tick (deadlineTick)
// and interrupts an operation in progress whose deadline has passed, by
// giving the connection a deadline in the past. What a deadline protects
// against is a wait: a peer that sends too slowly (slowloris, a stalled
// body), one that does not read its responses, one idle too long; each
// meets its deadline at most a tick late, and never early (the watchdog
// and the operation both compare the deadline with the clock). A deadline
// set while an operation is in progress, or one before the process
// started (net/http's way of interrupting a read), takes effect at once,
// as a net.Conn's does. The one difference: an operation that can
// complete at once, without waiting, completes even after its deadline
// passed.

// deadlineTick is the watchdog's period, the most a deadline is enforced
// late; a listener whose timeouts are short ticks faster (watchTick).
const deadlineTick = 25 * time.Millisecond

// watchTick is the watchdog period for timeouts as short as shortest: a
// tenth of it, within [1ms, deadlineTick].
func watchTick(shortest time.Duration) time.Duration {
	return min(max(shortest/10, time.Millisecond), deadlineTick)
}

// aLongTimeAgo is a deadline that has passed: it interrupts at once.
var aLongTimeAgo = time.Unix(1, 0)

// watchdog enforces the deadlines of one listener's connections. The zero
// value ticks every deadlineTick.
type watchdog struct {
	tick    time.Duration
	mu      sync.Mutex
	conns   []*watchConn // registered, open; each knows its index (slot)
	running bool         // run is ticking (it stops when conns is empty)
}

// add registers c; the watchdog starts ticking if it was not.
func (w *watchdog) add(c *watchConn) {
	w.mu.Lock()
	c.slot = len(w.conns)
	w.conns = append(w.conns, c)
	if !w.running {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
}

// remove unregisters c (closed).
func (w *watchdog) remove(c *watchConn) {
	w.mu.Lock()
	if i := c.slot; i >= 0 && i < len(w.conns) && w.conns[i] == c {
		last := len(w.conns) - 1
		w.conns[i] = w.conns[last]
		w.conns[i].slot = i
		w.conns[last] = nil
		w.conns = w.conns[:last]
		c.slot = -1
	}
	w.mu.Unlock()
}

// run checks every registered connection each tick until none is left.
func (w *watchdog) run() {
	tick := w.tick
	if tick <= 0 {
		tick = deadlineTick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.conns) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		n := int64(now())
		for _, c := range w.conns {
			c.check(&c.rd, false, n)
			c.check(&c.wd, true, n)
		}
		w.mu.Unlock()
	}
}

// direction is one direction's (read or write) deadline state.
type direction struct {
	// want is the deadline asked for last: nanoseconds since monoEpoch; 0
	// none; negative, before the process started: fail at once.
	want atomic.Int64
	// busy counts the operations in progress.
	busy atomic.Int32
	// real says the connection itself may hold a deadline (one set while
	// an operation was in progress, or the watchdog's interrupt), which a
	// later move must clear.
	real atomic.Bool
}

// monoOf is t as a direction's want.
func monoOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if d := t.Sub(monoEpoch); d > 0 {
		return int64(d)
	}
	return -1
}

// set records t as d's deadline; an operation in progress gets it at once.
// write says which of c's directions d is.
func (c *watchConn) set(d *direction, write bool, t time.Time) error {
	v := monoOf(t)
	d.want.Store(v)
	if d.busy.Load() > 0 {
		d.real.Store(true)
		return c.connDeadline(write, t)
	}
	if d.real.Load() {
		// A deadline the connection still holds from before: it is not the
		// one asked for now.
		d.real.Store(false)
		return c.connDeadline(write, time.Time{})
	}
	return nil
}

// connDeadline sets the connection's own deadline of one direction.
func (c *watchConn) connDeadline(write bool, t time.Time) error {
	if write {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetReadDeadline(t)
}

// check is the watchdog's: an operation in progress past its deadline is
// interrupted.
func (c *watchConn) check(d *direction, write bool, now int64) {
	if d.busy.Load() == 0 {
		return
	}
	if w := d.want.Load(); w > 0 && w <= now {
		d.real.Store(true)
		_ = c.connDeadline(write, aLongTimeAgo)
	}
}

// expired reports whether the deadline asked for has passed.
func (d *direction) expired() bool {
	w := d.want.Load()
	return w < 0 || (w > 0 && w <= int64(now()))
}

// watchConn is an accepted connection whose deadlines the listener's
// watchdog keeps, and which gives its slot under the connection cap back
// when it closes.
//
// It also holds the connection's request scope (ConnScope), so a request
// touches one per-connection object, not two. The fields every request
// reads come first.
type watchConn struct {
	net.Conn
	rd, wd direction
	scope  connScope

	w       *watchdog
	slot    int    // index in w.conns; guarded by w.mu
	onClose func() // once, at the first Close (nil: nothing)
	closed  atomic.Bool
	// rdErr and wdErr are the errors a deadline failure returns, made once.
	rdErr, wdErr atomic.Pointer[net.OpError]
}

// newWatchConn registers c with w.
func newWatchConn(c net.Conn, w *watchdog, onClose func()) *watchConn {
	wc := &watchConn{Conn: c, w: w, onClose: onClose}
	w.add(wc)
	return wc
}

// timeoutErr is the error net.Conn returns for an operation past its
// deadline.
func (c *watchConn) timeoutErr(write bool) error {
	p, op := &c.rdErr, "read"
	if write {
		p, op = &c.wdErr, "write"
	}
	if e := p.Load(); e != nil {
		return e
	}
	e := &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	p.Store(e)
	return e
}

// Read reads as net.Conn.Read does, under the read deadline. Read and
// Write are marked in progress for the watchdog (two atomic adds, no
// defer: net.Conn's methods return errors, they do not panic).
func (c *watchConn) Read(p []byte) (int, error) {
	d := &c.rd
	if !d.begin() {
		return 0, c.timeoutErr(false)
	}
	n, err := c.Conn.Read(p)
	if err != nil && n == 0 {
		n, err = c.retry(d, false, p, n, err)
	}
	d.busy.Add(-1)
	return n, err
}

// Write writes all of p as net.Conn.Write does, under the write deadline.
func (c *watchConn) Write(p []byte) (int, error) {
	d := &c.wd
	if !d.begin() {
		return 0, c.timeoutErr(true)
	}
	n, err := c.Conn.Write(p)
	if err != nil && n < len(p) {
		n, err = c.retry(d, true, p, n, err)
	}
	d.busy.Add(-1)
	return n, err
}

// begin marks an operation of direction d in progress; false (and no
// mark) when d's deadline is before the process started (net/http's abort
// of its background read): the operation fails at once. The caller ends
// the mark (busy.Add(-1)).
func (d *direction) begin() bool {
	d.busy.Add(1)
	if d.want.Load() < 0 {
		d.busy.Add(-1)
		return false
	}
	return true
}

// retry goes on with a read or write (a write until p is done) that failed
// after n bytes with err, when the failure was the watchdog's interrupt
// meeting a deadline moved later since: the interrupt is cleared first.
func (c *watchConn) retry(d *direction, write bool, p []byte, n int, err error) (int, error) {
	for tries := 0; err != nil && (write || n == 0) && n < len(p) && tries < 3 &&
		errors.Is(err, os.ErrDeadlineExceeded) && !d.expired(); tries++ {
		d.real.Store(false)
		_ = c.connDeadline(write, time.Time{})
		var m int
		if write {
			m, err = c.Conn.Write(p[n:])
		} else {
			m, err = c.Conn.Read(p[n:])
		}
		n += m
	}
	return n, err
}

// SetDeadline sets both deadlines.
func (c *watchConn) SetDeadline(t time.Time) error {
	err := c.set(&c.rd, false, t)
	if werr := c.set(&c.wd, true, t); err == nil {
		err = werr
	}
	return err
}

// SetReadDeadline sets the read deadline.
func (c *watchConn) SetReadDeadline(t time.Time) error { return c.set(&c.rd, false, t) }

// SetWriteDeadline sets the write deadline.
func (c *watchConn) SetWriteDeadline(t time.Time) error {
	return c.set(&c.wd, true, t)
}

// Close closes the connection and leaves the watchdog (and the cap).
func (c *watchConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.w.remove(c)
		if c.onClose != nil {
			c.onClose()
		}
	}
	return c.Conn.Close()
}
