//go:build !linux

package rawconn

import "net"

// Wrap returns c unchanged: raw socket calls are Linux-only here.
func Wrap(c net.Conn) net.Conn { return c }
