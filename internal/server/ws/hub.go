package ws

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/loadrig/loadrig/internal/domain"
)

// Feed topics of the WebSocket server's events. Chat rooms are
// topicRoomPrefix+room; private messages and notifications are keyed by
// the recipient's user id.
const (
	topicRoomPrefix    = "chat/"
	TopicPM            = "pm"
	TopicNotifications = "notifications"
	TopicTicker        = "ticker"
)

// keyed topics route an event to the connections of the user in its Key;
// other topics go to every connection that joined them, except the one
// whose id is the Key of an event this node published (the sender).
func keyed(topic string) bool { return topic == TopicPM || topic == TopicNotifications }

// hubBuffer is the Feed subscription buffer of one hub topic. The hub
// drains it at memory speed (non-blocking queue sends), so it fills only
// when the process is starved.
const hubBuffer = 4096

// hub fans the Feed's events out to this node's connections: one Feed
// subscription per topic with local listeners, one goroutine draining it.
type hub struct {
	s      *Server
	mu     sync.RWMutex
	topics map[string]*hubTopic
}

type hubTopic struct {
	mu    sync.RWMutex // guards all and byKey
	name  string
	all   map[*conn]struct{}
	byKey map[int64]map[*conn]struct{}
	sub   *domain.Subscription // guarded by hub.mu
	quit  chan struct{}
}

func newHub(s *Server) *hub { return &hub{s: s, topics: map[string]*hubTopic{}} }

// join adds c to topic (keyed topics: under key). Under the topic's write
// lock, before any later event of the topic fans out, it calls then(): a
// join sends history there, so history and live events neither overlap
// nor leave a gap (see conn.floor). Other topics are not held up.
func (h *hub) join(topic string, key int64, c *conn, then func()) {
	h.mu.Lock()
	t := h.topics[topic]
	if t == nil {
		t = &hubTopic{name: topic, all: map[*conn]struct{}{}, byKey: map[int64]map[*conn]struct{}{}, quit: make(chan struct{})}
		t.sub = h.s.subscribe(topic, hubBuffer)
		h.topics[topic] = t
		go h.pump(t, t.sub)
	}
	t.mu.Lock() // lock order: hub, then topic
	h.mu.Unlock()
	defer t.mu.Unlock()
	if keyed(topic) {
		m := t.byKey[key]
		if m == nil {
			m = map[*conn]struct{}{}
			t.byKey[key] = m
		}
		m[c] = struct{}{}
	} else {
		t.all[c] = struct{}{}
	}
	if then != nil {
		then()
	}
}

// locked runs f under topic's write lock (resume: like join's history).
func (h *hub) locked(topic string, f func()) {
	h.mu.RLock()
	t := h.topics[topic]
	if t == nil {
		h.mu.RUnlock()
		f()
		return
	}
	t.mu.Lock()
	h.mu.RUnlock()
	defer t.mu.Unlock()
	f()
}

// leave removes c from topic; the last listener closes the subscription.
func (h *hub) leave(topic string, key int64, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[topic]
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if keyed(topic) {
		if m := t.byKey[key]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(t.byKey, key)
			}
		}
	} else {
		delete(t.all, c)
	}
	if len(t.all) == 0 && len(t.byKey) == 0 {
		delete(h.topics, topic)
		close(t.quit)
		t.sub.Close()
	}
}

// rlockTopic returns topic's listeners, read-locked (nil: none); the caller
// unlocks.
func (h *hub) rlockTopic(topic string) *hubTopic {
	h.mu.RLock()
	t := h.topics[topic]
	if t != nil {
		t.mu.RLock()
	}
	h.mu.RUnlock()
	return t
}

// members returns the distinct users of topic's connections.
func (h *hub) members(topic string) []int64 {
	t := h.rlockTopic(topic)
	if t == nil {
		return nil
	}
	defer t.mu.RUnlock()
	seen := map[int64]bool{}
	var out []int64
	for c := range t.all {
		if c.user != 0 && !seen[c.user] {
			seen[c.user] = true
			out = append(out, c.user)
		}
	}
	return out
}

