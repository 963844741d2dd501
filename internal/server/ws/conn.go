package ws

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/loadrig/loadrig/internal/server"
)

// conn is one WebSocket connection: a bounded outgoing queue drained by one
// writer goroutine (the chat example's subscriber), and the handler
// goroutine reading frames, so pings are always answered.
type conn struct {
	s    *Server
	id   int64
	user int64 // 0: anonymous
	ws   *websocket.Conn
	ctx  context.Context
	stop context.CancelFunc
	lim  *rate.Limiter // nil: unlimited (/ws/echo)

	// The outgoing queue: a slice under qmu rather than a channel, so an
	// idle connection holds no queue memory (a 256-slot channel is 6 KiB).
	// pending counts queued and unwritten messages; wake signals the
	// writer.
	qmu     sync.Mutex
	q       [][]byte
	spare   [][]byte
	pending atomic.Int64
	wake    chan struct{}

	token   string    // the handshake credential, checked again every tokenRecheck
	checked time.Time // last check of token (reader goroutine only)
	strikes int       // rate-limit rejections in a row (reader goroutine only)
	closed  atomic.Bool

	mu     sync.Mutex           // guards floor (written by join, read by fan-out)
	floor  map[string]int64     // topic → seq already sent from the log on join/resume
	rooms  map[string]struct{}  // joined chat rooms (reader goroutine only)
	typing map[string]time.Time // last typing per room (reader goroutine only)
}

// handshake is the common part of every /ws/ path: capacity, auth, origin,
// upgrade. It returns nil when it has answered the request itself.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, needAuth, limited bool) *conn {
	if s.closing.Load() {
		s.stats.rejected.Add(1)
		httpError(w, http.StatusServiceUnavailable, "server is shutting down")
		return nil
	}
	user, err := s.authenticate(r)
	if err != nil || (needAuth && user == 0) {
		s.stats.rejected.Add(1)
		msg := "this path needs a token: Authorization: Bearer <token> or ?token=<token>, from POST /api/login"
		if err != nil {
			msg = "invalid token: " + err.Error()
		}
		httpError(w, http.StatusUnauthorized, msg)
		return nil
	}
	n := s.stats.active.Add(1)
	if n > int64(s.d.MaxConns) {
		s.stats.active.Add(-1)
		s.stats.rejected.Add(1)
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "too many connections (--max-conns)")
		return nil
	}
	// The peak is the most of active ever seen, so it is raised with the
	// count that admitted this connection (n), here, before the upgrade:
	// the client may see its 101 (and a stats reader the next handshake)
	// before this handler runs on, and a later reading of active could
	// miss the moment connections overlapped.
	for {
		p := s.stats.peak.Load()
		if n <= p || s.stats.peak.CompareAndSwap(p, n) {
			break
		}
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:     s.d.Origins,
		InsecureSkipVerify: s.d.Dev,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil { // Accept has written the response (403 for a foreign Origin)
		s.stats.active.Add(-1)
		s.stats.rejected.Add(1)
		s.d.Logger.Debug("websocket handshake refused", "path", r.URL.Path, "err", err, "request_id", server.RequestID(r.Context()))
		return nil
	}
	c.SetReadLimit(s.d.ReadLimit)
	s.stats.total.Add(1)
	ctx, stop := context.WithCancel(context.WithoutCancel(r.Context()))
	cn := &conn{s: s, id: s.ids.Add(1), user: user, ws: c, wake: make(chan struct{}, 1), ctx: ctx, stop: stop}
	cn.token, cn.checked = bearerToken(r), time.Now()
	if limited {
		cn.lim = rate.NewLimiter(rate.Limit(s.d.MsgRate), s.d.MsgBurst)
	}
	s.connsMu.Lock()
	if s.closing.Load() { // Shutdown began during the upgrade
		s.connsMu.Unlock()
		s.stats.active.Add(-1)
		_ = c.Close(websocket.StatusGoingAway, "server shutting down")
		return nil
	}
	s.conns[cn] = struct{}{}
	s.connsWG.Add(1)
	s.connsMu.Unlock()
	go cn.writeLoop()
	return cn
}

// finish ends a connection's handler: the writer stops, the socket is
// closed (normally, unless a close is already under way) and it leaves the
// accounting.
func (c *conn) finish() {
	c.close(websocket.StatusNormalClosure, "")
	c.stop()
	c.s.connsMu.Lock()
	delete(c.s.conns, c)
	c.s.connsMu.Unlock()
	c.s.stats.active.Add(-1)
	c.s.connsWG.Done()
}

// close closes the connection once with code; later calls do nothing.
func (c *conn) close(code websocket.StatusCode, reason string) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	// The close handshake first: canceling ctx would make coder/websocket
	// cut the connection under the pending Read, before the close frame.
	_ = c.ws.Close(code, reason)
	c.stop()
}

