package ws

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// logTimeout bounds one replay-log call made while serving a frame.
const logTimeout = 2 * time.Second

// stamp sets sts (once per broadcast) and, when topic is non-empty, appends
// the envelope to the log to number it. When the log fails (Redis gone) the
// event is still delivered, without a seq, and the error is counted.
func (s *Server) stamp(ctx context.Context, topic string, e *Envelope) []byte {
	e.STS = Micros(time.Now())
	if topic == "" {
		return AppendEnvelope(nil, e)
	}
	prefix, suffix := splitEnvelope(e)
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	seq, data, err := s.d.Log.Append(ctx, topic, prefix, suffix)
	if err != nil {
		s.stats.logErrors.Add(1)
		s.d.Logger.Debug("replay log append failed; delivering without a seq", "topic", topic, "err", err)
		e.Seq = 0
		return AppendEnvelope(nil, e)
	}
	e.Seq = seq
	return data
}

// broadcast numbers e in logTopic's log (stamp) and publishes it on topic
// (key as publish's), holding logTopic's order lock from the one to the
// other: the Feed delivers in publish order, so every subscriber — a room's
// hub pump, and through it each connection's queue — gets logTopic's
// events in seq order. Without the lock two senders in one room could take
// seqs 5 and 6 and publish 6 first.
//
// Across nodes a lock per process cannot order anything: a node would
// deliver its own seq 6 at once while seq 5, numbered by another node,
// was still on its way through Redis. So with a publishingLog (RedisLog
// with the relay) numbering and publishing are one step in Redis
// (broadcastOrdered), and every node delivers from Redis's one order.
func (s *Server) broadcast(ctx context.Context, logTopic, topic string, key int64, kind string, e *Envelope) {
	if pl, ok := s.d.Log.(publishingLog); ok && pl.Publishes() {
		s.broadcastOrdered(ctx, pl, logTopic, topic, key, kind, e)
		return
	}
	unlock := s.order.lock(logTopic)
	defer unlock()
	s.publish(topic, key, kind, s.stamp(ctx, logTopic, e))
}

// publishingLog is a Log that publishes each event it numbers to every
// node, this one included, in the same atomic step (RedisLog over an
// EventLog with the Feed's relay), so a topic's events reach every node in
// seq order whichever node numbered them.
type publishingLog interface {
	Publishes() bool
	// AppendPublish numbers and stores prefix+seq+suffix in topic's log
	// and publishes e with that as its Data; received is how many
	// subscribers (nodes) got it.
	AppendPublish(ctx context.Context, topic string, e domain.Event, prefix, suffix []byte) (seq int64, data []byte, received int64, err error)
}

// broadcastOrdered is broadcast over a publishingLog: this node delivers
// its own numbered event when it comes back from Redis, like every other
// node, so no node sees a room's seqs out of order. When nobody received
// it (this node's subscription not back yet after an outage) it is
// delivered here at once; when the log fails (Redis gone) it is delivered
// locally without a seq, as stamp does.
func (s *Server) broadcastOrdered(ctx context.Context, pl publishingLog, logTopic, topic string, key int64, kind string, e *Envelope) {
	e.STS = Micros(time.Now())
	prefix, suffix := splitEnvelope(e)
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	ev := domain.Event{Topic: topic, Kind: kind, Key: key, At: time.Now(), Origin: s.d.Node}
	seq, data, received, err := pl.AppendPublish(ctx, logTopic, ev, prefix, suffix)
	if err != nil {
		s.stats.logErrors.Add(1)
		s.d.Logger.Debug("replay log append failed; delivering without a seq", "topic", logTopic, "err", err)
		e.Seq = 0
		s.publish(topic, key, kind, AppendEnvelope(nil, e))
		return
	}
	e.Seq = seq
	if received == 0 {
		ev.Data, ev.Ordered = data, true
		s.d.Feed.Receive(ev)
	}
}

// orderLocks are the broadcast order locks, striped by log topic (a fixed
// set however many rooms there are; two rooms on one stripe only take
// turns). Each is a channel of one, not a sync.Mutex, so a broadcast
// waiting its turn is durably blocked under testing/synctest.
type orderLocks [64]chan struct{}

func newOrderLocks() *orderLocks {
	var o orderLocks
	for i := range o {
		o[i] = make(chan struct{}, 1)
	}
	return &o
}

// lock takes topic's stripe and returns its unlock.
func (o *orderLocks) lock(topic string) func() {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(topic); i++ {
		h = (h ^ uint32(topic[i])) * 16777619
	}
	ch := o[h%uint32(len(o))]
	ch <- struct{}{}
	return func() { <-ch }
}

