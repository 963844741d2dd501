package rediscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Options. A cache must fail fast: a slow or dead Redis should
// cost a request a few hundred milliseconds at most before it falls through
// to the store, never go-redis's 5 s dial timeout times three retries.
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout = 500 * time.Millisecond
)

// Options configure a Backend.
type Options struct {
	// URL selects the server: redis://[user:pass@]host:port[/db][?opts],
	// rediss:// for TLS, unix:///path. A "+cluster" scheme
	// (redis+cluster://host1:port?addr=host2:port&addr=...) builds a Redis
	// Cluster client. Ignored when Client is set.
	URL string
	// Client is an existing client to use instead of URL; the Backend adds
	// its hook to it and closes it on Close.
	Client redis.UniversalClient
	// DialTimeout, ReadTimeout and WriteTimeout override the URL's values.
	// Zero means the URL's value, else DefaultDialTimeout (1s),
	// DefaultReadTimeout (500ms), DefaultWriteTimeout (500ms).
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the connection pool size per node; zero means the URL's
	// value, else go-redis's default (10 per CPU).
	PoolSize int
}

// Stats counts the Backend's traffic, for /stats.
type Stats struct {
	Dials         int64 `json:"dials"`          // connections opened (the dial hook)
	DialErrors    int64 `json:"dial_errors"`    // failed dials
	Commands      int64 `json:"commands"`       // commands sent (a pipeline counts each)
	CommandErrors int64 `json:"command_errors"` // commands that failed (a miss is not a failure)
	PoolHits      int64 `json:"pool_hits"`      // connection reused from the pool
	PoolMisses    int64 `json:"pool_misses"`    // no idle connection: a new one was needed
	PoolTimeouts  int64 `json:"pool_timeouts"`  // waits for a connection that timed out
	TotalConns    int64 `json:"total_conns"`    // connections open now
	IdleConns     int64 `json:"idle_conns"`     // of which idle
}

// Backend is a cache backend over a go-redis UniversalClient (single node or
// cluster). Values are stored as plain strings (the cache layer's JSON).
type Backend struct {
	c       redis.UniversalClient
	cluster bool
	hook    *hook
}

var quietOnce sync.Once

// quietLogger routes go-redis's internal log lines (one per failed dial
// during an outage, which would flood stderr under load) to slog at debug
// level; the failures are counted in Stats instead. go-redis has one
// process-wide logger, and this package is its only user.
type quietLogger struct{}

func (quietLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	slog.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// Open returns a Backend for opts without contacting Redis (a Redis that is
// down at start is handled like one that goes down later).
func Open(opts Options) (*Backend, error) {
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
	b := &Backend{hook: &hook{}}
	switch {
	case opts.Client != nil:
		b.c = opts.Client
		_, b.cluster = opts.Client.(*redis.ClusterClient)
	case opts.URL == "":
		return nil, errors.New("redis: no URL given (use redis://host:port)")
	default:
		u, err := url.Parse(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("redis URL %q: %v", opts.URL, err)
		}
		if base, ok := strings.CutSuffix(u.Scheme, "+cluster"); ok {
			u.Scheme = base
			co, err := redis.ParseClusterURL(u.String())
			if err != nil {
				return nil, fmt.Errorf("redis cluster URL %q: %v", opts.URL, err)
			}
			co.DialTimeout = pickDur(opts.DialTimeout, co.DialTimeout, DefaultDialTimeout)
			co.ReadTimeout = pickDur(opts.ReadTimeout, co.ReadTimeout, DefaultReadTimeout)
			co.WriteTimeout = pickDur(opts.WriteTimeout, co.WriteTimeout, DefaultWriteTimeout)
			co.ContextTimeoutEnabled = true
			co.DialerRetries, co.DialerRetryTimeout = 1, time.Millisecond // fail fast when Redis is down
			if co.MaxRetries == 0 {
				co.MaxRetries = -1
			}
			if opts.PoolSize > 0 {
				co.PoolSize = opts.PoolSize
			}
			b.c, b.cluster = redis.NewClusterClient(co), true
		} else {
			o, err := redis.ParseURL(opts.URL)
			if err != nil {
				return nil, fmt.Errorf("redis URL %q: %v (want redis://host:port)", opts.URL, err)
			}
			o.DialTimeout = pickDur(opts.DialTimeout, o.DialTimeout, DefaultDialTimeout)
			o.ReadTimeout = pickDur(opts.ReadTimeout, o.ReadTimeout, DefaultReadTimeout)
			o.WriteTimeout = pickDur(opts.WriteTimeout, o.WriteTimeout, DefaultWriteTimeout)
			o.ContextTimeoutEnabled = true
			o.DialerRetries, o.DialerRetryTimeout = 1, time.Millisecond // fail fast when Redis is down
			if o.MaxRetries == 0 {
				o.MaxRetries = -1 // a cache falls through instead of retrying
			}
			if opts.PoolSize > 0 {
				o.PoolSize = opts.PoolSize
			}
			b.c = redis.NewClient(o)
		}
	}
	b.c.AddHook(b.hook)
	return b, nil
}

func pickDur(override, fromURL, def time.Duration) time.Duration {
	switch {
	case override != 0:
		return override
	case fromURL > 0:
		return fromURL
	}
	return def
}

// Client returns the underlying client, for the other Redis users of a
// server (rate limiting, sessions) so they share one pool and one dial count.
func (b *Backend) Client() redis.UniversalClient { return b.c }

// IsCluster reports whether the client is a Redis Cluster client.
func (b *Backend) IsCluster() bool { return b.cluster }

// Ping checks that Redis answers.
func (b *Backend) Ping(ctx context.Context) error { return b.c.Ping(ctx).Err() }

// Get returns the value under key; a missing key is (nil, false, nil).
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := b.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Set stores val under key for ttl (<= 0: no expiry) with SET PX.
func (b *Backend) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return b.c.Set(ctx, key, val, max(ttl, 0)).Err()
}

