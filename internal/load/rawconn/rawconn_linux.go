//go:build linux

package rawconn

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Wrap returns c with raw-syscall Read and Write, or c itself when it has
// no raw descriptor. The result is safe for one reader and one writer at a
// time, concurrently (grpc-go reads and writes from different goroutines).
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &conn{Conn: c, rc: rc}
	r.rd.fn = r.rd.readOnce
	r.wr.fn = r.wr.writeAll
	r.wrFn = r.writeThenWait
	return r
}

// conn overrides Read and Write of the connection it embeds.
type conn struct {
	net.Conn
	rc     syscall.RawConn
	rd, wr call // the read and the write in progress
	// WriteThenRead's callback and state: pend is the request not yet
	// written, full says the send buffer filled before all of it went.
	wrFn func(fd uintptr) bool
	pend bool
	full bool
}

// call is the state of one read or write, used by its callback, which is
// made once so that a call does not allocate a closure.
type call struct {
	buf []byte
	n   int
	err syscall.Errno
	fn  func(fd uintptr) bool
}

func (c *call) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.buf[0])), uintptr(len(c.buf)))
		switch e {
		case 0:
			c.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait in the poller until readable
		default:
			c.err = e
			return true
		}
	}
}

func (c *call) writeAll(fd uintptr) bool {
	for c.n < len(c.buf) {
		p := c.buf[c.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			c.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // send buffer full: wait until writable
		default:
			c.err = e
			return true
		}
	}
	return true
}

// Read reads once, as net.Conn.Read does: io.EOF when the peer closed.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := &c.rd
	r.buf, r.n, r.err = p, 0, 0
	err := c.rc.Read(r.fn)
	r.buf = nil
	switch {
	case err != nil: // deadline passed, or closed
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case r.err != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: r.err}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// Write writes all of p.
func (c *conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := &c.wr
	w.buf, w.n, w.err = p, 0, 0
	err := c.rc.Write(w.fn)
	w.buf = nil
	switch {
	case err != nil:
		return w.n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case w.err != 0:
		return w.n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: w.err}
	}
	return w.n, nil
}

// WriteThenRead writes req and then reads into p like Read, for a
// request-response exchange on one goroutine, without the speculative
// read(2) a Read after a Write starts with. RawConn.Read resets the poller's
// readiness before its callback runs, so a reply that arrived before the
// reset could be missed unless a read tried first (EAGAIN when the reply is
// not there yet, which is nearly always). Here the request is written inside
// that callback, after the reset: the reply can only come after it, its
// edge ends the wait, and the first read finds it. wn is the bytes of req
// written; an error with wn < len(req) is the write's.
func (c *conn) WriteThenRead(req, p []byte) (wn, rn int, err error) {
	if len(req) == 0 {
		rn, err = c.Read(p)
		return 0, rn, err
	}
	if len(p) == 0 {
		wn, err = c.Write(req)
		return wn, 0, err
	}
	w, r := &c.wr, &c.rd
	w.buf, w.n, w.err = req, 0, 0
	r.buf, r.n, r.err = p, 0, 0
	c.pend, c.full = true, false
	rerr := c.rc.Read(c.wrFn)
	w.buf, r.buf = nil, nil
	wn = w.n
	switch {
	case c.pend && c.full: // the send buffer filled: finish as Write and Read do
		c.pend = false
		n, err := c.Write(req[wn:])
		wn += n
		if err != nil {
			return wn, 0, err
		}
		rn, err = c.Read(p)
		return wn, rn, err
	case rerr != nil && c.pend: // deadline or close before the request went
		return wn, 0, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case w.err != 0:
		return wn, 0, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: w.err}
	case rerr != nil:
		return wn, 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case r.err != 0:
		return wn, 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: r.err}
	case r.n == 0:
		return wn, 0, io.EOF
	}
	return wn, r.n, nil
}

// writeThenWait is WriteThenRead's RawConn.Read callback: the first call
// writes the request and returns false (wait for the reply) unless the
// write failed or the send buffer filled; later calls read.
func (c *conn) writeThenWait(fd uintptr) bool {
	if c.pend {
		if !c.wr.writeAll(fd) {
			c.full = true // EAGAIN: leave, and finish with Write's wait
			return true
		}
		if c.wr.err != 0 {
			return true
		}
		c.pend = false
		return false
	}
	return c.rd.readOnce(fd)
}