// topicNames returns the topics with listeners whose name starts with
// prefix.
func (h *hub) topicNames(prefix string) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for name := range h.topics {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}

// userIn reports whether another connection of user than c is in topic.
func (h *hub) userIn(topic string, user int64, c *conn) bool {
	t := h.rlockTopic(topic)
	if t == nil {
		return false
	}
	defer t.mu.RUnlock()
	for o := range t.all {
		if o != c && o.user == user {
			return true
		}
	}
	return false
}

// pump drains t's subscription into its connections until the topic is
// dropped. A subscription the Feed kicked as slow is replaced, and the
// loss is counted as a drop.
func (h *hub) pump(t *hubTopic, sub *domain.Subscription) {
	for {
		select {
		case e := <-sub.C():
			h.fanout(t, e)
		case <-sub.Done():
			h.mu.Lock()
			select {
			case <-t.quit:
				h.mu.Unlock()
				return
			default:
			}
			h.s.stats.drops.Add(1)
			sub = h.s.subscribe(t.name, hubBuffer)
			t.sub = sub
			h.mu.Unlock()
		case <-t.quit:
			return
		}
	}
}

func (h *hub) fanout(t *hubTopic, e domain.Event) {
	if len(e.Data) == 0 {
		return
	}
	seq := envelopeSeq(e.Data)
	topic := t.name // the log topic, whose floors join and resume set
	if t.name == TopicNotifications {
		topic = notifTopic(e.Key)
	}
	if seq > 0 && h.s.observe != nil {
		h.s.observe.Observe(topic, seq)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if keyed(t.name) {
		for c := range t.byKey[e.Key] {
			c.deliver(topic, seq, e.Data)
		}
		return
	}
	local := e.Origin == h.s.d.Node
	for c := range t.all {
		if local && c.id == e.Key {
			continue
		}
		c.deliver(t.name, seq, e.Data)
	}
}

// deliver queues an event unless the log already gave it to c on join or
// resume.
func (c *conn) deliver(topic string, seq int64, b []byte) {
	if seq > 0 {
		c.mu.Lock()
		f := c.floor[topic]
		c.mu.Unlock()
		if seq <= f {
			return
		}
	}
	c.send(b)
}

// setFloor records that c has been sent topic's events up to seq.
func (c *conn) setFloor(topic string, seq int64) {
	c.mu.Lock()
	if c.floor == nil {
		c.floor = map[string]int64{}
	}
	if seq > c.floor[topic] {
		c.floor[topic] = seq
	}
	c.mu.Unlock()
}

var seqKey = []byte(`"seq":`)

// envelopeSeq reads seq from an envelope this server encoded: the first
// `"seq":` is the field (it precedes data, and the string fields before it
// cannot contain an unescaped quote).
func envelopeSeq(b []byte) int64 {
	i := bytes.Index(b, seqKey)
	if i < 0 {
		return 0
	}
	b = b[i+len(seqKey):]
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	n, _ := strconv.ParseInt(string(b[:j]), 10, 64)
	return n
}

// subscribe is Feed.Subscribe, telling the relay first (Options.Watch).
func (s *Server) subscribe(topic string, buf int, keys ...int64) *domain.Subscription {
	if s.d.Watch != nil {
		s.d.Watch(topic)
	}
	return s.d.Feed.Subscribe(topic, buf, keys...)
}

// publish sends an encoded envelope to topic through the Feed (and so to
// the other nodes). sender is the publishing connection's id (0: none), so
// the hub skips it; key is the recipient on keyed topics.
func (s *Server) publish(topic string, key int64, kind string, data []byte) {
	s.d.Feed.Publish(domain.Event{Topic: topic, Kind: kind, Key: key, Data: data})
}
