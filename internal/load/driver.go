package load

import (
	"context"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// Driver is one protocol's way of performing operations against a target.
// The engine asks it for one Worker per engine worker; a Worker is used by one
// goroutine at a time, so it can own per-worker state (a connection, reusable
// buffers, a pre-serialized request) without locks.
type Driver interface {
	// Protocol names the protocol for the result file: "http", "grpc", ...
	Protocol() string
	// Target is the URL or address being loaded, for the result file.
	Target() string
	// NewWorker returns the Worker for engine worker id (0-based, dense).
	NewWorker(ctx context.Context, id int) (Worker, error)
	// Close releases shared resources after every Worker is closed.
	Close() error
}

// Worker performs operations, one at a time.
type Worker interface {
	// Do performs one operation and reports how it ended. It must return
	// when ctx is done (the per-operation timeout or the end of the run). A
	// stream or socket session is one operation: it reports each of its
	// timed messages through op as they happen.
	Do(ctx context.Context, op *Op) Outcome
	// Close releases the worker's resources.
	Close() error
}

// ConnCounter is implemented by drivers that account for client-side
// connections.
type ConnCounter interface {
	Connections() metrics.Connections
}

// OperationNamer is implemented by drivers whose operations have names (a
// GraphQL document's operations mixed by weight). Each name gets its own
// counters and latency histogram: Result.Operations.
type OperationNamer interface {
	// OperationNames lists the names; Outcome.Op i+1 is names[i]. At most
	// metrics.MaxOperations.
	OperationNames() []string
}

// WireCounter is implemented by drivers that count the bytes their
// connections carried (a counting net.Conn: ConnTracker.Track, CountConn).
// The engine then reports those, measured-phase only, as Result.Bytes
// instead of the sum of Outcome bytes.
type WireCounter interface {
	WireBytes() metrics.Bytes
}

// Annotator is implemented by drivers that add their own sections to the
// result (connection details, connect time, fanout): the engine calls
// Annotate once, after every worker finished, on the result it built.
type Annotator interface {
	Annotate(res *metrics.Result)
}

// Outcome is how one operation ended.
type Outcome struct {
	Err           metrics.ErrKind     // metrics.OK on success
	Cache         metrics.CacheStatus // client-side cache reading, CacheUnknown if none
	BytesSent     int64
	BytesReceived int64
	// Op is 1 + the index of the operation's name in the driver's
	// OperationNames; 0: unnamed.
	Op int
}

// Phase names a sub-step of an operation that a driver can time.
type Phase uint8

// Phases reported by drivers (HTTP uses dns to ttfb, WebSocket dns to tls
// and handshake, the HTTP upgrade's round trip). Their result-file keys are
// defined once, in package metrics (metrics.PhaseName), which the offline
// report shares.
const (
	PhaseDNS Phase = iota
	PhaseConnect
	PhaseTLS
	PhaseTTFB
	PhaseHandshake
	NumPhases
)

// The phase numbers above and metrics' phase names must agree in count.
var _ [int(NumPhases) - metrics.NumPhases]struct{}
var _ [metrics.NumPhases - int(NumPhases)]struct{}

// String is the phase's result-file key ("dns", "connect", ...).
func (p Phase) String() string { return metrics.PhaseName(int(p)) }

// EventSink receives the events an operation reports while it runs. The
// engine supplies it; drivers only see it through Op.
type EventSink interface {
	MessageSent(n int)
	MessageReceived(latency time.Duration)
	Phase(p Phase, d time.Duration)
}

// MessageErrorSink is an EventSink that also counts messages failing on
// their own (Op.MessageError). The engine's sink is one; a test sink that
// is not simply does not see them.
type MessageErrorSink interface {
	MessageError(kind metrics.ErrKind)
}

// Op is one operation handed to a Worker. The engine owns it and may reuse it
// after Do returns: Workers must not retain it.
type Op struct {
	seq     uint64
	base    time.Time     // run start (monotonic reading)
	sentAt  time.Duration // offset from base when the request went out, if marked
	marked  bool          // MarkSent was called during this operation
	sink    EventSink     // nil in warm-up: events are not recorded
	closing <-chan struct{}
	r       *runner // nil outside the engine
}

// Seq is the operation's sequence number in the run, counting warm-up, from 0.
// Templates expose it as {{.Seq}}.
func (o *Op) Seq() uint64 { return o.seq }

// MarkSent records that the request is going on the wire now. Drivers that
// wait for something (a pooled connection, a stream slot) before sending call
// it so that service time excludes that wait; otherwise the engine takes the
// moment it called Do.
func (o *Op) MarkSent() { o.sentAt, o.marked = time.Since(o.base), true }

// MessageSent counts n messages sent within this operation (streams, sockets).
func (o *Op) MessageSent(n int) {
	if o.sink != nil {
		o.sink.MessageSent(n)
	}
}

// MessageReceived records one received message with its one-way or
// round-trip latency.
func (o *Op) MessageReceived(latency time.Duration) {
	if o.sink != nil {
		o.sink.MessageReceived(latency)
	}
}

// MessageError counts one message of this session that failed on its own
// (an error reply, no reply by the end, a malformed frame) while the
// session went on; kind classifies it. The session's own outcome is
// separate. It may be called from any goroutine of the driver until Do
// returns.
func (o *Op) MessageError(kind metrics.ErrKind) {
	if s, ok := o.sink.(MessageErrorSink); ok {
		s.MessageError(kind)
	}
}

// MessageSince records one received message whose latency runs from ref
// (the intended send time of the request it answers, or a sender's
// timestamp) to now; a negative difference (clock skew between hosts)
// counts as 0.
func (o *Op) MessageSince(ref, now time.Time) {
	o.MessageReceived(max(now.Sub(ref), 0))
}

// Closing is closed when the run is ending: its duration is over, it was
// interrupted or its error budget spent (after a count stop, which lets
// in-flight operations finish, only Config.Grace later). A session (a
// stream, a socket) then stops sending, closes cleanly (a WebSocket close
// frame, a stream's CloseSend) and returns; that is a success, not a
// timeout or a cancellation. Held sessions that ignore it are cut off
// Config.Grace later (see Hold). Outside the engine it is nil (never
// closes) unless SetClosing set it.
func (o *Op) Closing() <-chan struct{} { return o.closing }

// SetClosing sets the channel Closing returns, for driver tests that run a
// Worker outside the engine.
func (o *Op) SetClosing(ch <-chan struct{}) { o.closing = ch }

// Hold marks the operation as a held session from now on, typically once a
// connection is open: Config.Timeout, which bounded the opening, no longer
// applies (the operation's context loses its deadline), and the session
// runs until the driver ends it or, after Closing, closes. A held session
// still open Config.Grace after the run's stop has its context canceled and
// is counted as canceled (not as a timeout). Outside the engine Hold does
// nothing.
func (o *Op) Hold() {
	if o.r != nil {
		o.r.hold()
	}
}

// Phase records the duration of a phase of this operation.
func (o *Op) Phase(p Phase, d time.Duration) {
	if o.sink != nil {
		o.sink.Phase(p, d)
	}
}

// Recording reports whether this operation is measured (false in warm-up).
func (o *Op) Recording() bool { return o.sink != nil }

// NewOp returns an Op for driver tests that run a Worker outside the engine.
// sink may be nil.
func NewOp(seq uint64, sink EventSink) *Op {
	return &Op{seq: seq, base: time.Now(), sink: sink}
}

// ErrNoReply is the message error kind of a request message whose reply
// never came: still unanswered when its session ended, or given up when
// more than an Inflight window of messages awaited replies.
const ErrNoReply metrics.ErrKind = "no_reply"
