package grpcdrv

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// headerProbes is how many successful unary calls in a row without an
// x-cache header make a worker stop reading response headers: grpc-go
// copies the header metadata for every call that asks for it (a map and a
// slice per key), which a server that never sends x-cache does not repay.
const headerProbes = 16

// ErrBadRequestData is the error kind of an operation whose templated
// request data rendered to JSON that does not fit the request message (the
// check at New only saw operation 0's rendering).
const ErrBadRequestData metrics.ErrKind = "bad_request_data"

// errData marks a request that could not be built.
var errData = errors.New("request data")

// worker runs one engine worker's calls on its channel.
type worker struct {
	d     *Driver
	cc    *grpc.ClientConn
	calls atomic.Int64

	ev      *tmpl.Evaluator    // nil when the data is constant
	msg     *dynamicpb.Message // reused request message (templated data)
	js      []byte             // rendered JSON, reused
	elems   []json.RawMessage  // a rendered JSON array's messages (streams), reused
	unmarsh protojson.UnmarshalOptions
	marsh   proto.MarshalOptions
	pool    mem.BufferPool

	out      outMsg
	in       inMsg
	hdr      metadata.MD
	unaryOps []grpc.CallOption // with grpc.Header(&hdr) while headers are read
	bareOps  []grpc.CallOption // without it
	strOps   []grpc.CallOption
	// probes counts unary calls answered without x-cache; after
	// headerProbes of them in a row the worker stops asking for headers.
	probes int
	// fifo holds the intended send times of a bidi stream's requests, for
	// replies that carry no timestamp (matched first in, first out).
	fifo *load.Inflight
}

func newWorker(d *Driver, id int) *worker {
	w := &worker{
		d:    d,
		cc:   d.conns[id%len(d.conns)],
		pool: mem.DefaultBufferPool(),
		in:   inMsg{sentAtNum: d.respSentAt, echoNum: d.respEcho},
	}
	codec := grpc.ForceCodecV2(rawCodec{})
	maxRecv := grpc.MaxCallRecvMsgSize(d.opts.MaxRecvMsgSize)
	w.unaryOps = []grpc.CallOption{codec, maxRecv, grpc.Header(&w.hdr)}
	w.bareOps = []grpc.CallOption{codec, maxRecv}
	w.strOps = w.bareOps
	if d.tpl != nil {
		w.ev = d.env.NewEvaluator(id)
		w.msg = dynamicpb.NewMessage(d.method.Input())
	}
	if d.kind == BidiStream {
		w.fifo = load.NewInflight(d.opts.StreamMessages)
	}
	return w
}

// Close implements load.Worker. The channel belongs to the driver.
func (w *worker) Close() error { return nil }

// request prepares the next request message in w.out. Constant data
// without a timestamp to stamp reuses the driver's immutable encoding; any
// other message is written into a pooled buffer that gRPC frees once sent,
// so it can still be in flight when the next one is built. A stamped
// message's sent_at is at, its intended send time.
func (w *worker) request(stamp bool, i int, at time.Time) (int, error) {
	base, bs := w.d.constReq, w.d.constBS
	if w.d.array && w.ev == nil {
		base, bs = w.d.constReqs[i%len(w.d.constReqs)], w.d.constBSs[i%len(w.d.constBSs)]
	}
	if w.ev != nil {
		src := w.js
		if w.d.array {
			src = w.elems[i%len(w.elems)]
		} else {
			w.js = w.ev.Append(w.js[:0], w.d.tpl)
			src = w.js
		}
		if err := w.unmarsh.Unmarshal(src, w.msg); err != nil {
			return 0, errData
		}
	} else if !stamp || w.d.reqSentAt == 0 {
		w.out.bs = bs
		return len(base), nil
	}
	size := len(base)
	if w.ev != nil {
		size = w.marsh.Size(w.msg)
	}
	if stamp && w.d.reqSentAt != 0 {
		size += 32 // tag, length and a Timestamp: at most 2+1+11+5 bytes
	}
	bp := w.pool.Get(size)
	b := (*bp)[:0]
	if w.ev != nil {
		var err error
		if b, err = w.marsh.MarshalAppend(b, w.msg); err != nil {
			w.pool.Put(bp)
			return 0, errData
		}
	} else {
		b = append(b, base...)
	}
	if stamp && w.d.reqSentAt != 0 {
		b = appendTimestampField(b, w.d.reqSentAt, at)
	}
	*bp = b
	w.out.bs = mem.BufferSlice{mem.NewBuffer(bp, w.pool)}
	return len(b), nil
}

