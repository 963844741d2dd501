package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loadrig/loadrig/internal/domain"
)

// RelayOptions configure a Relay.
type RelayOptions struct {
	// Prefix namespaces the channels: Prefix+"feed:"+topic. Default
	// "loadrig:".
	Prefix string
	// Sharded uses SPUBLISH/SSUBSCRIBE (Redis 7 sharded pub/sub; a
	// channel lives on the shard of its slot) with one channel subscribed
	// per watched topic; otherwise PUBLISH and one PSUBSCRIBE to every
	// topic. Default false.
	Sharded bool
	// Queue bounds the events waiting to be published; when it is full,
	// Send drops the event and counts an error (the publisher never
	// blocks). Default 4096.
	Queue int
	// Deliver receives every event from the other nodes (domain.Feed's
	// Receive). Required.
	Deliver func(domain.Event)
	// Logger gets outage transitions. Default: discard.
	Logger *slog.Logger
}

// RelayStats count a Relay's traffic.
type RelayStats struct {
	Sent     int64 `json:"sent"`     // events published
	Received int64 `json:"received"` // events received (own included; the Feed ignores those)
	Errors   int64 `json:"errors"`   // events not published (Redis down, queue full) and receive failures
}

// Relay carries domain.Feed events between processes over Redis pub/sub:
// the Feed calls Send for each event published on this node, the Relay
// publishes it, and every node's subscriber hands what arrives to Deliver
// (the Feed drops its own). Pub/sub keeps nothing: while Redis is away,
// events are counted as errors and local delivery goes on; the
// subscription comes back by itself when Redis does.
type Relay struct {
	b    *Backend
	o    RelayOptions
	q    chan domain.Event
	ps   *redis.PubSub
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	watched map[string]bool

	sent, received, errs atomic.Int64
}

// NewRelay starts a relay over b. Close stops it.
func NewRelay(b *Backend, o RelayOptions) *Relay {
	if o.Prefix == "" {
		o.Prefix = "loadrig:"
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{b: b, o: o, q: make(chan domain.Event, o.Queue), stop: cancel, watched: map[string]bool{}}
	if o.Sharded {
		r.ps = b.c.SSubscribe(ctx)
	} else {
		r.ps = b.c.PSubscribe(ctx, o.Prefix+"feed:*")
	}
	r.wg.Add(2)
	go r.publishLoop(ctx)
	go r.receiveLoop(ctx)
	return r
}

// channel is topic's channel. The {topic} hash tag puts it in the slot of
// the topic's EventLog keys, so the log's append script may SPUBLISH it
// on a cluster.
func (r *Relay) channel(topic string) string { return r.o.Prefix + "feed:{" + topic + "}" }

// Watch subscribes to topic's channel (sharded mode; otherwise every topic
// is received already). Idempotent.
func (r *Relay) Watch(topic string) {
	if !r.o.Sharded {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched[topic] {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.ps.SSubscribe(ctx, r.channel(topic)); err != nil {
		// go-redis remembers the channel and subscribes it again on the
		// next connection, so this is an outage, not a lost watch.
		r.errs.Add(1)
	}
	r.watched[topic] = true
}

// Send queues e for publishing without blocking (domain.Relay).
func (r *Relay) Send(e domain.Event) {
	select {
	case r.q <- e:
	default:
		r.errs.Add(1)
	}
}

// Stats returns the relay's counters.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Sent: r.sent.Load(), Received: r.received.Load(), Errors: r.errs.Load()}
}

// Errors is the number of events that did not cross (for ws.redis.errors).
func (r *Relay) Errors() int64 { return r.errs.Load() }

// Close stops publishing and receiving; queued events are dropped.
func (r *Relay) Close() error {
	r.stop()
	err := r.ps.Close()
	r.wg.Wait()
	return err
}

// publishLoop publishes queued events, pipelining whatever has queued up
// (up to 128 per round trip).
func (r *Relay) publishLoop(ctx context.Context) {
	defer r.wg.Done()
	batch := make([]domain.Event, 0, 128)
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.q:
			batch = append(batch[:0], e)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case e := <-r.q:
				batch = append(batch, e)
			default:
				break fill
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cmds, err := r.b.c.Pipelined(pctx, func(p redis.Pipeliner) error {
			for _, e := range batch {
				b, err := json.Marshal(e)
				if err != nil {
					continue
				}
				if r.o.Sharded {
					p.SPublish(pctx, r.channel(e.Topic), b)
				} else {
					p.Publish(pctx, r.channel(e.Topic), b)
				}
			}
			return nil
		})
		cancel()
		failed := int64(0)
		for _, c := range cmds {
			if c.Err() != nil {
				failed++
			}
		}
		if err != nil && failed == 0 {
			failed = int64(len(batch))
		}
		r.errs.Add(failed)
		r.sent.Add(int64(len(batch)) - failed)
		if failed > 0 && !down {
			down = true
			r.o.Logger.Warn("redis relay: publishing failed; events stay on this node", "err", err)
		} else if failed == 0 && down {
			down = false
			r.o.Logger.Info("redis relay: publishing again")
		}
	}
}

// receiveLoop hands every relayed event to Deliver. go-redis reconnects and
// subscribes again after an error; the loop only backs off meanwhile.
func (r *Relay) receiveLoop(ctx context.Context) {
	defer r.wg.Done()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		msg, err := r.ps.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = r.ps.Ping(ctx) // keeps the connection checked while idle
				continue
			}
			r.errs.Add(1)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // subscription confirmations, pongs
		}
		var e domain.Event
		if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
			r.errs.Add(1)
			continue
		}
		r.received.Add(1)
		r.o.Deliver(e)
	}
}

