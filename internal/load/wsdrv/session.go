package wsdrv

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/netcount"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// worker holds one connection at a time: its session is one operation.
type worker struct {
	d      *Driver
	id     int
	url    string
	room   string
	sender bool
	local  net.Addr
	ev     *tmpl.Evaluator
	rng    *rand.Rand

	connectH *metrics.Histogram // written by Do's goroutine only
	ackH     *metrics.Histogram // written by the reader (Do's goroutine)
	done     []*stream          // fanout of finished sessions, read by Annotate

	buf  []byte // read buffer, reused
	out  []byte // frame being built by the sender, reused
	msgN uint64 // messages rendered, for {{.Seq}}
}

// Close implements load.Worker.
func (w *worker) Close() error { return nil }

// session is the state one operation keeps across reconnects.
type session struct {
	op      *load.Op
	count   netcount.Counter
	mu      sync.Mutex         // guards streams (the map; a stream is the reader's)
	streams map[string]*stream // by room or topic
	lastSeq int64              // for resume (one topic per connection)
	synced  bool               // polling: the first answer set lastSeq
	topic   string
}

// snapshotEnds fixes every stream's expected end at its topic's highest
// sequence number now (at most once per stream).
func (s *session) snapshotEnds() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.streams {
		st.end.CompareAndSwap(0, st.top.max.Load())
	}
}

// caughtUp reports whether every stream has reached its expected end (the
// highest sequence number any receiver of the run had seen when this
// session began to close): nothing more is due, so a draining subscriber
// need not wait out the whole Drain. Call after snapshotEnds.
func (s *session) caughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.streams {
		end := st.end.Load()
		if end == 0 {
			end = st.top.max.Load()
		}
		if st.high.Load() < end {
			return false
		}
	}
	return true
}

// drainWait waits, after the run's end, until the subscriber is caught up
// (caughtUp), Drain has passed or done closes.
func (s *session) drainWait(drain time.Duration, done <-chan struct{}) {
	deadline := time.NewTimer(drain)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !s.caughtUp() {
		select {
		case <-deadline.C:
			return
		case <-done:
			return
		case <-tick.C:
		}
	}
}

func (s *session) stream(w *worker, name []byte) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[string(name)]
	if !ok {
		if len(s.streams) >= 64 {
			return nil // bound per connection
		}
		st = &stream{top: w.d.topics.get(name)}
		s.streams[string(name)] = st
	}
	return st
}

// endReason is how a connection of a session ended.
type endReason int

const (
	endClosing endReason = iota // the run ended: closed cleanly by us (or while connecting)
	endLost                     // it was open; the server closed it or it dropped
	endFailed                   // it never opened
)

// Do implements load.Worker: one session, held until the run's end, with
// reconnects when enabled.
func (w *worker) Do(ctx context.Context, op *load.Op) load.Outcome {
	op.Hold() // every attempt has its own DialTimeout; the session lasts the run
	s := &session{op: op, streams: map[string]*stream{}}
	var out load.Outcome
	attempt := 0
	opened := false
	for {
		var reason endReason
		var kind metrics.ErrKind
		switch w.d.opts.Transport {
		case TransportSSE:
			reason, kind = w.sse(ctx, s, opened)
		case TransportPoll:
			reason, kind = w.poll(ctx, s)
		default:
			reason, kind = w.ws(ctx, s, opened)
		}
		if reason == endClosing {
			break
		}
		if ctx.Err() != nil {
			out.Err = metrics.ErrCanceled
			break
		}
		if reason == endLost {
			opened, attempt = true, 0
		}
		if !w.d.opts.Reconnect {
			out.Err = kind
			break
		}
		if b := w.d.opts.Backoff; b.Attempts > 0 && attempt >= b.Attempts {
			out.Err = kind
			break
		}
		if !w.wait(ctx, op, w.d.opts.Backoff.Delay(attempt, w.rng)) {
			break // the run ended while waiting to reconnect
		}
		if reason == endFailed {
			attempt++
		}
		w.d.reconnects.Add(1)
	}
	// Expect only what was published by the time this session ended (it
	// ended early, or the run ended while it waited to reconnect); a
	// snapshot taken when the run's end began stays (at most one each).
	s.snapshotEnds()
	s.mu.Lock()
	for _, st := range s.streams {
		w.done = append(w.done, st)
	}
	s.mu.Unlock()
	out.BytesSent, out.BytesReceived = s.count.Take()
	return out
}

