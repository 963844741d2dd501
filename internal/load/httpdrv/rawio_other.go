//go:build !linux

package httpdrv

import "net"

// rawIO is Linux-only (see rawio_linux.go); elsewhere the fast path uses
// net.Conn's own Read and Write.
type rawIO struct{ net.Conn }

func newRawIO(net.Conn) *rawIO { return nil }