// ---- the replay log: a Redis Stream per topic ----

// LogEntry is one stored event of an EventLog.
type LogEntry struct {
	Seq  int64
	Data []byte
}

// EventLog numbers events per topic with INCR and keeps them in a Stream
// (XADD MAXLEN ~), entry id "<seq>-0", so XRANGE by seq is a range query
// and seqs survive a server restart. Keys are Prefix+"ws:{topic}:seq" and
// Prefix+"ws:{topic}:log" (one hash slot per topic on a cluster).
//
// Seqs never go backward: the log remembers the highest seq this node has
// seen per topic (its own appends, reads, and Observe for the events other
// nodes numbered) and the append script numbers above it. So a Redis that
// restarts empty continues the numbering instead of reusing seqs that
// clients already hold (a client skips seqs at or below its last one).
//
// With a Relay (WithRelay), AppendEvent also publishes the numbered event
// on the relay's channel inside the same script: Redis runs one script at
// a time, so the channel carries a topic's events in seq order whichever
// node numbered them, and every node — the numbering one included —
// delivers them from there (domain.Event.Ordered).
type EventLog struct {
	b      *Backend
	prefix string
	maxLen int64
	relay  *Relay

	mu     sync.Mutex
	floors map[string]int64 // topic → highest seq seen here (bounded by maxFloors)
}

// maxFloors bounds EventLog's per-topic memory of seqs; past it, new topics
// are not remembered (only a Redis that restarts empty is affected).
const maxFloors = 1 << 16

// NewEventLog keeps about maxLen events per topic (default 1000).
func NewEventLog(b *Backend, prefix string, maxLen int64) *EventLog {
	if prefix == "" {
		prefix = "loadrig:"
	}
	if maxLen <= 0 {
		maxLen = 1000
	}
	return &EventLog{b: b, prefix: prefix, maxLen: maxLen, floors: map[string]int64{}}
}

// WithRelay makes AppendEvent publish on r's channels (PUBLISH, or SPUBLISH
// when r is sharded). Call it before the log is in use.
func (l *EventLog) WithRelay(r *Relay) *EventLog {
	l.relay = r
	return l
}

// Publishes reports whether AppendEvent publishes (WithRelay was called).
func (l *EventLog) Publishes() bool { return l.relay != nil }

// Observe records that seq of topic exists (numbered by any node), so this
// node's appends number above it.
func (l *EventLog) Observe(topic string, seq int64) {
	if seq <= 0 {
		return
	}
	l.mu.Lock()
	if f, ok := l.floors[topic]; seq > f && (ok || len(l.floors) < maxFloors) {
		l.floors[topic] = seq
	}
	l.mu.Unlock()
}

func (l *EventLog) floor(topic string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.floors[topic]
}

func (l *EventLog) keys(topic string) (seq, log string) {
	base := l.prefix + "ws:{" + topic + "}:"
	return base + "seq", base + "log"
}

// appendScript assigns the next seq (above ARGV[4], the highest seq the
// node has seen) and stores prefix..seq..suffix in one atomic step, so
// every stored envelope carries its own seq.
var appendScript = redis.NewScript(appendLua + `
return s`)

// appendLua numbers and stores the event (s: its seq, d: the stored
// envelope): the body both append scripts share.
const appendLua = `
local s = redis.call('INCR', KEYS[1])
local f = tonumber(ARGV[4])
if s <= f then
  s = f + 1
  redis.call('SET', KEYS[1], s)
end
local d = ARGV[1] .. s .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], s .. '-0', 'd', d)`

