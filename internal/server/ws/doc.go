// Package ws is loadrig's WebSocket reference server, with polling,
// long-polling and Server-Sent Events over the same events: the real-time
// tradeoff made measurable.
//
// # Shape
//
// New(spine, deps, options) mounts the server's routes (routes.go lists
// the surface) on the HTTP spine of the listener, behind the shared
// middleware, with a "ws" section in /stats; `serve ws` and `serve all`
// use it. NewHandler(options) is the same server with a mux of its own
// (tests and benchmarks). Each connection is the coder/websocket chat example's
// subscriber: a bounded outgoing queue (Options.Queue) drained by one writer
// goroutine with a write timeout; a full queue closes the connection with
// 1008 and counts it (ws.kicked_slow), so one slow reader never slows a
// broadcast. The handler goroutine always reads (pings need a reader),
// decodes the envelope and applies the per-connection rate limit
// (golang.org/x/time/rate). Compression is off: context takeover costs
// about 1.2 MB per connection.
//
// # Events: one broker, one log
//
// Everything that fans out goes through domain.Feed, the process's one
// broker: a chat room is Feed topic "chat/NAME", private messages topic
// "pm" keyed by recipient, notifications topic "notifications" keyed by
// user, ticks topic "ticker". The hub holds one Feed subscription per topic
// with local listeners and fans each event out to them. A broadcast is
// encoded once (envelope.go's hand-written encoder, field order of the
// contract, sts set once) and the same bytes are queued on every
// connection. The sender of a room message is skipped by connection id
// (the event's Key on this node); it gets an ack with the seq instead.
//
// Seqs come from the Log (replay.go): MemoryLog, a ring per topic, or
// RedisLog (a Redis Stream per topic, INCR + XADD in one script), which
// numbers events for every node on that Redis and survives a restart. On
// one node, broadcast holds a per-topic order lock from numbering to
// publishing, so the Feed carries a topic in seq order.
// History on join, resume, long-poll since and SSE Last-Event-ID all read
// it. A join reads history under the hub lock and records a floor seq per
// connection and topic, so history and live events neither overlap nor
// leave a gap. When the log fails (Redis gone) an event is still delivered
// locally, without a seq, and the failure is counted.
//
// # Scale-out
//
// With a rediscache.Relay set on the Feed, events published on one node
// reach the others over Redis pub/sub (PUBLISH + PSUBSCRIBE, or SPUBLISH +
// SSUBSCRIBE per watched topic with --redis-sharded); each node delivers
// to its own connections and ignores its own events coming back, so
// nothing arrives twice. Numbered events (room messages, notifications,
// ticks) are the exception: the log's append script publishes them itself
// (RedisLog.AppendPublish), so Redis's one thread puts them on the channel
// in seq order, and every node — the numbering one too — delivers them
// from there (domain.Event.Ordered). A lock per node could not order
// them: a node would deliver its own seq 6 while another node's seq 5 was
// still on its way. When nobody received one (this node's subscription
// not yet back after an outage) the numbering node delivers it itself.
// The Cluster (cluster.go; RedisCluster over
// rediscache.Coord) is what the nodes agree on beyond that:
//
//   - the ticker: one node holds a lease (SET NX PX, renewed every TTL/3,
//     released on shutdown) and ticks for all, so clients on any node see
//     --tick-rate under one seq; while Redis is unreachable for longer than
//     the lease, each node ticks for its own connections;
//   - presence: a sorted set per room of user@node entries scored by
//     expiry in Redis's clock, refreshed by each node every TTL/3, so a
//     joiner's list covers every node and a dead node's users lapse;
//     "offline" is sent when a user's last connection on any node leaves;
//   - documents: one revision order per document (docs.go): a node
//     transforms an op against its copy and appends it only if the
//     document is still at the copy's revision (compare and set in one
//     script); otherwise it catches up from the stored ops and transforms
//     again. Other nodes apply the ops in revision order from the Feed,
//     filling gaps from the store, so every node's copy and every editor
//     converge.
//
// Seqs and a lost Redis: while Redis is away, events are delivered on
// their node without a seq (they are in no log, cannot be replayed, and a
// missing seq says so); when it is back, numbering continues above every
// seq the node has seen, even if Redis restarted empty, so no client skips
// new events as already seen, and resume gives exactly the numbered ones
// missed.
//
// # Documents
//
// ot.go is operational transformation for plain text: an op made on an
// old revision is transformed over the ops applied since (Transform, which
// satisfies TP1: see the tests and the fuzz target), applied, and
// broadcast; of two inserts at one position the one applied first stays
// left. A delete that a concurrent insert splits becomes two ops, each with
// its own revision, so the wire keeps primitive ops only.
package ws
