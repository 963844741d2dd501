// Package pipenet is an in-memory network for tests: a net.Listener whose
// every dial is a net.Pipe. A real http.Server and real clients (net/http,
// coder/websocket) then run inside a testing/synctest bubble, on its fake
// clock, since nothing blocks on a real socket. It has no dependencies
// beyond the standard library, so servers, drivers and their tests may all
// use it.
package pipenet

import (
	"context"
	"net"
	"sync"
)

// Listener accepts the server ends of the pipes Dial makes. The zero value
// is not usable; call Listen.
type Listener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

// Listen returns an open Listener.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for a Dial, or for Close (net.ErrClosed).
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail with net.ErrClosed; it is idempotent.
// Connections already made stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is 127.0.0.1:1, so URLs and Host headers built from it look as they
// do on loopback; nothing listens there.
func (l *Listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// Dial connects to the listener, whatever the network and address: it has
// the signature of net.Dialer.DialContext, for http.Transport.DialContext
// and websocket.DialOptions' HTTP client. It waits until Accept takes the
// other end, the listener closes, or ctx ends.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		c.Close()
		s.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		c.Close()
		s.Close()
		return nil, ctx.Err()
	}
}