// Append stores prefix+seq+suffix under topic's next seq.
func (l *EventLog) Append(ctx context.Context, topic string, prefix, suffix []byte) (int64, []byte, error) {
	ks, kl := l.keys(topic)
	seq, err := appendScript.Run(ctx, l.b.c, []string{ks, kl}, prefix, suffix, l.maxLen, l.floor(topic)).Int64()
	if err != nil {
		return 0, nil, err
	}
	l.Observe(topic, seq)
	data := make([]byte, 0, len(prefix)+20+len(suffix))
	data = append(data, prefix...)
	data = strconv.AppendInt(data, seq, 10)
	return seq, append(data, suffix...), nil
}

// appendPublishScript is appendScript that also publishes the numbered
// event: ARGV[5] is the event's JSON without its closing brace and ending
// with "data":, ARGV[6] the channel, ARGV[7] PUBLISH or SPUBLISH. It
// returns the seq and how many subscribers received the event.
var appendPublishScript = redis.NewScript(appendLua + `
local n = redis.call(ARGV[7], ARGV[6], ARGV[5] .. d .. '}')
return {s, n}`)

// errNoRelay is AppendEvent's error on a log without WithRelay.
var errNoRelay = errors.New("rediscache: AppendEvent on an EventLog without a relay")

// AppendEvent is Append that also publishes e, with Data set to the
// stored envelope and Ordered set, on the relay's channel of e.Topic, in
// the same atomic step: so every node, this one included, receives a
// topic's numbered events in seq order (the caller does not publish e
// itself). topic is the log topic (it may differ from e.Topic: a user's
// notifications are logged apart but published on one topic). received is
// how many subscribers got the event: 0 means none, not even this node's
// relay (a subscription not yet back after an outage), and the caller
// delivers it locally itself.
func (l *EventLog) AppendEvent(ctx context.Context, topic string, e domain.Event, prefix, suffix []byte) (seq int64, data []byte, received int64, err error) {
	if l.relay == nil {
		return 0, nil, 0, errNoRelay
	}
	e.Data, e.Ordered = nil, true
	head, err := json.Marshal(e)
	if err != nil {
		return 0, nil, 0, err
	}
	head = append(head[:len(head)-1], `,"data":`...)
	cmd := "PUBLISH"
	if l.relay.o.Sharded {
		cmd = "SPUBLISH"
	}
	ks, kl := l.keys(topic)
	res, err := appendPublishScript.Run(ctx, l.b.c, []string{ks, kl}, prefix, suffix, l.maxLen, l.floor(topic),
		head, l.relay.channel(e.Topic), cmd).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("rediscache: append script returned %v", res)
	}
	if err != nil {
		return 0, nil, 0, err
	}
	seq, received = res[0], res[1]
	l.relay.sent.Add(1)
	l.Observe(topic, seq)
	data = make([]byte, 0, len(prefix)+20+len(suffix))
	data = append(data, prefix...)
	data = strconv.AppendInt(data, seq, 10)
	return seq, append(data, suffix...), received, nil
}

// Since returns up to limit events with seq > since, oldest first.
func (l *EventLog) Since(ctx context.Context, topic string, since int64, limit int) ([]LogEntry, error) {
	_, kl := l.keys(topic)
	xs, err := l.b.c.XRangeN(ctx, kl, strconv.FormatInt(since+1, 10)+"-0", "+", int64(limit)).Result()
	if err != nil {
		return nil, err
	}
	out := entries(xs)
	if len(out) > 0 {
		l.Observe(topic, out[len(out)-1].Seq)
	}
	return out, nil
}

// Tail returns the last n events, oldest first.
func (l *EventLog) Tail(ctx context.Context, topic string, n int) ([]LogEntry, error) {
	_, kl := l.keys(topic)
	xs, err := l.b.c.XRevRangeN(ctx, kl, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, err
	}
	out := entries(xs)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Last is topic's newest seq (0: none).
func (l *EventLog) Last(ctx context.Context, topic string) (int64, error) {
	ks, _ := l.keys(topic)
	n, err := l.b.c.Get(ctx, ks).Int64()
	if errors.Is(err, redis.Nil) {
		n, err = 0, nil
	}
	if err != nil {
		return 0, err
	}
	// A Redis that restarted empty has a lower counter than seqs already
	// sent: the next append numbers above the floor, so report that.
	return max(n, l.floor(topic)), nil
}

func entries(xs []redis.XMessage) []LogEntry {
	out := make([]LogEntry, 0, len(xs))
	for _, x := range xs {
		id, _, _ := strings.Cut(x.ID, "-")
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		d, _ := x.Values["d"].(string)
		out = append(out, LogEntry{Seq: seq, Data: []byte(d)})
	}
	return out
}
