package wsdrv

import (
	"sync"
	"sync/atomic"
)

// seqWindow is how many sequence numbers behind the highest one a receiver
// remembers, to tell a duplicate from a late arrival.
const seqWindow = 4096

// stream tracks one receiver's view of one room's or topic's sequence: the
// first live event sets its base, every later one is delivered, a
// duplicate, or out of order. Expected deliveries are counted at the end
// from the highest sequence number anyone saw (topics.max).
type stream struct {
	top     *topic
	started bool
	base    int64        // events up to base came before this receiver
	last    int64        // highest seen
	lastDel int64        // highest delivered, own acks left out: order is judged by it
	high    atomic.Int64 // last, for the draining session (caughtUp)
	seen    [seqWindow / 64]uint64
	end     atomic.Int64 // highest expected, fixed when the session closed; 0: the topic max at the end
	counts  fanCounts
}

type fanCounts struct{ delivered, duplicates, outOfOrder, own int64 }

// observe records event seq delivered to this receiver.
func (s *stream) observe(seq int64) { s.see(seq, false) }

// own records seq as this receiver's own message (acknowledged to it, not
// delivered: a chat sender does not get its own broadcast).
func (s *stream) own(seq int64) { s.see(seq, true) }

func (s *stream) see(seq int64, own bool) {
	s.top.raise(seq)
	count := &s.counts.delivered
	if own {
		count = &s.counts.own
	}
	if !s.started {
		s.started, s.base, s.last = true, seq-1, seq
		s.high.Store(seq)
		s.mark(seq)
		*count++
		if !own {
			s.lastDel = seq
		}
		return
	}
	switch {
	case seq <= s.base:
		return // replayed history from before this receiver
	case seq <= s.last-seqWindow:
		s.counts.outOfOrder++ // too old to tell; late at least
		return
	case seq > s.last:
		for q := s.last + 1; q < seq && q <= s.last+seqWindow; q++ {
			s.unmark(q) // slots the window reuses: not seen yet
		}
		s.last = seq
		s.high.Store(seq)
		s.mark(seq)
		*count++
	case s.marked(seq):
		if !own {
			s.counts.duplicates++
		}
		return
	default:
		s.mark(seq)
		*count++
		// A delivery is out of order only behind another delivery: a
		// sender's own ack comes straight from the server, while earlier
		// broadcasts may still be on their way to it through the room.
		if !own && seq < s.lastDel {
			s.counts.outOfOrder++
		}
	}
	if !own {
		s.lastDel = max(s.lastDel, seq)
	}
}

func (s *stream) slot(seq int64) (int, uint64) {
	i := uint64(seq) % seqWindow
	return int(i / 64), 1 << (i % 64)
}
func (s *stream) mark(seq int64)   { w, b := s.slot(seq); s.seen[w] |= b }
func (s *stream) unmark(seq int64) { w, b := s.slot(seq); s.seen[w] &^= b }
func (s *stream) marked(seq int64) bool {
	w, b := s.slot(seq)
	return s.seen[w]&b != 0
}

// expected is how many deliveries this receiver should have had.
func (s *stream) expected() int64 {
	if !s.started {
		return 0
	}
	end := s.end.Load()
	if end == 0 {
		end = s.top.max.Load()
	}
	end = max(end, s.last) // what this receiver got is expected too
	return max(end-s.base-s.counts.own, s.counts.delivered)
}

// topic is one room's or topic's shared state: the highest sequence number
// seen by any receiver or sender ack.
type topic struct{ max atomic.Int64 }

func (t *topic) raise(seq int64) {
	for {
		m := t.max.Load()
		if seq <= m || t.max.CompareAndSwap(m, seq) {
			return
		}
	}
}

// topics maps room or topic names to their shared state.
type topics struct {
	mu sync.Mutex
	m  map[string]*topic
}

// get returns the topic named name (created on first use; the number of
// names is bounded by maxTopics, past which every other name shares one).
func (ts *topics) get(name []byte) *topic {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[string]*topic{}
	}
	if t, ok := ts.m[string(name)]; ok {
		return t
	}
	key := string(name)
	if len(ts.m) >= maxTopics {
		key = "\x00other"
		if t, ok := ts.m[key]; ok {
			return t
		}
	}
	t := &topic{}
	ts.m[key] = t
	return t
}

// maxTopics bounds the topics a run tracks (a hostile server cannot grow
// the driver's memory with room names).
const maxTopics = 10000
