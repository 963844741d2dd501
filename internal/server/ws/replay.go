package ws

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// Entry is one stored event: its seq and its encoded envelope.
type Entry struct {
	Seq  int64
	Data []byte
}

// Log numbers and keeps the recent events of each topic, the one store
// behind chat history on join, resume, long-polling's since and SSE's
// Last-Event-ID. MemoryLog keeps a ring per topic in process; the Redis one
// (rediscache.EventLog) keeps a Stream per topic, so several nodes share
// one numbering and seqs survive a restart.
type Log interface {
	// Append assigns topic's next seq and stores prefix+seq+suffix, which
	// it returns. prefix ends with `"seq":`.
	Append(ctx context.Context, topic string, prefix, suffix []byte) (seq int64, data []byte, err error)
	// Since returns up to limit stored events with seq > since, oldest
	// first.
	Since(ctx context.Context, topic string, since int64, limit int) ([]Entry, error)
	// Tail returns the last n stored events, oldest first.
	Tail(ctx context.Context, topic string, n int) ([]Entry, error)
	// Last is the newest seq assigned in topic (0: none).
	Last(ctx context.Context, topic string) (int64, error)
}

// observer is a Log that learns the seqs other nodes assigned (RedisLog),
// so its own numbering stays above them.
type observer interface {
	Observe(topic string, seq int64)
}

// errTooManyTopics is returned by MemoryLog.Append past its topic cap.
var errTooManyTopics = errors.New("too many topics")

// MemoryLog is a Log of per-topic rings, for one node. The zero value is
// not ready; use NewMemoryLog.
type MemoryLog struct {
	mu        sync.Mutex
	topics    map[string]*ring
	size      int
	maxTopics int
}

type ring struct {
	last int64
	buf  []Entry // grows to size, then wraps; buf[(seq-1)%size]
}

// NewMemoryLog keeps the last size events of at most maxTopics topics.
func NewMemoryLog(size, maxTopics int) *MemoryLog {
	if size <= 0 {
		size = 256
	}
	if maxTopics <= 0 {
		maxTopics = 4096
	}
	return &MemoryLog{topics: map[string]*ring{}, size: size, maxTopics: maxTopics}
}

// Append implements Log.
func (m *MemoryLog) Append(_ context.Context, topic string, prefix, suffix []byte) (int64, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.topics[topic]
	if r == nil {
		if len(m.topics) >= m.maxTopics {
			return 0, nil, errTooManyTopics
		}
		r = &ring{}
		m.topics[topic] = r
	}
	r.last++
	data := make([]byte, 0, len(prefix)+20+len(suffix))
	data = append(data, prefix...)
	data = strconv.AppendInt(data, r.last, 10)
	data = append(data, suffix...)
	e := Entry{Seq: r.last, Data: data}
	if len(r.buf) < m.size {
		r.buf = append(r.buf, e)
	} else {
		r.buf[(r.last-1)%int64(m.size)] = e
	}
	return r.last, data, nil
}

// Since implements Log.
func (m *MemoryLog) Since(_ context.Context, topic string, since int64, limit int) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.topics[topic]
	if r == nil || since >= r.last {
		return nil, nil
	}
	first := max(since+1, r.last-int64(len(r.buf))+1)
	var out []Entry
	for s := first; s <= r.last && len(out) < limit; s++ {
		out = append(out, r.buf[(s-1)%int64(m.size)])
	}
	return out, nil
}

// Tail implements Log.
func (m *MemoryLog) Tail(ctx context.Context, topic string, n int) ([]Entry, error) {
	last, _ := m.Last(ctx, topic)
	return m.Since(ctx, topic, max(0, last-int64(n)), n)
}

// Last implements Log.
func (m *MemoryLog) Last(_ context.Context, topic string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.topics[topic]; r != nil {
		return r.last, nil
	}
	return 0, nil
}