func (c *conn) ack(id json.RawMessage, room string, seq, ts int64, data json.RawMessage) {
	c.send(AppendEnvelope(nil, &Envelope{Type: TypeAck, ID: id, Room: room, Seq: seq, TS: ts, STS: Micros(time.Now()), Data: data}))
}

func (c *conn) fail(id json.RawMessage, code, msg string) { c.send(errorFrame(id, code, msg)) }

// replay sends topic's stored events after since (resume, join history),
// under the topic's lock; it records the floor so live
// copies are skipped.
func (c *conn) replay(topic string, since int64, tail int) {
	ctx, cancel := context.WithTimeout(c.ctx, logTimeout)
	defer cancel()
	var (
		es  []Entry
		err error
	)
	if tail < 0 { // live from now on: skip in-flight copies of stored events
		last, err := c.s.d.Log.Last(ctx, topic)
		if err != nil {
			c.s.stats.logErrors.Add(1)
		}
		c.setFloor(topic, last)
		return
	}
	if tail > 0 {
		es, err = c.s.d.Log.Tail(ctx, topic, tail)
	} else {
		es, err = c.s.d.Log.Since(ctx, topic, since, maxBatch)
	}
	if err != nil {
		c.s.stats.logErrors.Add(1)
		return
	}
	var last int64
	for _, e := range es {
		c.send(e.Data)
		last = e.Seq
	}
	// Nothing stored leaves the floor at 0: reading Last here instead would
	// race an append between the two reads (that event, already past the
	// read history, would then be skipped live too). Nothing was sent from
	// the log, so nothing live can duplicate it.
	c.setFloor(topic, last)
}

// serveChat is /ws/chat: rooms, private messages, typing, presence.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request) {
	c := s.handshake(w, r, true, true)
	if c == nil {
		return
	}
	c.rooms = map[string]struct{}{}
	s.hub.join(TopicPM, c.user, c, nil)
	defer func() {
		for room := range c.rooms {
			c.leaveRoom(room)
		}
		s.hub.leave(TopicPM, c.user, c)
		c.finish()
	}()
	c.readLoop(c.chatFrame)
}

func (c *conn) chatFrame(e *Envelope) {
	s := c.s
	switch e.Type {
	case TypeJoin:
		if e.Room == "" {
			c.fail(e.ID, CodeInvalid, `join needs "room"`)
			return
		}
		if _, ok := c.rooms[e.Room]; ok {
			c.ack(e.ID, e.Room, 0, e.TS, nil)
			return
		}
		if len(c.rooms) >= maxRoomsPerConn {
			c.fail(e.ID, CodeInvalid, "too many rooms on one connection (max "+strconv.Itoa(maxRoomsPerConn)+")")
			return
		}
		topic := topicRoomPrefix + e.Room
		c.rooms[e.Room] = struct{}{}
		// Who is here (every node), then the last messages, then live.
		users, already := s.presenceJoin(c.ctx, topic, c)
		for _, u := range users {
			c.send(presenceFrame(e.Room, u, "online"))
		}
		s.hub.join(topic, 0, c, func() {
			c.ack(e.ID, e.Room, 0, e.TS, nil)
			c.replay(topic, 0, s.d.History)
		})
		if !already {
			s.publish(topic, c.id, TypePresence, presenceFrame(e.Room, c.user, "online"))
		}
	case TypeLeave:
		if _, ok := c.rooms[e.Room]; !ok {
			c.fail(e.ID, CodeNotFound, "not in room "+strconv.Quote(e.Room))
			return
		}
		c.leaveRoom(e.Room)
		c.ack(e.ID, e.Room, 0, e.TS, nil)
	case TypeMsg:
		if _, ok := c.rooms[e.Room]; !ok {
			c.fail(e.ID, CodeNotFound, "join room "+strconv.Quote(e.Room)+" before sending to it")
			return
		}
		text, err := decodeText(e.Data)
		if err != nil {
			c.fail(e.ID, CodeInvalid, err.Error())
			return
		}
		topic := topicRoomPrefix + e.Room
		out := Envelope{Type: TypeMsg, Room: e.Room, TS: e.TS, Data: mustJSON(msgData{Text: text, From: c.user})}
		s.broadcast(c.ctx, topic, topic, c.id, TypeMsg, &out)
		c.ack(e.ID, e.Room, out.Seq, e.TS, nil)
	case TypePM:
		if e.To == 0 {
			c.fail(e.ID, CodeInvalid, `pm needs "to": a user id`)
			return
		}
		text, err := decodeText(e.Data)
		if err != nil {
			c.fail(e.ID, CodeInvalid, err.Error())
			return
		}
		out := Envelope{Type: TypePM, To: e.To, TS: e.TS, Data: mustJSON(msgData{Text: text, From: c.user})}
		s.publish(TopicPM, e.To, TypePM, s.stamp(c.ctx, "", &out))
		c.ack(e.ID, "", 0, e.TS, nil)
	case TypeTyping:
		if _, ok := c.rooms[e.Room]; !ok {
			c.fail(e.ID, CodeNotFound, "not in room "+strconv.Quote(e.Room))
			return
		}
		now := time.Now()
		if c.typing == nil {
			c.typing = map[string]time.Time{}
		}
		if now.Sub(c.typing[e.Room]) < typingEvery { // throttled: dropped silently
			return
		}
		c.typing[e.Room] = now
		out := Envelope{Type: TypeTyping, Room: e.Room, TS: e.TS, Data: mustJSON(map[string]int64{"user_id": c.user})}
		s.publish(topicRoomPrefix+e.Room, c.id, TypeTyping, s.stamp(c.ctx, "", &out))
	case TypeResume:
		if _, ok := c.rooms[e.Room]; !ok {
			c.fail(e.ID, CodeNotFound, "join room "+strconv.Quote(e.Room)+" before resuming it")
			return
		}
		c.resume(topicRoomPrefix+e.Room, topicRoomPrefix+e.Room, e)
	default:
		c.fail(e.ID, CodeInvalid, e.Type+" is not used on /ws/chat")
	}
}