// Delete removes keys. Each key is its own DEL in one pipeline, so keys in
// different cluster slots work.
func (b *Backend) Delete(ctx context.Context, keys ...string) error {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		return b.c.Del(ctx, keys[0]).Err()
	}
	_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}

// MGet reads many keys in one round trip (a pipeline of GETs, which unlike
// MGET works across cluster slots). Missing keys yield nil entries.
func (b *Backend) MGet(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, c := range cmds {
		v, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// MSet stores many values with one TTL in one round trip.
func (b *Backend) MSet(ctx context.Context, keys []string, vals [][]byte, ttls []time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			p.Set(ctx, k, vals[i], max(ttls[i], 0))
		}
		return nil
	})
	return err
}

// Stats returns the traffic counters and pool figures.
func (b *Backend) Stats() Stats {
	s := Stats{
		Dials:         b.hook.dials.Load(),
		DialErrors:    b.hook.dialErrs.Load(),
		Commands:      b.hook.cmds.Load(),
		CommandErrors: b.hook.cmdErrs.Load(),
	}
	if ps := b.c.PoolStats(); ps != nil {
		s.PoolHits, s.PoolMisses, s.PoolTimeouts = int64(ps.Hits), int64(ps.Misses), int64(ps.Timeouts)
		s.TotalConns, s.IdleConns = int64(ps.TotalConns), int64(ps.IdleConns)
	}
	return s
}

// Close closes the client.
func (b *Backend) Close() error { return b.c.Close() }

// hook counts dials and commands: connection accounting for Redis
// (ARCHITECTURE.md convention 10).
type hook struct {
	dials, dialErrs, cmds, cmdErrs atomic.Int64
}

func (h *hook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.dials.Add(1)
		c, err := next(ctx, network, addr)
		if err != nil {
			h.dialErrs.Add(1)
		}
		return c, err
	}
}

func (h *hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.cmds.Add(1)
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) && !optionalSetup(cmd) {
			h.cmdErrs.Add(1)
		}
		return err
	}
}

func (h *hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.cmds.Add(int64(len(cmds)))
		err := next(ctx, cmds)
		for _, c := range cmds {
			if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) && !optionalSetup(c) {
				h.cmdErrs.Add(1)
			}
		}
		return err
	}
}

// optionalSetup reports whether cmd is one of the connection-setup commands
// go-redis sends on every new connection and whose failure it ignores
// (CLIENT SETINFO before Redis 7.2, CLIENT MAINT_NOTIFICATIONS outside Redis
// Enterprise): counting those would show errors against a healthy Redis.
func optionalSetup(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) < 2 || cmd.Name() != "client" {
		return false
	}
	sub, _ := args[1].(string)
	return strings.EqualFold(sub, "setinfo") || strings.EqualFold(sub, "maint_notifications")
}

// ---- streams: the write-behind capability ----

// Message is one write-behind stream entry.
type Message struct {
	ID    string    // stream entry id, "<ms>-<seq>"
	Key   string    // the cache key written
	Value []byte    // the value written (the entity's JSON)
	Time  time.Time // when Redis appended it (from the id)
}

