package ws

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/loadrig/loadrig/internal/server"
)

// conn is one WebSocket connection: the handler goroutine reads frames
// (so pings are always answered) and a bounded outgoing queue is drained
// by a writer goroutine that runs only while the queue is not empty. The
// server's ping wheel (runPings) pings it every PingInterval. An idle
// connection so costs one goroutine, parked in a read.
type conn struct {
	s    *Server
	id   int64
	user int64 // 0: anonymous
	ws   *websocket.Conn
	nc   net.Conn // the hijacked socket: write deadlines (nil: none)
	ctx  context.Context
	stop context.CancelFunc
	lim  *rate.Limiter // nil: unlimited (/ws/echo)
	slot int           // the ping wheel's slot (under Server.connsMu)

	// The outgoing queue: a slice under qmu rather than a channel, so an
	// idle connection holds no queue memory (a 256-slot channel is 6 KiB).
	// pending counts queued and unwritten messages. writing is true while
	// a writer goroutine owns the queue: send starts one when it queues
	// onto an idle connection, and the writer exits only after finding the
	// queue empty under qmu, so no message is left without a writer.
	qmu     sync.Mutex
	q       [][]byte
	spare   [][]byte
	writing bool
	pending atomic.Int64

	pinging atomic.Bool // a ping is out and its pong not back

	token   string    // the handshake credential, checked again every tokenRecheck
	checked time.Time // last check of token (reader goroutine only)
	strikes int       // rate-limit rejections in a row (reader goroutine only)
	closed  atomic.Bool

	mu     sync.Mutex           // guards floor (written by join, read by fan-out)
	floor  map[string]int64     // topic → seq already sent from the log on join/resume
	rooms  map[string]struct{}  // joined chat rooms (reader goroutine only)
	typing map[string]time.Time // last typing per room (reader goroutine only)
}

// Buffer sizes of an upgraded connection. net/http hands a hijacked
// connection its 4 KiB reader and 4 KiB writer; these replace them (see
// hijackWriter). A frame up to writeBufSize bytes with its header is one
// write(2), a longer one two; reads take what is there up to readBufSize,
// and a longer payload is read straight into the message.
const (
	readBufSize  = 512
	writeBufSize = 1024
)

// hijackWriter is the ResponseWriter handed to websocket.Accept: its
// Hijack keeps the socket (for write deadlines) and gives coder/websocket
// buffers of readBufSize and writeBufSize instead of net/http's 8 KiB.
// When bytes arrived with the handshake (a client that did not wait for
// the 101), net/http's buffers are kept, so none is lost.
type hijackWriter struct {
	http.ResponseWriter
	nc net.Conn
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.nc = nc
	if brw.Reader.Buffered() > 0 || brw.Writer.Buffered() > 0 {
		return nc, brw, nil
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, readBufSize), bufio.NewWriterSize(nc, writeBufSize)), nil
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (h *hijackWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// handshake is the common part of every /ws/ path: capacity, auth, origin,
// upgrade. It returns nil when it has answered the request itself. The
// upgrade runs on net/http's goroutine, and a connection it returns is
// detached from net/http (detach.go).
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, needAuth, limited bool) *conn {
	var cn *conn
	onNetHTTP(w, func() { cn = s.upgrade(w, r, needAuth, limited) })
	if cn != nil {
		detach(w)
	}
	return cn
}

// upgrade is handshake's work.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, needAuth, limited bool) *conn {
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
	hw := &hijackWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
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
	// Not derived from r.Context(): that holds the request and net/http's
	// connection (with its buffers), which the handler lets go of once
	// the connection is registered (detach).
	ctx, stop := context.WithCancel(context.Background())
	cn := &conn{s: s, id: s.ids.Add(1), user: user, ws: c, nc: hw.nc, ctx: ctx, stop: stop}
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
	// The wheel's current slot: its next visit is a whole turn away, so
	// the first ping comes PingInterval (less at most one tick) from now.
	cn.slot = s.pingTick % pingSlots
	s.conns[cn.slot][cn] = struct{}{}
	s.connsWG.Add(1)
	s.connsMu.Unlock()
	return cn
}

// finish ends a connection's handler: the writer stops, the socket is
// closed (normally, unless a close is already under way) and it leaves the
// accounting.
func (c *conn) finish() {
	c.close(websocket.StatusNormalClosure, "")
	c.stop()
	c.s.connsMu.Lock()
	delete(c.s.conns[c.slot], c)
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
	start := !c.writing
	c.writing = true
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// spareCap is the largest queue backing array an idle connection keeps
// for its next batch; a burst's larger one is let go when the writer
// exits.
const spareCap = 8

// writeLoop drains the queue, one frame per message, and exits when it
// finds the queue empty (send starts the next one).
//
// A batch is bounded by WriteTimeout through the socket's write deadline,
// set per batch and cleared after it: a stalled peer's write fails, and
// the connection is closed and counted in ws.write_timeouts. The deadline
// lives in the runtime's poller, so it costs no timer of our own, and the
// writes get a context without Done, so coder/websocket registers no watch
// per frame: on a broadcast to 10,000 connections a context and a timer
// per write cost more CPU than everything but the write syscall (README,
// WebSocket server).
func (c *conn) writeLoop() {
	for {
		c.qmu.Lock()
		batch := c.q
		if len(batch) == 0 {
			c.writing = false
			if cap(batch) > spareCap {
				c.q = nil
			}
			if cap(c.spare) > spareCap {
				c.spare = nil
			}
			c.qmu.Unlock()
			return
		}
		c.q, c.spare = c.spare[:0], nil
		c.qmu.Unlock()
		if c.nc != nil {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.d.WriteTimeout))
		}
		for i, b := range batch {
			err := c.ws.Write(context.Background(), websocket.MessageText, b)
			batch[i] = nil
			if err != nil {
				c.writeFailed(err)
				return
			}
			c.pending.Add(-1)
			c.s.stats.out.Add(1)
		}
		if c.nc != nil {
			_ = c.nc.SetWriteDeadline(time.Time{})
		}
		c.qmu.Lock()
		if c.spare == nil {
			c.spare = batch[:0]
		}
		c.qmu.Unlock()
	}
}

// writeFailed ends the connection after a failed write: a write past the
// deadline is counted as a write timeout. The writer keeps the queue
// (writing stays true), so no other writer starts; what is queued is let
// go.
func (c *conn) writeFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) && !c.closed.Load() {
		c.s.stats.writeTimeouts.Add(1)
	}
	c.closed.Store(true)
	c.stop()
	_ = c.ws.CloseNow()
	c.qmu.Lock()
	c.q, c.spare = nil, nil
	c.qmu.Unlock()
}

// heartbeat is the ping wheel's visit, every PingInterval: a ping still
// unanswered since the last visit closes the connection (1008), else a
// new ping goes out. It never blocks the wheel.
func (c *conn) heartbeat() {
	if c.closed.Load() {
		return
	}
	if !c.pinging.CompareAndSwap(false, true) {
		go c.close(websocket.StatusPolicyViolation, "no pong")
		return
	}
	go c.ping()
}

// ping sends a ping and waits for its pong (read by the handler's
// reader) within PingInterval; a ping that cannot be sent or answered in
// time closes the connection.
func (c *conn) ping() {
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
	c.pinging.Store(false)
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
		// No context watch per read: every way a connection ends closes
		// the socket, which ends this read.
		typ, b, err := c.ws.Read(context.Background())
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
