//go:build linux

package httpdrv

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a connection's socket with raw, non-blocking
// read(2) and write(2) calls made inside syscall.RawConn's Read and Write,
// which keep the poller's readiness waits, deadlines and close handling.
//
// Why not net.Conn's Read and Write: every ordinary syscall enters the Go
// scheduler's syscall state, and the first one after the process was idle
// wakes the runtime's sysmon thread from its deep sleep; sysmon then polls
// every 20 µs for a while before sleeping again. An open-model run at a few
// thousand requests per second goes idle between ticks, so it paid that
// wake-up (a futex wake plus several context switches on the generator's
// core) on every tick. A non-blocking socket call never blocks, so it needs
// no syscall state: with raw calls the process stays in the poller between
// ticks and sysmon stays asleep. (README design notes have the figures.)
type rawIO struct {
	c  net.Conn
	rc syscall.RawConn

	// The state of the call in progress, read by the callbacks below, which
	// are made once so that a call does not allocate a closure.
	buf     []byte
	n       int
	err     syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// newRawIO returns c's raw I/O, or nil when c has no raw descriptor.
func newRawIO(c net.Conn) *rawIO {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{c: c, rc: rc}
	r.readFn = r.readOnce
	r.writeFn = r.writeSome
	return r
}

func (r *rawIO) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait in the poller until readable
		default:
			r.err = e
			return true
		}
	}
}

func (r *rawIO) writeSome(fd uintptr) bool {
	for r.n < len(r.buf) {
		p := r.buf[r.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			r.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // send buffer full: wait until writable
		default:
			r.err = e
			return true
		}
	}
	return true
}

// Read reads once, as net.Conn.Read does: io.EOF when the peer closed.
func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.err = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.buf = nil
	switch {
	case err != nil: // deadline passed, or closed
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: err}
	case r.err != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: r.err}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// Write writes all of p.
func (r *rawIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.err = p, 0, 0
	err := r.rc.Write(r.writeFn)
	r.buf = nil
	switch {
	case err != nil:
		return r.n, &net.OpError{Op: "write", Net: "tcp", Err: err}
	case r.err != 0:
		return r.n, &net.OpError{Op: "write", Net: "tcp", Err: r.err}
	}
	return r.n, nil
}
