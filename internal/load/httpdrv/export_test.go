package httpdrv

import (
	"context"
	"net"
)

// SetDial makes d dial with dial instead of the network (the external
// tests' in-memory network).
func SetDial(d *Driver, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	d.dial = dial
}
