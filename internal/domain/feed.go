package domain

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Topics of the shop's own events. Any other string is a topic too (a chat
// room, the ticker, a user's notifications): the broker does not interpret
// topics, it only routes by them.
const (
	// TopicProducts carries product changes; Key is the product id.
	TopicProducts = "products"
	// TopicReviews carries new reviews; Key is the reviewed product's id.
	TopicReviews = "reviews"
	// TopicOrders carries order changes; Key is the ordering user's id.
	TopicOrders = "orders"
)

// Kinds of the shop's own events.
const (
	KindProductUpdated = "product_updated"
	KindProductDeleted = "product_deleted"
	KindReviewAdded    = "review_added"
	KindOrderCreated   = "order_created"
	KindOrderUpdated   = "order_updated"
)

// ErrSlowSubscriber is a kicked subscription's Err: its buffer was full when
// an event arrived, so the broker dropped the subscriber rather than block
// the publisher or silently skip the event.
var ErrSlowSubscriber = errors.New("subscriber too slow: its buffer was full, so it was dropped")

// Event is one message on the broker. Shop events carry the entity that
// changed; other topics carry an opaque Data payload. Events are values:
// subscribers must not modify the pointed-to entities.
type Event struct {
	// Topic routes the event (TopicProducts, "chat/lobby", ...).
	Topic string `json:"topic"`
	// Kind says what happened (KindProductUpdated, ...); free for other topics.
	Kind string `json:"kind,omitempty"`
	// Key narrows delivery to subscribers of that key (a product id, a user
	// id). 0 means the event has no key and reaches every subscriber of the
	// topic.
	Key int64 `json:"key,omitempty"`
	// At is when the event was emitted (server clock). Publish sets it when
	// zero.
	At time.Time `json:"at"`
	// Product, Review and Order carry the entity of a shop event.
	Product *Product `json:"product,omitempty"`
	Review  *Review  `json:"review,omitempty"`
	Order   *Order   `json:"order,omitempty"`
	// Data is the payload of events outside the shop domain.
	Data json.RawMessage `json:"data,omitempty"`
	// Origin is the node that published the event; Publish sets it to the
	// broker's node. A relay uses it so no node delivers its own event twice.
	Origin string `json:"origin,omitempty"`
	// Ordered marks an event that a relay published for every node, its
	// origin included, in an order only the relay keeps (a replay log that
	// numbers and publishes in one step: rediscache.EventLog.AppendEvent).
	// Receive delivers it even on its origin, which did not deliver it
	// when it was emitted.
	Ordered bool `json:"ordered,omitempty"`
}

// Relay carries events to the brokers of other processes (Redis pub/sub in
// cache/rediscache). Send must not block the publisher for long: a relay
// queues or drops, and counts what it drops.
type Relay interface {
	Send(e Event)
}

// FeedStats counts what a broker did since it started.
type FeedStats struct {
	// Published counts events given to Publish and Receive.
	Published int64 `json:"published"`
	// Delivered counts event copies put in subscriber buffers.
	Delivered int64 `json:"delivered"`
	// Kicked counts subscribers dropped because their buffer was full.
	Kicked int64 `json:"kicked"`
	// Subscribers is the number of live subscriptions.
	Subscribers int64 `json:"subscribers"`
}

// Feed is the one in-process broker of a server process: every write path
// publishes to it (REST, gRPC, GraphQL, the price ticker, WebSocket posts)
// and every push transport subscribes to it (gRPC WatchPrices, GraphQL
// subscriptions, WebSocket, SSE, polling). With a Relay it also spans
// processes. Publish never blocks: a subscriber whose buffer is full is
// dropped (Done closed, Err ErrSlowSubscriber) and counted, so one slow
// reader can neither stall writers nor silently lose events.
type Feed struct {
	mu     sync.RWMutex
	topics map[string]map[*Subscription]struct{}
	node   string
	relay  Relay

	published, delivered, kicked, subscribers atomic.Int64
}

// Subscription receives the events of one topic until Close or until the
// broker drops it as slow.
type Subscription struct {
	feed  *Feed
	topic string
	c     chan Event
	done  chan struct{}
	once  sync.Once
	err   atomic.Pointer[error]

	all  bool // subscribed without keys: every event of the topic
	mu   sync.RWMutex
	keys map[int64]struct{}
}