// renderArray renders a templated JSON array of stream messages for the
// current operation into w.elems.
func (w *worker) renderArray() error {
	w.js = w.ev.Append(w.js[:0], w.d.tpl)
	w.elems = w.elems[:0]
	if err := json.Unmarshal(w.js, &w.elems); err != nil || len(w.elems) == 0 {
		return errData
	}
	return nil
}

// outgoing adds the configured metadata to ctx.
func (w *worker) outgoing(ctx context.Context) context.Context {
	if w.d.md == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, w.d.md)
}

// Do implements load.Worker: one call, or one whole stream.
func (w *worker) Do(ctx context.Context, op *load.Op) load.Outcome {
	w.calls.Add(1)
	w.in.err = nil
	if w.ev != nil {
		w.ev.Begin(op.Seq())
	}
	switch w.d.kind {
	case ServerStream:
		return w.serverStream(ctx, op)
	case ClientStream:
		return w.clientStream(ctx, op)
	case BidiStream:
		return w.bidiStream(ctx, op)
	}
	return w.unary(ctx)
}

func (w *worker) unary(ctx context.Context) load.Outcome {
	n, err := w.request(false, 0, time.Time{})
	if err != nil {
		return load.Outcome{Err: ErrBadRequestData}
	}
	w.hdr = nil
	ops := w.unaryOps
	if w.probes >= headerProbes {
		ops = w.bareOps
	}
	err = w.cc.Invoke(w.outgoing(ctx), w.d.path, &w.out, &w.in, ops...)
	out := load.Outcome{BytesSent: int64(n), Cache: cacheStatus(w.hdr)}
	if w.probes < headerProbes && err == nil {
		if out.Cache == metrics.CacheUnknown {
			w.probes++
		} else {
			w.probes = 0
		}
	}
	if err != nil {
		out.Err = w.d.classify(ctx, err, &w.in)
		return out
	}
	out.BytesReceived = int64(w.in.n)
	return out
}

// latency is a received message's latency: the round trip to the request
// it echoes, else the one-way time from the sender's timestamp, else
// fallback (the caller's own reference).
func (w *worker) latency(now time.Time, fallback time.Duration) time.Duration {
	var d time.Duration
	switch {
	case w.in.hasEcho:
		d = now.Sub(w.in.echo)
	case w.in.hasSent:
		d = now.Sub(w.in.sentAt)
	default:
		d = fallback
	}
	return max(d, 0)
}

func (w *worker) serverStream(ctx context.Context, op *load.Op) load.Outcome {
	ctx, cancel := context.WithCancel(w.outgoing(ctx))
	defer cancel()
	var out load.Outcome
	n, err := w.request(false, 0, time.Time{})
	if err != nil {
		return load.Outcome{Err: ErrBadRequestData}
	}
	start := time.Now()
	cs, err := w.cc.NewStream(ctx, &w.d.desc, w.d.path, w.strOps...)
	if err == nil {
		err = cs.SendMsg(&w.out)
	}
	if err == nil {
		err = cs.CloseSend()
	}
	if err != nil {
		out.Err = w.d.classify(ctx, err, &w.in)
		return out
	}
	out.BytesSent = int64(n)
	op.MessageSent(1)
	limit := w.d.opts.StreamMessages
	for got := 0; limit == 0 || got < limit; got++ {
		err = cs.RecvMsg(&w.in)
		if err != nil {
			break
		}
		now := time.Now()
		if got == 0 {
			out.Cache = streamCache(cs)
		}
		out.BytesReceived += int64(w.in.n)
		op.MessageReceived(w.latency(now, now.Sub(start)))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		out.Err = w.d.classify(ctx, err, &w.in)
	}
	return out
}

// send sends StreamMessages messages, StreamInterval apart from the first
// (load.Pacer: message i is due at first + i×interval, and a sender that
// fell behind catches up without skipping); each is stamped with its
// intended send time when the request has a sent_at field, so echoed
// round trips count from when the message was due. When the run ends
// (op.Closing) it stops sending and closes its side cleanly.
func (w *worker) send(ctx context.Context, op *load.Op, cs grpc.ClientStream, out *load.Outcome) error {
	if w.d.array && w.ev != nil {
		if err := w.renderArray(); err != nil {
			return err
		}
	}
	pacer := load.NewPacer(time.Now(), w.d.opts.StreamInterval)
	defer pacer.Stop()
	for i := range w.d.opts.StreamMessages {
		at, ok := pacer.Next(ctx, op.Closing())
		if !ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			break // the run is ending: close cleanly
		}
		n, err := w.request(true, i, at)
		if err != nil {
			return err
		}
		if w.fifo != nil {
			w.fifo.Add(at) // the window holds a whole stream: nothing is lost
		}
		if err := cs.SendMsg(&w.out); err != nil {
			return err
		}
		out.BytesSent += int64(n)
		op.MessageSent(1)
	}
	return cs.CloseSend()
}

