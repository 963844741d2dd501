package ws

import (
	"context"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
)

// RedisLog is the Log of --replay redis: rediscache.EventLog (a Stream per
// topic), shared by every node on that Redis. With the Feed's relay on the
// EventLog (WithRelay) it is a publishingLog.
type RedisLog struct{ L *rediscache.EventLog }

// Append implements Log.
func (r RedisLog) Append(ctx context.Context, topic string, prefix, suffix []byte) (int64, []byte, error) {
	return r.L.Append(ctx, topic, prefix, suffix)
}

// Publishes reports whether AppendPublish publishes (the EventLog has the
// Feed's relay).
func (r RedisLog) Publishes() bool { return r.L.Publishes() }

// AppendPublish numbers, stores and publishes e in one step
// (rediscache.EventLog.AppendEvent).
func (r RedisLog) AppendPublish(ctx context.Context, topic string, e domain.Event, prefix, suffix []byte) (int64, []byte, int64, error) {
	return r.L.AppendEvent(ctx, topic, e, prefix, suffix)
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

// RedisCluster is the Cluster of several nodes on one Redis
// (rediscache.Coord): the ticker's leader lease, presence across nodes,
// and one revision order per shared document.
type RedisCluster struct{ C *rediscache.Coord }

// Lead implements Cluster.
func (r RedisCluster) Lead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	return r.C.Lead(ctx, name, holder, ttl)
}

// Release implements Cluster.
func (r RedisCluster) Release(ctx context.Context, name, holder string) error {
	return r.C.Release(ctx, name, holder)
}

// PresenceAdd implements Cluster.
func (r RedisCluster) PresenceAdd(ctx context.Context, room string, ttl time.Duration, members ...string) ([]string, error) {
	return r.C.PresenceAdd(ctx, room, ttl, members...)
}

// PresenceRemove implements Cluster.
func (r RedisCluster) PresenceRemove(ctx context.Context, room string, members ...string) ([]string, error) {
	return r.C.PresenceRemove(ctx, room, members...)
}

// PresenceRefresh implements Cluster.
func (r RedisCluster) PresenceRefresh(ctx context.Context, rooms map[string][]string, ttl time.Duration) error {
	return r.C.PresenceRefresh(ctx, rooms, ttl)
}

// DocAppend implements Cluster.
func (r RedisCluster) DocAppend(ctx context.Context, doc string, base int64, ops [][]byte, snapRev int64, snap []byte) (int64, bool, error) {
	return r.C.DocAppend(ctx, doc, base, ops, snapRev, snap)
}

// DocSince implements Cluster.
func (r RedisCluster) DocSince(ctx context.Context, doc string, rev int64, limit int) ([]Entry, error) {
	es, err := r.C.DocSince(ctx, doc, rev, limit)
	return toEntries(es), err
}

// DocHead implements Cluster.
func (r RedisCluster) DocHead(ctx context.Context, doc string) (int64, int64, []byte, error) {
	return r.C.DocHead(ctx, doc)
}

// DocSeed implements Cluster.
func (r RedisCluster) DocSeed(ctx context.Context, doc string, rev int64, snap []byte) (int64, error) {
	return r.C.DocSeed(ctx, doc, rev, snap)
}
