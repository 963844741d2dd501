package netcount

import (
	"context"
	"net"
	"sync/atomic"
)

// Counter totals the bytes of the connections wrapped with it.
type Counter struct {
	sent, received atomic.Int64
}

// Sent is the number of bytes written to the wrapped connections.
func (c *Counter) Sent() int64 { return c.sent.Load() }

// Received is the number of bytes read from the wrapped connections.
func (c *Counter) Received() int64 { return c.received.Load() }

// Take returns the totals and resets them to zero, for a worker that
// reports its bytes per operation.
func (c *Counter) Take() (sent, received int64) {
	return c.sent.Swap(0), c.received.Swap(0)
}

// Conn is a net.Conn whose reads and writes are counted.
type Conn struct {
	net.Conn
	c *Counter
}

// Wrap returns conn counting into c.
func Wrap(conn net.Conn, c *Counter) *Conn { return &Conn{Conn: conn, c: c} }

func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.c.received.Add(int64(n))
	}
	return n, err
}

func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.c.sent.Add(int64(n))
	}
	return n, err
}

// Unwrap returns the connection underneath.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// WriteThenReader is a connection that writes a request and reads the
// first bytes of its reply in one call (package rawconn's, which saves the
// read that a Read after a Write starts with).
type WriteThenReader interface {
	WriteThenRead(req, p []byte) (wn, rn int, err error)
}

// WriteThenRead calls the wrapped connection's WriteThenRead, counting both
// directions, or else Write and then Read.
func (c *Conn) WriteThenRead(req, p []byte) (wn, rn int, err error) {
	if wr, ok := c.Conn.(WriteThenReader); ok {
		wn, rn, err = wr.WriteThenRead(req, p)
	} else if wn, err = c.Conn.Write(req); err == nil {
		rn, err = c.Conn.Read(p)
	}
	if wn > 0 {
		c.c.sent.Add(int64(wn))
	}
	if rn > 0 {
		c.c.received.Add(int64(rn))
	}
	return wn, rn, err
}

// DialFunc is the shape of net.Dialer.DialContext and
// http.Transport.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns dial with every connection it makes counted into c.
func Dialer(dial DialFunc, c *Counter) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(conn, c), nil
	}
}
