package server

import (
	"net"
	"net/http"
	"sync/atomic"
)

// ConnStats counts a server's client connections: how many are open now and
// how many were ever accepted. It is the server-side truth the demo compares
// with the load generator's own connection counts. Safe for concurrent use;
// the zero value is ready.
type ConnStats struct {
	active atomic.Int64
	total  atomic.Int64
}

// Opened records a newly accepted connection.
func (c *ConnStats) Opened() {
	c.active.Add(1)
	c.total.Add(1)
}

// Closed records a connection that went away.
func (c *ConnStats) Closed() { c.active.Add(-1) }

// Active is the number of connections open now.
func (c *ConnStats) Active() int64 { return c.active.Load() }

// Total is the number of connections accepted since start.
func (c *ConnStats) Total() int64 { return c.total.Load() }

// ConnState is an http.Server.ConnState hook. A hijacked connection (a
// WebSocket upgrade) leaves net/http's accounting, so it counts as closed
// here; the WebSocket server accounts for it itself.
func (c *ConnStats) ConnState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.Opened()
	case http.StateClosed, http.StateHijacked:
		c.Closed()
	}
}

// Snapshot returns the counters as a /stats section.
func (c *ConnStats) Snapshot() map[string]int64 {
	return map[string]int64{"active": c.Active(), "total": c.Total()}
}