// send queues b without blocking; a connection with Queue messages
// unwritten is closed with 1008 (the chat example's closeSlow) and counted.
// It reports whether b was queued.
func (c *conn) send(b []byte) bool {
	if c.closed.Load() {
		return false
	}
	if c.pending.Add(1) > int64(c.s.d.Queue) {
		c.pending.Add(-1)
		c.s.stats.drops.Add(1)
		if c.closed.CompareAndSwap(false, true) {
			c.s.stats.kicked.Add(1)
			go func() {
				_ = c.ws.Close(websocket.StatusPolicyViolation, "connection too slow to keep up with messages")
				c.stop()
			}()
		}
		return false
	}
	c.qmu.Lock()
	c.q = append(c.q, b)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// writeLoop drains the queue, one frame per message, and pings every
// PingInterval; a pong missing by the next ping closes the connection.
//
// A batch is bounded by WriteTimeout with one timer per connection, reset
// per batch: a stalled peer's connection is closed, which ends the blocked
// write. The writes themselves get a context without Done, so
// coder/websocket registers no watch per frame: on a broadcast to 10,000
// connections a context and a timer per write cost more CPU than
// everything but the write syscall (README, WebSocket server).
func (c *conn) writeLoop() {
	t := time.NewTicker(c.s.d.PingInterval)
	defer t.Stop()
	var (
		pinging  atomic.Bool
		timedOut atomic.Bool
		wt       *time.Timer
	)
	defer func() {
		if wt != nil {
			wt.Stop()
		}
	}()
	for {
		select {
		case <-c.wake:
			c.qmu.Lock()
			batch := c.q
			c.q, c.spare = c.spare[:0], nil
			c.qmu.Unlock()
			if wt == nil {
				wt = time.AfterFunc(c.s.d.WriteTimeout, func() {
					timedOut.Store(true) // the peer stopped reading for WriteTimeout
					c.closed.Store(true)
					c.stop()
					_ = c.ws.CloseNow()
				})
			} else {
				wt.Reset(c.s.d.WriteTimeout)
			}
			for i, b := range batch {
				err := c.ws.Write(context.Background(), websocket.MessageText, b)
				batch[i] = nil
				if err != nil {
					wt.Stop()
					if timedOut.Load() {
						c.s.stats.writeTimeouts.Add(1)
					}
					c.stop()
					return
				}
				c.pending.Add(-1)
				c.s.stats.out.Add(1)
			}
			if !wt.Stop() { // fired as the batch ended: the connection is closed
				if timedOut.Load() {
					c.s.stats.writeTimeouts.Add(1)
				}
				return
			}
			c.qmu.Lock()
			if c.spare == nil && cap(batch) <= 2*c.s.d.Queue {
				c.spare = batch[:0]
			}
			c.qmu.Unlock()
		case <-t.C:
			if !pinging.CompareAndSwap(false, true) {
				c.close(websocket.StatusPolicyViolation, "no pong")
				return
			}
			go func() {
				ctx, cancel := context.WithTimeout(c.ctx, c.s.d.PingInterval)
				defer cancel()
				if err := c.ws.Ping(ctx); err != nil {
					if c.ctx.Err() == nil {
						c.closed.Store(true)
						c.stop()
						_ = c.ws.CloseNow()
					}
					return
				}
				pinging.Store(false)
			}()
		case <-c.ctx.Done():
			return
		}
	}
}

// allow applies the per-connection rate limit to one incoming frame. A
// rejected frame gets an error rate_limited; MsgBurst rejections in a row
// close the connection with 1008.
func (c *conn) allow(e *Envelope) bool {
	if c.lim == nil || c.lim.Allow() {
		c.strikes = 0
		return true
	}
	c.s.stats.limited.Add(1)
	c.strikes++
	if c.strikes >= c.s.d.MsgBurst {
		c.close(websocket.StatusPolicyViolation, "rate limit exceeded repeatedly")
		return false
	}
	c.send(errorFrame(e.ID, CodeRateLimited, "too many messages; slow down (--msg-rate)"))
	return false
}

// readLoop reads frames until the connection ends, counting them and
// passing each decoded envelope to handle. Binary frames and undecodable
// ones get an error invalid.
func (c *conn) readLoop(handle func(e *Envelope)) {
	for {
		typ, b, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		c.s.stats.in.Add(1)
		if !c.authorized() {
			return
		}
		if typ != websocket.MessageText {
			c.send(errorFrame(nil, CodeInvalid, "frames are JSON text"))
			continue
		}
		e, err := DecodeEnvelope(b)
		if !c.allow(&e) {
			if c.closed.Load() {
				return
			}
			continue
		}
		if err != nil {
			c.send(errorFrame(e.ID, CodeInvalid, err.Error()))
			continue
		}
		handle(&e)
	}
}

// tokenRecheck is how often a long-lived connection's credential is
// verified again: a token that expires (or a session that is revoked)
// ends the connection within this time of the client's next frame.
const tokenRecheck = time.Minute

// authorized re-verifies the connection's token at most every
// tokenRecheck; an expired one gets an error unauthorized and a 1008 close.
func (c *conn) authorized() bool {
	if c.user == 0 || time.Since(c.checked) < tokenRecheck {
		return true
	}
	ctx, cancel := context.WithTimeout(c.ctx, logTimeout)
	defer cancel()
	if _, err := c.s.d.Auth.Verify(ctx, c.token); err != nil {
		wctx, cancel := context.WithTimeout(c.ctx, c.s.d.WriteTimeout)
		_ = c.ws.Write(wctx, websocket.MessageText, errorFrame(nil, CodeUnauthorized, "the connection's token is no longer valid; reconnect with a new one"))
		cancel()
		c.close(websocket.StatusPolicyViolation, "token expired")
		return false
	}
	c.checked = time.Now()
	return true
}

// closeStatus is the close code of err, for tests and logs.
func closeStatus(err error) websocket.StatusCode {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
