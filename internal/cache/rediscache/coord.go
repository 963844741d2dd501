package rediscache

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Coord is what several WebSocket server nodes on one Redis agree on
// beyond the relay and the event log: a leader lease (one ticker for all
// nodes), presence per room (with expiry, so a dead node's entries go
// away), and the revision order of shared documents (one sequencer per
// document: an op is appended only on the revision it was transformed to).
// Keys are Prefix+"ws:{NAME}:..." (one hash slot per name on a cluster).
type Coord struct {
	b      *Backend
	prefix string
	maxOps int64
}

// NewCoord returns a Coord over b; each shared document keeps about maxOps
// revisions in its op stream (default 2048).
func NewCoord(b *Backend, prefix string, maxOps int64) *Coord {
	if prefix == "" {
		prefix = "loadrig:"
	}
	if maxOps <= 0 {
		maxOps = 2048
	}
	return &Coord{b: b, prefix: prefix, maxOps: maxOps}
}

func (c *Coord) key(name, part string) string { return c.prefix + "ws:{" + name + "}:" + part }

// ---- leader lease ----

var leadScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lead takes or renews the lease name for holder for ttl; it reports
// whether holder has it. The lease lapses by itself ttl after the last
// renewal, so a dead holder is replaced.
func (c *Coord) Lead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := leadScript.Run(ctx, c.b.c, []string{c.key(name, "lease")}, holder, ttl.Milliseconds()).Int64()
	return n == 1, err
}

// Release gives the lease up if holder has it.
func (c *Coord) Release(ctx context.Context, name, holder string) error {
	return releaseScript.Run(ctx, c.b.c, []string{c.key(name, "lease")}, holder).Err()
}

// ---- presence ----

// Presence entries are members of a sorted set per room scored by their
// expiry in Redis's own clock (TIME), so nodes' clocks never matter: a
// node refreshes its entries every TTL/3 and a dead node's lapse.
var presenceScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == 'add' then
  for i = 3, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
  redis.call('PEXPIRE', KEYS[1], 2 * ttl)
elseif ARGV[1] == 'rem' then
  for i = 3, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return redis.call('ZRANGE', KEYS[1], 0, -1)`)

func (c *Coord) presence(ctx context.Context, room, op string, ttl time.Duration, members []string) ([]string, error) {
	args := make([]any, 0, 2+len(members))
	args = append(args, op, max(ttl.Milliseconds(), 1))
	for _, m := range members {
		args = append(args, m)
	}
	return presenceScript.Run(ctx, c.b.c, []string{c.key(room, "presence")}, args...).StringSlice()
}

// PresenceAdd adds (or refreshes) members of room for ttl and returns the
// room's live members.
func (c *Coord) PresenceAdd(ctx context.Context, room string, ttl time.Duration, members ...string) ([]string, error) {
	return c.presence(ctx, room, "add", ttl, members)
}

// PresenceRemove removes members of room and returns the live members left.
func (c *Coord) PresenceRemove(ctx context.Context, room string, members ...string) ([]string, error) {
	return c.presence(ctx, room, "rem", time.Millisecond, members)
}

// PresenceMembers returns room's live members.
func (c *Coord) PresenceMembers(ctx context.Context, room string) ([]string, error) {
	return c.presence(ctx, room, "get", time.Millisecond, nil)
}

// PresenceRefresh re-adds each room's members for ttl in one pipeline (a
// node's heartbeat).
func (c *Coord) PresenceRefresh(ctx context.Context, rooms map[string][]string, ttl time.Duration) error {
	if len(rooms) == 0 {
		return nil
	}
	_, err := c.b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for room, ms := range rooms {
			args := make([]any, 0, 2+len(ms))
			args = append(args, "add", max(ttl.Milliseconds(), 1))
			for _, m := range ms {
				args = append(args, m)
			}
			// Eval, not Run: a pipeline cannot fall back from EVALSHA.
			presenceScript.Eval(ctx, p, []string{c.key(room, "presence")}, args...)
		}
		return nil
	})
	return err
}

// ---- shared documents ----

// docAppendScript appends ops as revisions base+1.. only when the
// document's revision is base (compare and set: the node transformed them
// to base), and stores the snapshot when one is given. It returns
// {1, rev} on success, {0, rev} when another node appended first.
var docAppendScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur ~= tonumber(ARGV[1]) then return {0, cur} end
for i = 5, #ARGV do
  cur = cur + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], cur .. '-0', 'd', ARGV[i])
end
redis.call('SET', KEYS[1], cur)
if ARGV[3] ~= '0' then
  redis.call('HSET', KEYS[3], 'rev', ARGV[3], 'd', ARGV[4])
end
return {1, cur}`)

// docSeedScript puts a node's copy back into a Redis that lost the
// document (restarted empty): only when Redis is behind it.
var docSeedScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur >= tonumber(ARGV[1]) then return cur end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], 'rev', ARGV[1], 'd', ARGV[2])
return tonumber(ARGV[1])`)

func (c *Coord) docKeys(doc string) []string {
	return []string{c.key(doc, "rev"), c.key(doc, "ops"), c.key(doc, "snap")}
}

// DocAppend appends ops to doc as the revisions after base, atomically and
// only if doc is at base; snap (stored with revision snapRev when snapRev
// > 0) lets a node that has not followed the document start from it. It
// returns doc's revision after the call and whether the ops were appended.
func (c *Coord) DocAppend(ctx context.Context, doc string, base int64, ops [][]byte, snapRev int64, snap []byte) (int64, bool, error) {
	args := make([]any, 0, 4+len(ops))
	args = append(args, base, c.maxOps, snapRev, snap)
	for _, o := range ops {
		args = append(args, o)
	}
	res, err := docAppendScript.Run(ctx, c.b.c, c.docKeys(doc), args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, false, err
	}
	return res[1], res[0] == 1, nil
}

// DocSince returns up to limit ops of doc after revision rev, oldest first
// (Seq is the op's revision).
func (c *Coord) DocSince(ctx context.Context, doc string, rev int64, limit int) ([]LogEntry, error) {
	xs, err := c.b.c.XRangeN(ctx, c.key(doc, "ops"), strconv.FormatInt(rev+1, 10)+"-0", "+", int64(limit)).Result()
	if err != nil {
		return nil, err
	}
	return entries(xs), nil
}

// DocHead returns doc's revision, the newest snapshot and its revision
// (0 and nil: none).
func (c *Coord) DocHead(ctx context.Context, doc string) (rev, snapRev int64, snap []byte, err error) {
	ks := c.docKeys(doc)
	var get *redis.StringCmd
	var hget *redis.SliceCmd
	_, err = c.b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, ks[0])
		hget = p.HMGet(ctx, ks[2], "rev", "d")
		return nil
	})
	if err != nil && err != redis.Nil {
		return 0, 0, nil, err
	}
	rev, _ = get.Int64()
	if v := hget.Val(); len(v) == 2 {
		if s, ok := v[0].(string); ok {
			snapRev, _ = strconv.ParseInt(s, 10, 64)
		}
		if s, ok := v[1].(string); ok {
			snap = []byte(s)
		}
	}
	return rev, snapRev, snap, nil
}

// DocSeed stores snap as doc's revision rev when Redis is behind it (it
// restarted empty), dropping the op stream; it returns doc's revision.
func (c *Coord) DocSeed(ctx context.Context, doc string, rev int64, snap []byte) (int64, error) {
	return docSeedScript.Run(ctx, c.b.c, c.docKeys(doc), rev, snap).Int64()
}
