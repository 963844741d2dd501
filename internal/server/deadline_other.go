//go:build !linux

package server

import "net"

// newLazyConn returns nil: lazy deadlines (lazyConn) are linux-only; other
// systems keep net.Conn's own.
func newLazyConn(net.Conn) net.Conn { return nil }
