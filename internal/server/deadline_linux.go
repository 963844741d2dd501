//go:build linux

package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// lazyConn is a TCP connection whose Read and Write are non-blocking
// read(2)/write(2) calls inside syscall.RawConn (which keeps the poller's
// waits, close handling and deadlines), so that its deadlines can be lazy
// (lazyDeadline): they reach the poller only when a Read or Write is
// about to wait. The calls are syscall.Read and syscall.Write, as
// net.Conn's are (they also tell the race detector that a write happened
// before the read that saw it, which tests over a socket rely on): with
// syscall.RawSyscall instead (what the load generator's connections
// use) a server pinned to one core served less than half the requests per
// second at ten times the latency, its CPU mostly idle.
type lazyConn struct {
	net.Conn
	rc       syscall.RawConn
	rd, wd   lazyDeadline
	rmu, wmu sync.Mutex // one Read and one Write at a time use r and w
	r, w     rawCall
}

// rawCall is the state of one read or write, used by its callback, which
// is made once so that a call does not allocate a closure.
type rawCall struct {
	buf []byte
	n   int
	err syscall.Errno
	dl  *lazyDeadline
	fn  func(fd uintptr) bool
}

// newLazyConn wraps c, or returns nil when c has no raw descriptor.
func newLazyConn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	l := &lazyConn{Conn: c, rc: rc}
	l.rd.set, l.wd.set = c.SetReadDeadline, c.SetWriteDeadline
	l.r.dl, l.w.dl = &l.rd, &l.wd
	l.r.fn, l.w.fn = l.r.readOnce, l.w.writeAll
	return l
}

func (c *rawCall) readOnce(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), c.buf)
		switch e := errnoOf(err); e {
		case 0:
			c.n = max(n, 0)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			c.dl.park()
			return false // wait in the poller until readable
		default:
			c.err = e
			return true
		}
	}
}

func (c *rawCall) writeAll(fd uintptr) bool {
	for c.n < len(c.buf) {
		p := c.buf[c.n:]
		n, err := syscall.Write(int(fd), p)
		switch e := errnoOf(err); e {
		case 0:
			c.n += max(n, 0)
		case syscall.EINTR:
		case syscall.EAGAIN:
			c.dl.park()
			return false // send buffer full: wait until writable
		default:
			c.err = e
			return true
		}
	}
	return true
}

// errnoOf is err as syscall.Read and syscall.Write return it: nil or an
// Errno.
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}

// opError is the error net.Conn would return for err in op ("read",
// "write"): the poller's own error (deadline, closed) unwrapped from
// RawConn's "raw-read"/"raw-write" one.
func (c *lazyConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read reads once, as net.Conn.Read does: io.EOF when the peer closed.
func (c *lazyConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rd.interrupt.Load() {
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	r := &c.r
	r.buf, r.n, r.err = p, 0, 0
	err := c.rc.Read(r.fn)
	for tries := 0; err != nil && tries < 3 && errors.Is(err, os.ErrDeadlineExceeded) && c.rd.rearm(); tries++ {
		err = c.rc.Read(r.fn) // the poller held a deadline since moved
	}
	c.rd.unpark()
	r.buf = nil
	switch {
	case err != nil: // deadline passed, or closed
		return 0, c.opError("read", err)
	case r.err != 0:
		return 0, c.opError("read", os.NewSyscallError("read", r.err))
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// Write writes all of p.
func (c *lazyConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wd.interrupt.Load() {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	w := &c.w
	w.buf, w.n, w.err = p, 0, 0
	err := c.rc.Write(w.fn)
	for tries := 0; err != nil && tries < 3 && errors.Is(err, os.ErrDeadlineExceeded) && c.wd.rearm(); tries++ {
		err = c.rc.Write(w.fn)
	}
	c.wd.unpark()
	w.buf = nil
	switch {
	case err != nil:
		return w.n, c.opError("write", err)
	case w.err != 0:
		return w.n, c.opError("write", os.NewSyscallError("write", w.err))
	}
	return w.n, nil
}

// SetDeadline sets both deadlines (lazily).
func (c *lazyConn) SetDeadline(t time.Time) error {
	err := c.rd.request(t)
	if werr := c.wd.request(t); err == nil {
		err = werr
	}
	return err
}

// SetReadDeadline sets the read deadline (lazily).
func (c *lazyConn) SetReadDeadline(t time.Time) error { return c.rd.request(t) }

// SetWriteDeadline sets the write deadline (lazily).
func (c *lazyConn) SetWriteDeadline(t time.Time) error { return c.wd.request(t) }