// resume sends what the client missed after e.Seq, under the hub lock so
// it is neither duplicated nor overtaken by live events.
// hubTopic is the hub topic whose live events logTopic's stored ones must
// not cross.
func (c *conn) resume(hubTopic, logTopic string, e *Envelope) {
	c.s.hub.locked(hubTopic, func() { c.replay(logTopic, e.Seq, 0) })
}

func (c *conn) leaveRoom(room string) {
	topic := topicRoomPrefix + room
	delete(c.rooms, room)
	c.s.hub.leave(topic, 0, c)
	if !c.s.presenceLeave(c.ctx, topic, c) {
		c.s.publish(topic, c.id, TypePresence, presenceFrame(room, c.user, "offline"))
	}
}

type msgData struct {
	Text string `json:"text"`
	From int64  `json:"from,omitempty"`
}

func presenceFrame(room string, user int64, status string) []byte {
	return AppendEnvelope(nil, &Envelope{Type: TypePresence, Room: room, STS: Micros(time.Now()),
		Data: mustJSON(struct {
			UserID int64  `json:"user_id"`
			Status string `json:"status"`
		}{user, status})})
}

// serveNotifications is /ws/notifications: the caller's own notifications,
// pushed by POST /api/notifications; resume {seq} replays missed ones.
func (s *Server) serveNotifications(w http.ResponseWriter, r *http.Request) {
	c := s.handshake(w, r, true, true)
	if c == nil {
		return
	}
	topic := notifTopic(c.user)
	s.hub.join(TopicNotifications, c.user, c, func() { c.replay(topic, 0, -1) })
	defer func() { s.hub.leave(TopicNotifications, c.user, c); c.finish() }()
	c.readLoop(func(e *Envelope) {
		if e.Type != TypeResume {
			c.fail(e.ID, CodeInvalid, "only resume is sent on /ws/notifications")
			return
		}
		c.resume(TopicNotifications, topic, e)
	})
}

func notifTopic(user int64) string { return "notifications/" + strconv.FormatInt(user, 10) }

// serveTicker is /ws/ticker: ticks and price changes; anonymous allowed.
func (s *Server) serveTicker(w http.ResponseWriter, r *http.Request) {
	c := s.handshake(w, r, false, true)
	if c == nil {
		return
	}
	s.hub.join(TopicTicker, 0, c, func() { c.replay(TopicTicker, 0, -1) })
	defer func() { s.hub.leave(TopicTicker, 0, c); c.finish() }()
	c.readLoop(func(e *Envelope) {
		if e.Type != TypeResume {
			c.fail(e.ID, CodeInvalid, "only resume is sent on /ws/ticker")
			return
		}
		c.resume(TopicTicker, TopicTicker, e)
	})
}

// serveEcho is /ws/echo: every frame back as it came, no rate limit, no
// decoding — the baseline of the WebSocket path itself. Writes are bounded
// by the heartbeat rather than a timer per frame.
func (s *Server) serveEcho(w http.ResponseWriter, r *http.Request) {
	c := s.handshake(w, r, false, false)
	if c == nil {
		return
	}
	defer c.finish()
	for {
		typ, b, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		s.stats.in.Add(1)
		// No timer per frame: a peer that stops reading while its echo is
		// written misses its next pong, and the heartbeat closes it, which
		// ends this write too.
		if err := c.ws.Write(c.ctx, typ, b); err != nil {
			return
		}
		s.stats.out.Add(1)
	}
}