func (w *worker) clientStream(ctx context.Context, op *load.Op) load.Outcome {
	ctx, cancel := context.WithCancel(w.outgoing(ctx))
	defer cancel()
	var out load.Outcome
	cs, err := w.cc.NewStream(ctx, &w.d.desc, w.d.path, w.strOps...)
	if err == nil {
		err = w.send(ctx, op, cs, &out)
	}
	if err == nil {
		err = cs.RecvMsg(&w.in)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			// SendMsg reports io.EOF when the server ended the call early;
			// the status comes from RecvMsg.
			err = cs.RecvMsg(&w.in)
		}
		out.Err = w.errKind(ctx, err)
		return out
	}
	out.Cache = streamCache(cs)
	out.BytesReceived = int64(w.in.n)
	return out
}

func (w *worker) errKind(ctx context.Context, err error) metrics.ErrKind {
	if errors.Is(err, errData) {
		return ErrBadRequestData
	}
	return w.d.classify(ctx, err, &w.in)
}

func (w *worker) bidiStream(opCtx context.Context, op *load.Op) load.Outcome {
	ctx, cancel := context.WithCancel(w.outgoing(opCtx))
	defer cancel()
	w.fifo.Reset()
	var out load.Outcome
	start := time.Now()
	cs, err := w.cc.NewStream(ctx, &w.d.desc, w.d.path, w.strOps...)
	if err != nil {
		out.Err = w.errKind(ctx, err)
		return out
	}
	type result struct {
		bytes int64
		cache metrics.CacheStatus
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for i := 0; ; i++ {
			if err := cs.RecvMsg(&w.in); err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				break
			}
			now := time.Now()
			if i == 0 {
				r.cache = streamCache(cs)
			}
			r.bytes += int64(w.in.n)
			fallback := now.Sub(start)
			if !w.in.hasEcho && !w.in.hasSent {
				if t, ok := w.fifo.TakeOldest(); ok {
					fallback = now.Sub(t)
				}
			}
			op.MessageReceived(w.latency(now, fallback))
		}
		done <- r
	}()
	serr := w.send(ctx, op, cs, &out)
	sendFailed := serr != nil && !errors.Is(serr, io.EOF)
	if sendFailed {
		cancel() // ends the receiver too
	}
	r := <-done
	out.BytesReceived, out.Cache = r.bytes, r.cache
	// Classify against the operation's own context: the cancel above is
	// a consequence of the send error, not its cause. (io.EOF from a send
	// means the server ended the call; the receiver has its status.)
	switch {
	case sendFailed:
		out.Err = w.errKind(opCtx, serr)
	case r.err != nil:
		out.Err = w.errKind(opCtx, r.err)
	}
	return out
}

// streamCache reads x-cache from a stream's header (already received).
func streamCache(cs grpc.ClientStream) metrics.CacheStatus {
	md, err := cs.Header()
	if err != nil {
		return metrics.CacheUnknown
	}
	return cacheStatus(md)
}

// cacheStatus reads the x-cache header metadata.
func cacheStatus(md metadata.MD) metrics.CacheStatus {
	v := md["x-cache"]
	if len(v) == 0 {
		return metrics.CacheUnknown
	}
	s := v[0]
	if i := strings.IndexByte(s, ' '); i > 0 {
		s = s[:i] // "HIT from edge"
	}
	switch {
	case strings.EqualFold(s, "HIT"):
		return metrics.CacheHit
	case strings.EqualFold(s, "MISS"):
		return metrics.CacheMiss
	case strings.EqualFold(s, "REVALIDATED"):
		return metrics.CacheRevalidated
	}
	return metrics.CacheOther
}

// classify maps a failed call to its error kind. The operation context
// decides first (its deadline is a timeout, its cancellation the end of the
// run); otherwise the status code does.
func (d *Driver) classify(ctx context.Context, err error, in *inMsg) metrics.ErrKind {
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) {
			return metrics.ErrTimeout
		}
		return metrics.ErrCanceled
	}
	if errors.Is(err, errData) {
		return ErrBadRequestData
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return metrics.ErrEOF
		}
		return metrics.ErrOther
	}
	c := st.Code()
	switch {
	case c == codes.Internal && in.err != nil:
		return metrics.ErrProtocol
	case c == codes.Unavailable && strings.Contains(st.Message(), "connection refused"):
		return metrics.ErrRefused
	case c == codes.Unavailable && strings.Contains(st.Message(), "tls:"):
		return metrics.ErrTLS
	}
	if int(c) < len(d.codeKinds) {
		return d.codeKinds[c]
	}
	return metrics.GRPCCodeKind(c.String())
}
