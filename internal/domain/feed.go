package domain

import "sync"

// ProductChange is published when a product's price or stock changes.
type ProductChange struct {
	Product Product
}

// Feed is an in-process publish/subscribe of product changes, shared by the
// servers of one process (the gRPC bidi stream and WebSocket pushes read it).
// Slow subscribers lose events rather than block publishers.
type Feed struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives changes on C until Close.
type Subscription struct {
	C    chan ProductChange
	feed *Feed
	mu   sync.Mutex
	ids  map[int64]bool // nil: every product
	// Dropped counts events lost because C was full.
	Dropped int64
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{subs: map[*Subscription]struct{}{}} }

// Subscribe returns a subscription with a buffer of size buf. ids limits it to
// those products; none means all.
func (f *Feed) Subscribe(buf int, ids ...int64) *Subscription {
	s := &Subscription{C: make(chan ProductChange, buf), feed: f}
	if len(ids) > 0 {
		s.Add(ids...)
	}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Add widens the subscription to more product ids.
func (s *Subscription) Add(ids ...int64) {
	s.mu.Lock()
	if s.ids == nil {
		s.ids = map[int64]bool{}
	}
	for _, id := range ids {
		s.ids[id] = true
	}
	s.mu.Unlock()
}

func (s *Subscription) wants(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids == nil || s.ids[id]
}

// Close stops delivery; C is not closed (a publisher may race), so readers
// should also watch their own context.
func (s *Subscription) Close() {
	s.feed.mu.Lock()
	delete(s.feed.subs, s)
	s.feed.mu.Unlock()
}

// Publish delivers c to every interested subscriber without blocking.
func (f *Feed) Publish(c ProductChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if !s.wants(c.Product.ID) {
			continue
		}
		select {
		case s.C <- c:
		default:
			s.mu.Lock()
			s.Dropped++
			s.mu.Unlock()
		}
	}
}
