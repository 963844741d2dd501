//go:build !unix

package httpdrv

import "net"

// peerClosed cannot probe without blocking on this platform; a stale
// connection is then found by the failed request (and retried when the
// method is idempotent).
func peerClosed(net.Conn) bool { return false }
