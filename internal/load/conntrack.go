package load

import (
	"net"
	"sync/atomic"

	"github.com/loadrig/loadrig/internal/load/netcount"
	"github.com/loadrig/loadrig/internal/metrics"
)

// ConnTracker counts a driver's client-side connections: how many were
// opened, how many are open now, and the most open at once. It exists so
// that every protocol driver counts connections the same way (at the dialer,
// with no per-operation cost) and reports them through ConnCounter. The zero
// value is ready to use; a ConnTracker must not be copied after first use.
//
// A driver either wraps each connection its dialer returns (Track), which
// counts it open until its first Close, or, when it owns the connection's
// lifetime itself, calls Opened and Closed in pairs. Reused connections are
// protocol-specific (per-worker counters in HTTP, calls minus dials in gRPC),
// so the driver fills metrics.Connections.Reused itself.
type ConnTracker struct {
	opened atomic.Int64
	open   atomic.Int64
	peak   atomic.Int64
	next   atomic.Uint32 // picks a counting connection's byte slot
	bytes  [byteSlots]byteSlot
}

// byteSlots spreads the byte counters of counting connections over padded
// slots (netcount.Counter, the one byte counter every driver uses) so
// that connections used on different cores rarely share a cache line: each
// connection adds to its slot, WireBytes sums them.
const byteSlots = 16

type byteSlot struct {
	netcount.Counter
	_ [48]byte
}

// Opened counts one newly opened connection and raises the peak if the
// number open now is the highest yet. Pair it with one Closed.
func (t *ConnTracker) Opened() {
	t.opened.Add(1)
	n := t.open.Add(1)
	for {
		p := t.peak.Load()
		if n <= p || t.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// Closed counts one connection counted by Opened as closed.
func (t *ConnTracker) Closed() { t.open.Add(-1) }

// Track counts c as opened (Opened) and returns c wrapped so that its first
// Close counts it closed; later Close calls only reach c (net/http and
// grpc-go may close a connection more than once).
func (t *ConnTracker) Track(c net.Conn) net.Conn {
	t.Opened()
	return &trackedConn{Conn: netcount.Wrap(c, &t.slot().Counter), t: t}
}

// CountConn returns c wrapped so that the bytes its Read and Write calls
// move are counted in WireBytes, for a driver that counts the connection
// open and closed itself (Opened, Closed). Cost: an atomic add per Read and
// per Write call (not per byte), on a slot shared with few connections.
func (t *ConnTracker) CountConn(c net.Conn) net.Conn {
	return netcount.Wrap(c, &t.slot().Counter)
}

func (t *ConnTracker) slot() *byteSlot {
	return &t.bytes[t.next.Add(1)%byteSlots]
}

// WireBytes is what every counting connection has written (Sent) and read
// (Received) so far: the bytes on the wire above TCP, TLS records included.
func (t *ConnTracker) WireBytes() metrics.Bytes {
	var b metrics.Bytes
	for i := range t.bytes {
		b.Sent += t.bytes[i].Sent()
		b.Received += t.bytes[i].Received()
	}
	return b
}

// Open is the number of connections open now.
func (t *ConnTracker) Open() int64 { return t.open.Load() }

// Connections reports connections opened so far and the most open at once.
// Reused is left 0 for the driver to fill.
func (t *ConnTracker) Connections() metrics.Connections {
	return metrics.Connections{Opened: t.opened.Load(), PeakOpen: t.peak.Load()}
}

// trackedConn is a net.Conn counted open by a ConnTracker until its first
// Close.
type trackedConn struct {
	net.Conn // counting (netcount)
	t        *ConnTracker
	closed   atomic.Bool
	used     atomic.Bool
}

// MarkUsed records that c, a connection Track returned, is carrying a
// request, and reports whether it had carried one before (reused). ok is
// false when c is not one Track returned. It exists because net/http's
// GotConnInfo.Reused means "taken from the idle pool": a connection dialed
// for a request that meanwhile got another one goes to the pool unused, and
// its first request is then reported reused.
func MarkUsed(c net.Conn) (reused, ok bool) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return false, false
	}
	return tc.used.Swap(true), true
}

func (c *trackedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.t.Closed()
	}
	return c.Conn.Close()
}
