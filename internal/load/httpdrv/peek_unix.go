//go:build unix

package httpdrv

import (
	"net"
	"syscall"
)

// peerClosed reports whether the server closed (or wrote unasked to) an
// idle connection, with one non-blocking MSG_PEEK read that consumes
// nothing. Called only on connections idle for idleCheckAfter.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK || rerr == syscall.EINTR:
			closed = false // nothing to read: the connection is idle and open
		case rerr != nil, n == 0:
			closed = true // reset, or EOF: the server closed it
		default:
			closed = true // unsolicited bytes: the stream is out of step
		}
		return true // never wait for readiness
	})
	return closed || err != nil
}