// NewFeed returns an empty broker with no relay.
func NewFeed() *Feed {
	return &Feed{topics: map[string]map[*Subscription]struct{}{}}
}

// SetRelay makes the broker span processes: Publish forwards events this
// node emitted to r, and Receive delivers events from other nodes. node
// names this process (unique among the nodes sharing r). Call it before the
// broker is in use.
func (f *Feed) SetRelay(node string, r Relay) {
	f.mu.Lock()
	f.node, f.relay = node, r
	f.mu.Unlock()
}

// Node is the name given to SetRelay ("" without a relay).
func (f *Feed) Node() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.node
}

// Subscribe returns a subscription to topic with a buffer of buf events
// (at least 1). keys limits it to events with those keys (events with key
// 0 always pass); none means every event of the topic.
func (f *Feed) Subscribe(topic string, buf int, keys ...int64) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{feed: f, topic: topic, c: make(chan Event, buf), done: make(chan struct{}),
		all: len(keys) == 0, keys: make(map[int64]struct{}, len(keys))}
	for _, k := range keys {
		s.keys[k] = struct{}{}
	}
	f.mu.Lock()
	subs := f.topics[topic]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		f.topics[topic] = subs
	}
	subs[s] = struct{}{}
	f.mu.Unlock()
	f.subscribers.Add(1)
	return s
}

// C delivers the events. It is never closed (a publisher may race with
// Close): select on Done too.
func (s *Subscription) C() <-chan Event { return s.c }

// Done is closed when the subscription ends: Close, or dropped as slow.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is nil while the subscription lives or after Close, and
// ErrSlowSubscriber when the broker dropped it.
func (s *Subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Topic is the subscribed topic.
func (s *Subscription) Topic() string { return s.topic }

// Add widens a keyed subscription to more keys. On a subscription to every
// key it is a no-op.
func (s *Subscription) Add(keys ...int64) {
	if s.all {
		return
	}
	s.mu.Lock()
	for _, k := range keys {
		s.keys[k] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *Subscription) wants(key int64) bool {
	if s.all || key == 0 {
		return true
	}
	s.mu.RLock()
	_, ok := s.keys[key]
	s.mu.RUnlock()
	return ok
}

// Close ends the subscription. Closing twice is harmless.
func (s *Subscription) Close() { s.end(nil) }

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		if err != nil {
			s.err.Store(&err)
		}
		f := s.feed
		f.mu.Lock()
		if subs := f.topics[s.topic]; subs != nil {
			delete(subs, s)
			if len(subs) == 0 {
				delete(f.topics, s.topic)
			}
		}
		f.mu.Unlock()
		f.subscribers.Add(-1)
		close(s.done)
	})
}

// Publish emits e from this node: it sets At (when zero) and Origin, delivers
// locally without blocking, and forwards to the relay, if any.
func (f *Feed) Publish(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	f.mu.RLock()
	node, relay := f.node, f.relay
	f.mu.RUnlock()
	if e.Origin == "" {
		e.Origin = node
	}
	f.deliver(e)
	if relay != nil && e.Origin == node {
		relay.Send(e)
	}
}

// Receive delivers an event that came from another node through the relay.
// Events this node published itself are ignored (they were delivered
// locally already), except Ordered ones.
func (f *Feed) Receive(e Event) {
	if node := f.Node(); node != "" && e.Origin == node && !e.Ordered {
		return
	}
	f.deliver(e)
}

func (f *Feed) deliver(e Event) {
	f.published.Add(1)
	var slow []*Subscription
	f.mu.RLock()
	for s := range f.topics[e.Topic] {
		if !s.wants(e.Key) {
			continue
		}
		select {
		case s.c <- e:
			f.delivered.Add(1)
		default:
			slow = append(slow, s)
		}
	}
	f.mu.RUnlock()
	for _, s := range slow {
		f.kicked.Add(1)
		s.end(ErrSlowSubscriber)
	}
}

// PublishProduct emits a product_updated event for p.
func (f *Feed) PublishProduct(p Product) {
	f.Publish(Event{Topic: TopicProducts, Kind: KindProductUpdated, Key: p.ID, Product: &p})
}

// Stats returns the broker's counters.
func (f *Feed) Stats() FeedStats {
	return FeedStats{
		Published:   f.published.Load(),
		Delivered:   f.delivered.Load(),
		Kicked:      f.kicked.Load(),
		Subscribers: f.subscribers.Load(),
	}
}