// SetAndAppend stores val under key without expiry and appends (key, val)
// to stream, in one MULTI/EXEC transaction: either both happen or neither,
// so an acknowledged write is always in the stream. It returns the entry id.
// On a cluster, key and stream must hash to the same slot.
func (b *Backend) SetAndAppend(ctx context.Context, key string, val []byte, stream string) (string, error) {
	var add *redis.StringCmd
	_, err := b.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, val, 0)
		add = p.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"k", key, "v", val}})
		return nil
	})
	if err != nil {
		return "", err
	}
	return add.Val(), nil
}

// EnsureGroup creates the consumer group (and the stream) if missing. A new
// group starts at the beginning of the stream, so nothing appended before
// the first flusher ran is skipped.
func (b *Backend) EnsureGroup(ctx context.Context, stream, group string) error {
	err := b.c.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && strings.Contains(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

// ReadGroup delivers up to count new entries to consumer, waiting up to
// block for the first (block <= 0: do not wait).
func (b *Backend) ReadGroup(ctx context.Context, stream, group, consumer string, count int64, block time.Duration) ([]Message, error) {
	if block <= 0 {
		block = -1
	}
	res, err := b.c.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{stream, ">"}, Count: count, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, s := range res {
		out = append(out, messages(s.Messages)...)
	}
	return out, nil
}

// AutoClaim takes over up to count entries pending longer than minIdle
// (delivered to a consumer that never acknowledged them: it crashed),
// scanning from start ("0-0" first). It returns the cursor for the next
// scan, "0-0" when the scan is complete.
func (b *Backend) AutoClaim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int64) ([]Message, string, error) {
	msgs, next, err := b.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: stream, Group: group, Consumer: consumer, MinIdle: minIdle, Start: start, Count: count,
	}).Result()
	if err != nil {
		return nil, "", err
	}
	return messages(msgs), next, nil
}

// AckDelete acknowledges ids and deletes them from the stream in one
// transaction, so the stream length is the unflushed backlog.
func (b *Backend) AckDelete(ctx context.Context, stream, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := b.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, stream, group, ids...)
		p.XDel(ctx, stream, ids...)
		return nil
	})
	return err
}

// Expire sets ttl on keys whose value has been flushed (it was stored
// without expiry while pending), skipping keys that were deleted since.
func (b *Backend) Expire(ctx context.Context, ttl time.Duration, keys ...string) error {
	if ttl <= 0 || len(keys) == 0 {
		return nil
	}
	_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.PExpire(ctx, k, ttl)
		}
		return nil
	})
	return err
}

// Backlog describes a write-behind stream.
type Backlog struct {
	Length  int64     // entries not yet flushed (flushed entries are deleted)
	Pending int64     // entries delivered to a consumer but not acknowledged
	Oldest  time.Time // append time of the oldest unflushed entry; zero if none
}

// StreamBacklog reads the backlog of stream for group in one round trip.
func (b *Backend) StreamBacklog(ctx context.Context, stream, group string) (Backlog, error) {
	var xlen *redis.IntCmd
	var first *redis.XMessageSliceCmd
	var pend *redis.XPendingCmd
	_, err := b.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		xlen = p.XLen(ctx, stream)
		first = p.XRangeN(ctx, stream, "-", "+", 1)
		pend = p.XPending(ctx, stream, group)
		return nil
	})
	var bl Backlog
	if err != nil && !strings.Contains(err.Error(), "NOGROUP") && !errors.Is(err, redis.Nil) {
		return bl, err
	}
	bl.Length = xlen.Val()
	if ms := first.Val(); len(ms) > 0 {
		bl.Oldest = idTime(ms[0].ID)
	}
	if p := pend.Val(); p != nil {
		bl.Pending = p.Count
	}
	return bl, nil
}

func messages(xs []redis.XMessage) []Message {
	out := make([]Message, 0, len(xs))
	for _, x := range xs {
		m := Message{ID: x.ID, Time: idTime(x.ID)}
		if k, ok := x.Values["k"].(string); ok {
			m.Key = k
		}
		if v, ok := x.Values["v"].(string); ok {
			m.Value = []byte(v)
		}
		out = append(out, m)
	}
	return out
}

func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// ServerCounters reads the server's evicted_keys and expired_keys (INFO
// stats): server-wide, so shared with any other user of that Redis.
func (b *Backend) ServerCounters(ctx context.Context) (evicted, expired int64, err error) {
	if b.cluster {
		return 0, 0, errors.New("server counters are per node on a cluster")
	}
	info, err := b.c.Info(ctx, "stats").Result()
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "evicted_keys":
			evicted, _ = strconv.ParseInt(v, 10, 64)
		case "expired_keys":
			expired, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return evicted, expired, nil
}