// wait sleeps d, false when the run ended first.
func (w *worker) wait(ctx context.Context, op *load.Op, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-op.Closing():
		return false
	case <-ctx.Done():
		return false
	}
}

// ws runs one WebSocket connection: dial, the scenario, close. kind is ""
// when the connection ended because the run did.
func (w *worker) ws(ctx context.Context, s *session, resumed bool) (endReason, metrics.ErrKind) {
	d := w.d
	di := &dialInfo{count: &s.count, local: w.local, conns: &d.conns}
	dctx, cancel := context.WithTimeout(context.WithValue(ctx, dialKey{}, di), d.opts.DialTimeout)
	start := time.Now()
	c, resp, err := websocket.Dial(dctx, w.url, &websocket.DialOptions{
		HTTPClient:      d.hc,
		HTTPHeader:      d.hdr,
		CompressionMode: websocket.CompressionDisabled,
	})
	cancel()
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		d.failed.Add(1)
		select {
		case <-s.op.Closing():
			return endClosing, ""
		default:
		}
		return endFailed, classifyDial(ctx, err, status)
	}
	took := time.Since(start)
	w.connectH.RecordValue(metrics.Micros(took))
	s.op.Phase(load.PhaseConnect, di.connect)
	s.op.Phase(load.PhaseHandshake, took-di.connect)
	c.SetReadLimit(d.opts.ReadLimit)

	cs := &wsConn{c: c, w: w, s: s}
	return cs.run(ctx, resumed)
}

// wsConn is one open WebSocket connection of a session.
type wsConn struct {
	c *websocket.Conn
	w *worker
	s *session

	inflight *load.Inflight
	ours     atomic.Bool // we closed it (the run ended)
	joinedAt int64       // Unix µs when the join went out (chat)
	sentMu   sync.Mutex
}

func (cs *wsConn) run(ctx context.Context, resumed bool) (endReason, metrics.ErrKind) {
	w, s, d := cs.w, cs.s, cs.w.d
	op := s.op
	connDone := make(chan struct{})
	sendDone := make(chan struct{})
	switch d.opts.Scenario {
	case ScenarioEcho, ScenarioRaw:
		cs.inflight = load.NewInflight(0)
	case ScenarioChat:
		cs.inflight = load.NewInflight(0)
		cs.joinedAt = time.Now().UnixMicro()
		if err := cs.write(ctx, appendJoin(w.out[:0], "join", w.room, 0, false)); err != nil {
			cs.c.CloseNow()
			return cs.lost(err)
		}
		if resumed && s.lastSeq > 0 {
			_ = cs.write(ctx, appendJoin(w.out[:0], "resume", w.room, s.lastSeq, true))
		}
	case ScenarioSubscribe:
		if resumed && s.lastSeq > 0 {
			_ = cs.write(ctx, appendJoin(w.out[:0], "resume", s.topic, s.lastSeq, true))
		}
	}
	sending := (d.opts.Scenario == ScenarioEcho || d.opts.Scenario == ScenarioRaw) || (d.opts.Scenario == ScenarioChat && w.sender)
	if sending {
		go cs.send(ctx, sendDone, connDone)
	} else {
		close(sendDone)
	}
	go func() { // the closer: at the run's end, stop, drain, close 1000
		select {
		case <-op.Closing():
		case <-connDone:
			return
		}
		if d.opts.Scenario != ScenarioChat {
			// Events keep coming while we drain: expect what had been
			// published when the run ended.
			s.snapshotEnds()
		}
		<-sendDone
		cs.drain(connDone)
		if d.opts.Scenario == ScenarioChat {
			s.snapshotEnds() // senders stopped and their acks are in
		}
		cs.ours.Store(true)
		_ = cs.c.Close(websocket.StatusNormalClosure, "")
	}()
	err := cs.read(ctx)
	close(connDone)
	<-sendDone
	if cs.inflight != nil {
		for range cs.inflight.Reset() {
			op.MessageError(load.ErrNoReply)
		}
	}
	if cs.ours.Load() {
		d.closedBy(codeName(int(websocket.StatusNormalClosure)))
		return endClosing, ""
	}
	cs.c.CloseNow()
	return cs.lost(err)
}

// lost accounts for a connection the server closed or that dropped.
func (cs *wsConn) lost(err error) (endReason, metrics.ErrKind) {
	d := cs.w.d
	code := int(websocket.CloseStatus(err))
	d.closedBy(codeName(code))
	return endLost, closeKind(code)
}

