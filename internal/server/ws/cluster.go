package ws

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Cluster is what the nodes of one deployment agree on beyond the Feed's
// relay and the Log: RedisCluster over rediscache.Coord. A nil Cluster is
// one node on its own (ticks, presence and documents are this process's).
type Cluster interface {
	// Lead takes or renews the lease name for holder for ttl and reports
	// whether holder has it.
	Lead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Release gives the lease up if holder has it.
	Release(ctx context.Context, name, holder string) error
	// PresenceAdd adds or refreshes members of room for ttl and returns
	// the room's live members; PresenceRemove removes them and returns
	// the rest; PresenceRefresh re-adds every room's members (heartbeat).
	PresenceAdd(ctx context.Context, room string, ttl time.Duration, members ...string) ([]string, error)
	PresenceRemove(ctx context.Context, room string, members ...string) ([]string, error)
	PresenceRefresh(ctx context.Context, rooms map[string][]string, ttl time.Duration) error
	// DocAppend appends ops (encoded op envelopes) as doc's revisions after
	// base, only if doc is at base, storing snap as revision snapRev when
	// snapRev > 0; it returns doc's revision and whether it appended.
	DocAppend(ctx context.Context, doc string, base int64, ops [][]byte, snapRev int64, snap []byte) (int64, bool, error)
	// DocSince returns up to limit stored ops after rev (Seq = revision).
	DocSince(ctx context.Context, doc string, rev int64, limit int) ([]Entry, error)
	// DocHead returns doc's revision and newest snapshot (0, nil: none).
	DocHead(ctx context.Context, doc string) (rev, snapRev int64, snap []byte, err error)
	// DocSeed stores snap as revision rev when the store is behind it (a
	// Redis that restarted empty) and returns the store's revision.
	DocSeed(ctx context.Context, doc string, rev int64, snap []byte) (int64, error)
}

// Defaults of the Cluster timings.
const (
	DefaultLeaseTTL    = 3 * time.Second
	DefaultPresenceTTL = 30 * time.Second
	tickerLease        = "ticker"
)

// runLease keeps the ticker lease: renewed every LeaseTTL/3, so one node
// ticks for all. A failed renewal keeps the node's role while the lease
// may still be in force (a slow Redis must not make two tickers); once
// renewals have failed for a whole LeaseTTL no node can hold it, and the
// node ticks for its own connections (nothing crosses then, so the rate
// each client sees stays --tick-rate). When Redis is back, the lease
// decides again. On the way out the lease is released so another node
// takes over at once.
func (s *Server) runLease(ctx context.Context) {
	every := s.d.LeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	lastOK := time.Now()
	for {
		lctx, cancel := context.WithTimeout(ctx, every)
		ok, err := s.d.Cluster.Lead(lctx, tickerLease, s.d.Node, s.d.LeaseTTL)
		cancel()
		switch {
		case err == nil:
			lastOK = time.Now()
			s.leader.Store(ok)
		case ctx.Err() == nil:
			s.stats.clusterErrors.Add(1)
			if time.Since(lastOK) > s.d.LeaseTTL {
				s.leader.Store(true)
			}
		}
		select {
		case <-ctx.Done():
			s.leader.Store(false)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = s.d.Cluster.Release(rctx, tickerLease, s.d.Node)
			cancel()
			return
		case <-t.C:
		}
	}
}

// ticks reports whether this node's synthetic ticker publishes: always on
// its own, on a Cluster only while it holds the lease.
func (s *Server) ticks() bool { return s.d.Cluster == nil || s.leader.Load() }

// ---- presence across nodes ----

// presenceMember is a presence entry: user@node.
func (s *Server) presenceMember(user int64) string {
	return strconv.FormatInt(user, 10) + "@" + s.d.Node
}

// parseMember splits a presence entry.
func parseMember(m string) (user int64, node string, ok bool) {
	u, node, ok := strings.Cut(m, "@")
	if !ok {
		return 0, "", false
	}
	user, err := strconv.ParseInt(u, 10, 64)
	return user, node, err == nil
}

// presenceJoin records c's user in topic across nodes (the first of its
// connections on this node adds the entry) and returns the users already
// there, on any node, and whether c's user is there already (another
// connection, here or elsewhere). Without a Cluster, or when it fails, the
// list is this node's.
func (s *Server) presenceJoin(ctx context.Context, topic string, c *conn) (users []int64, already bool) {
	localOther := s.hub.userIn(topic, c.user, c)
	local := s.hub.members(topic)
	if s.d.Cluster == nil {
		return local, localOther
	}
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	var (
		ms  []string
		err error
	)
	if localOther {
		ms, err = s.d.Cluster.PresenceAdd(ctx, topic, s.d.PresenceTTL) // a refresh: the entry is there
	} else {
		ms, err = s.d.Cluster.PresenceAdd(ctx, topic, s.d.PresenceTTL, s.presenceMember(c.user))
	}
	if err != nil {
		s.stats.clusterErrors.Add(1)
		return local, localOther
	}
	seen := map[int64]bool{}
	for _, u := range local {
		seen[u] = true
	}
	already = localOther
	for _, m := range ms {
		u, node, ok := parseMember(m)
		if !ok {
			continue
		}
		if u == c.user && node == s.d.Node && !localOther {
			continue // the entry just added for c
		}
		if u == c.user {
			already = true
		}
		if !seen[u] {
			seen[u] = true
			local = append(local, u)
		}
	}
	return local, already
}

// presenceLeave removes c's user's entry from topic when c was its last
// connection here, and reports whether the user is still in the room
// (here or on another node).
func (s *Server) presenceLeave(ctx context.Context, topic string, c *conn) (still bool) {
	if s.hub.userIn(topic, c.user, c) {
		return true
	}
	if s.d.Cluster == nil {
		return false
	}
	// The connection may be ending (its context canceled): the entry is
	// removed all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logTimeout)
	defer cancel()
	ms, err := s.d.Cluster.PresenceRemove(ctx, topic, s.presenceMember(c.user))
	if err != nil {
		s.stats.clusterErrors.Add(1)
		return false
	}
	for _, m := range ms {
		if u, _, ok := parseMember(m); ok && u == c.user {
			return true
		}
	}
	return false
}

// runPresence refreshes this node's presence entries every PresenceTTL/3,
// so they outlive the TTL while the node lives and lapse when it dies.
func (s *Server) runPresence(ctx context.Context) {
	t := time.NewTicker(s.d.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rooms := map[string][]string{}
		for _, topic := range s.hub.topicNames(topicRoomPrefix) {
			for _, u := range s.hub.members(topic) {
				rooms[topic] = append(rooms[topic], s.presenceMember(u))
			}
		}
		rctx, cancel := context.WithTimeout(ctx, s.d.PresenceTTL/3)
		if err := s.d.Cluster.PresenceRefresh(rctx, rooms, s.d.PresenceTTL); err != nil && ctx.Err() == nil {
			s.stats.clusterErrors.Add(1)
		}
		cancel()
	}
}
