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
	return r
}

// conn overrides Read and Write of the connection it embeds.
type conn struct {
	net.Conn
	rc     syscall.RawConn
	rd, wr call // the read and the write in progress
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
