package ws

import (
	"context"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

// RedisLog is the Log of --replay redis: rediscache.EventLog (a Stream per
// topic), shared by every node on that Redis.
type RedisLog struct{ L *rediscache.EventLog }

// Append implements Log.
func (r RedisLog) Append(ctx context.Context, topic string, prefix, suffix []byte) (int64, []byte, error) {
	return r.L.Append(ctx, topic, prefix, suffix)
}

// Since implements Log.
func (r RedisLog) Since(ctx context.Context, topic string, since int64, limit int) ([]Entry, error) {
	es, err := r.L.Since(ctx, topic, since, limit)
	return toEntries(es), err
}

// Tail implements Log.
func (r RedisLog) Tail(ctx context.Context, topic string, n int) ([]Entry, error) {
	es, err := r.L.Tail(ctx, topic, n)
	return toEntries(es), err
}

// Observe records a seq another node assigned (see rediscache.EventLog:
// seqs never go backward, even when Redis restarts empty).
func (r RedisLog) Observe(topic string, seq int64) { r.L.Observe(topic, seq) }

// Last implements Log.
func (r RedisLog) Last(ctx context.Context, topic string) (int64, error) { return r.L.Last(ctx, topic) }

func toEntries(es []rediscache.LogEntry) []Entry {
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Seq: e.Seq, Data: e.Data}
	}
	return out
}
