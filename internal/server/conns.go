package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ConnStats counts a server's client connections: how many are open now and
// how many were ever accepted. It is the server-side truth the demo compares
// with the load generator's own connection counts. Safe for concurrent use;
// the zero value is ready.
type ConnStats struct {
	active   atomic.Int64
	total    atomic.Int64
	rejected atomic.Int64
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

// Rejected is the number of connections turned away at the --max-conns
// cap.
func (c *ConnStats) Rejected() int64 { return c.rejected.Load() }

// Snapshot returns the counters as a /stats section.
func (c *ConnStats) Snapshot() map[string]int64 {
	return map[string]int64{"active": c.Active(), "total": c.Total(), "rejected": c.Rejected()}
}

// capListener turns connections away past max open ones (max <= 0: no
// cap): each gets a 503 (written within a second, by its own goroutine, so
// a client that does not read cannot stall Accept) and is closed. The
// connections it hands out have their deadlines kept by its watchdog
// (watchConn).
type capListener struct {
	net.Listener
	max   int64
	open  atomic.Int64
	stats *ConnStats
	log   *slog.Logger
	every logEvery
	watch watchdog
}

const overCapResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 43\r\n\r\nserver at its connection cap (--max-conns)\n"

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.max <= 0 {
			return newWatchConn(c, &l.watch, nil), nil
		}
		if l.open.Add(1) <= l.max {
			return newWatchConn(c, &l.watch, l.release), nil
		}
		l.open.Add(-1)
		l.stats.rejected.Add(1)
		if l.every.due(time.Second) {
			l.log.Warn("connection cap reached; turning new connections away with 503", "max_conns", l.max)
		}
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, overCapResponse)
			_ = c.Close()
		}()
	}
}

// release gives a closed connection's slot under the cap back.
func (l *capListener) release() { l.open.Add(-1) }

// logEvery lets a log line through at most once per interval.
type logEvery struct{ last atomic.Int64 }

func (e *logEvery) due(interval time.Duration) bool {
	now := time.Now().UnixNano()
	last := e.last.Load()
	return now-last >= int64(interval) && e.last.CompareAndSwap(last, now)
}