// drain waits, after sending stopped, for replies still due: until none
// awaits one (echo, raw, chat acks) or Drain has passed.
func (cs *wsConn) drain(connDone <-chan struct{}) {
	if cs.w.d.opts.Scenario == ScenarioSubscribe {
		// a subscriber waits until it has what was published by the end
		cs.s.drainWait(cs.w.d.opts.Drain, connDone)
		return
	}
	deadline := time.NewTimer(cs.w.d.opts.Drain)
	defer deadline.Stop()
	if cs.inflight == nil || cs.w.d.opts.Scenario == ScenarioChat {
		// receivers (chat senders receive too) wait the whole drain:
		// deliveries may still come
		select {
		case <-deadline.C:
		case <-connDone:
		}
		return
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for cs.inflight.Pending() > 0 {
		select {
		case <-deadline.C:
			return
		case <-connDone:
			return
		case <-tick.C:
		}
	}
}

func (cs *wsConn) write(ctx context.Context, b []byte) error {
	return cs.c.Write(ctx, websocket.MessageText, b)
}

// send is the connection's sender: messages at the connection's share of
// the rate, from intended send times.
func (cs *wsConn) send(ctx context.Context, done chan<- struct{}, connDone <-chan struct{}) {
	defer close(done)
	w, d, op := cs.w, cs.w.d, cs.s.op
	// Spread the first sends of connections over one interval.
	phase := time.Duration(float64(d.interval) * frac(uint64(w.id)))
	p := load.NewPacer(time.Now().Add(phase), d.interval)
	defer p.Stop()
	stop := make(chan struct{})
	go func() {
		select {
		case <-op.Closing():
		case <-connDone:
		}
		close(stop)
	}()
	var frame []byte
	for {
		at, ok := p.Next(ctx, stop)
		if !ok {
			return
		}
		ts := at.UnixMicro()
		id, lost := cs.inflight.Add(at)
		if lost {
			op.MessageError(load.ErrNoReply)
		}
		w.ev.Begin(w.msgN)
		w.msgN++
		switch d.opts.Scenario {
		case ScenarioEcho:
			frame = cs.echoFrame(frame[:0], id, ts)
		case ScenarioRaw:
			frame = w.ev.Append(frame[:0], d.tpl)
		case ScenarioChat:
			frame = cs.chatFrame(frame[:0], id, ts)
		}
		if err := cs.write(ctx, frame); err != nil {
			return // the reader sees the connection end
		}
		op.MessageSent(1)
	}
}

// echoFrame is the rendered message with the correlate field and ts first.
func (cs *wsConn) echoFrame(b []byte, id uint64, ts int64) []byte {
	w, d := cs.w, cs.w.d
	body := w.ev.Append(w.out[:0], d.tpl)
	w.out = body
	b = append(b, `{"`...)
	b = append(b, d.opts.Correlate...)
	b = append(b, `":"`...)
	b = appendID(b, id)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	i := skipWS(body, 0) + 1 // after '{' (checked at New; templated values keep the shape)
	if i > len(body) {
		return append(b, '}')
	}
	rest := body[i:]
	if j := skipWS(rest, 0); j < len(rest) && rest[j] != '}' {
		b = append(b, ',')
	}
	return append(b, rest...)
}

// chatFrame is a msg envelope for the connection's room.
func (cs *wsConn) chatFrame(b []byte, id uint64, ts int64) []byte {
	w, d := cs.w, cs.w.d
	text := w.ev.Append(w.out[:0], d.tpl)
	w.out = text
	b = append(b, `{"type":"msg","id":"`...)
	b = appendID(b, id)
	b = append(b, `","room":"`...)
	b = append(b, w.room...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"data":{"text":`...)
	b = appendJSONString(b, text)
	return append(b, "}}"...)
}

// appendJoin appends a join, leave or resume envelope.
func appendJoin(b []byte, typ, room string, seq int64, withSeq bool) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if room != "" {
		b = append(b, `,"room":`...)
		b = appendJSONString(b, []byte(room))
	}
	if withSeq {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, seq, 10)
	}
	return append(b, '}')
}

// read is the connection's reader loop: every received message is timed
// and accounted until the connection ends.
func (cs *wsConn) read(ctx context.Context) error {
	w := cs.w
	for {
		typ, r, err := cs.c.Reader(ctx)
		if err != nil {
			return err
		}
		w.buf, err = readAll(w.buf[:0], r)
		if err != nil {
			return err
		}
		now := time.Now()
		if typ != websocket.MessageText {
			if cs.inflight != nil && w.d.opts.Scenario == ScenarioRaw {
				cs.matchFIFO(now)
			}
			continue
		}
		cs.handle(w.buf, now)
	}
}

func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func (cs *wsConn) matchFIFO(now time.Time) {
	if t, ok := cs.inflight.TakeOldest(); ok {
		cs.s.op.MessageSince(t, now)
	} else {
		cs.s.op.MessageError(ErrUnmatched)
	}
}

// handle accounts for one received text message.
func (cs *wsConn) handle(b []byte, now time.Time) {
	w, d, s := cs.w, cs.w.d, cs.s
	op := s.op
	var e envelope
	correlate := d.opts.Correlate
	if correlate == "" {
		correlate = DefaultCorrelate
	}
	switch d.opts.Scenario {
	case ScenarioRaw:
		if d.opts.Correlate == "" {
			cs.matchFIFO(now)
			return
		}
		if scanEnvelope(b, correlate, &e) != nil {
			op.MessageError(metrics.ErrProtocol)
			return
		}
		cs.matchID(e.id, now)
		return
	}
	if scanEnvelope(b, correlate, &e) != nil {
		op.MessageError(metrics.ErrProtocol)
		return
	}
	if string(e.typ) == "error" {
		op.MessageError(errorReplyKind(e.code))
		if d.opts.Scenario == ScenarioEcho || d.opts.Scenario == ScenarioChat {
			// the failed request gets no other answer
			if id, ok := parseID(e.id); ok {
				cs.inflight.Take(id)
			}
		}
		return
	}
	switch d.opts.Scenario {
	case ScenarioEcho:
		cs.matchID(e.id, now)
	case ScenarioChat:
		switch string(e.typ) {
		case "ack":
			if id, ok := parseID(e.id); ok {
				if t, ok := cs.inflight.Take(id); ok {
					w.ackH.RecordValue(metrics.Micros(max(now.Sub(t), 0)))
				}
			}
			if e.hasSeq {
				if st := s.stream(w, []byte(w.room)); st != nil {
					st.own(e.seq)
				}
			}
		case "msg":
			room := e.room
			if len(room) == 0 {
				room = []byte(w.room)
			}
			st := s.stream(w, room)
			if e.ts > 0 && e.ts < cs.joinedAt && st != nil && (!st.started || e.hasSeq && e.seq <= st.last) {
				// History replayed on join: posted before we joined, and
				// before any live message, or (on a rejoin) already seen.
				// Once live messages flow, an older ts with a new seq is
				// live (posted just before the join, or resumed).
				return
			}
			if e.ts > 0 {
				op.MessageSince(time.UnixMicro(e.ts), now)
			}
			if e.hasSeq && st != nil {
				st.observe(e.seq)
				s.lastSeq = max(s.lastSeq, e.seq)
			}
		}
	case ScenarioSubscribe:
		cs.s.event(w, &e, now)
	}
}

// event accounts for one subscription event (any transport).
func (s *session) event(w *worker, e *envelope, now time.Time) {
	if e.sts > 0 {
		s.op.MessageSince(time.UnixMicro(e.sts), now)
	} else if e.ts > 0 {
		s.op.MessageSince(time.UnixMicro(e.ts), now)
	}
	if !e.hasSeq {
		return
	}
	name := e.room
	if len(name) == 0 {
		name = e.typ
	}
	if s.topic == "" {
		s.topic = string(e.room)
	}
	if st := s.stream(w, name); st != nil {
		st.observe(e.seq)
	}
	s.lastSeq = max(s.lastSeq, e.seq)
}

func (cs *wsConn) matchID(idb []byte, now time.Time) {
	id, ok := parseID(idb)
	if !ok {
		cs.s.op.MessageError(ErrUnmatched)
		return
	}
	if t, ok := cs.inflight.Take(id); ok {
		cs.s.op.MessageSince(t, now)
	} else {
		cs.s.op.MessageError(ErrUnmatched)
	}
}

// frac spreads ids over [0, 1) (the golden ratio sequence).
func frac(i uint64) float64 {
	const phi = 0.6180339887498949
	f := float64(i) * phi
	return f - float64(uint64(f))
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
