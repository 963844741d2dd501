package grpcdrv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/rawconn"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// Flow-control windows: 4 MiB per stream, 16 MiB per connection, room for
// large messages in flight without waiting for window updates.
const (
	initialWindow     = 4 << 20
	initialConnWindow = 16 << 20
)

// timestampName is the full name of google.protobuf.Timestamp.
const timestampName = "google.protobuf.Timestamp"

// Driver loads one gRPC method. It implements load.Driver and
// load.ConnCounter.
type Driver struct {
	opts   Options
	conns  []*grpc.ClientConn
	method protoreflect.MethodDescriptor
	kind   Kind
	path   string // "/pkg.Service/Method"
	desc   grpc.StreamDesc
	md     metadata.MD // outgoing metadata; nil when none

	env           *tmpl.Env
	tpl           *tmpl.Template // nil when Data is constant
	constReq      []byte         // encoded request when Data is constant
	constBS       mem.BufferSlice
	array         bool              // Data is a JSON array: one element per streamed message
	streamDefault bool              // StreamMessages was not set
	constReqs     [][]byte          // encoded elements of a constant array
	constBSs      []mem.BufferSlice // their buffers
	reqSentAt     protowire.Number  // request field "sent_at" (Timestamp) stamped on streamed messages; 0: none
	respSentAt    protowire.Number
	respEcho      protowire.Number

	codeKinds [17]metrics.ErrKind

	// connection accounting (the counting dialer; no per-call cost)
	tracker load.ConnTracker
	wmu     sync.Mutex
	workers []*worker
}

// New dials the target, resolves the method (reflection or ProtoFiles) and
// prepares the request. Errors wrapping ErrUsage are the user's to fix
// (unknown method, bad JSON data, bad metadata); the CLI exits 2 on them.
func New(ctx context.Context, opts Options) (*Driver, error) {
	if opts.Target == "" {
		return nil, usagef("a target (host:port) is required")
	}
	service, method, err := ParseCall(opts.Call)
	if err != nil {
		return nil, err
	}
	if opts.Data == "" {
		opts.Data = "{}"
	}
	if opts.Connections <= 0 {
		opts.Connections = 1
	}
	if opts.StreamMessages < 0 {
		return nil, usagef("--stream-messages must be >= 0, got %d", opts.StreamMessages)
	}
	if opts.StreamInterval < 0 {
		return nil, usagef("--stream-interval must be >= 0, got %s", opts.StreamInterval)
	}
	if opts.MaxRecvMsgSize <= 0 {
		opts.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "loadrig"
	}
	d := &Driver{opts: opts}
	kv, err := parseMetadata(opts.Metadata)
	if err != nil {
		return nil, err
	}
	if len(kv) > 0 {
		d.md = metadata.Pairs(kv...)
	}
	for c := range d.codeKinds {
		d.codeKinds[c] = metrics.GRPCCodeKind(codes.Code(c).String())
	}

	if err := d.dialAll(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = d.Close()
		}
	}()

	rctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if len(opts.ProtoFiles) > 0 {
		d.method, err = methodFromProto(rctx, opts.ProtoFiles, opts.ImportPaths, service, method)
	} else {
		if d.md != nil {
			rctx = metadata.NewOutgoingContext(rctx, d.md)
		}
		d.method, err = methodFromReflection(rctx, d.conns[0], service, method)
	}
	if err != nil {
		if opts.TLS != nil && strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
			return nil, usagef("%s answers in plaintext, not TLS; add --plaintext", opts.Target)
		}
		return nil, err
	}
	d.kind = kindOf(d.method)
	d.path = "/" + string(d.method.Parent().FullName()) + "/" + string(d.method.Name())
	d.desc = grpc.StreamDesc{
		StreamName:    string(d.method.Name()),
		ServerStreams: d.method.IsStreamingServer(),
		ClientStreams: d.method.IsStreamingClient(),
	}
	if d.opts.StreamMessages == 0 && d.method.IsStreamingClient() {
		d.opts.StreamMessages = DefaultStreamMessages
		d.streamDefault = true // a JSON array's length replaces it
	}
	d.reqSentAt = timestampField(d.method.Input(), "sent_at")
	d.respSentAt = timestampField(d.method.Output(), "sent_at")
	d.respEcho = timestampField(d.method.Output(), "request_sent_at")

	if err := d.prepareData(); err != nil {
		return nil, err
	}
	for _, cc := range d.conns {
		cc.Connect()
	}
	ok = true
	return d, nil
}

// timestampField returns the number of md's top-level field name when it is
// a singular google.protobuf.Timestamp, else 0.
func timestampField(md protoreflect.MessageDescriptor, name protoreflect.Name) protowire.Number {
	f := md.Fields().ByName(name)
	if f == nil || f.Kind() != protoreflect.MessageKind || f.IsList() || f.IsMap() || f.Message().FullName() != timestampName {
		return 0
	}
	return f.Number()
}

// prepareData compiles Data; constant data is encoded once, templated data
// is rendered once here so that bad JSON fails before the run. On client
// and bidi streams a JSON array gives one message per element (sent in
// order, cycling when StreamMessages is larger; StreamMessages defaults to
// the array's length).
func (d *Driver) prepareData() error {
	d.env = tmpl.NewEnv(d.opts.Rows, d.opts.RowMode, d.opts.Seed)
	t, err := d.env.Compile(d.opts.Data)
	if err != nil {
		return usagef("request data: %v", err)
	}
	d.array = d.method.IsStreamingClient() && strings.HasPrefix(strings.TrimSpace(d.opts.Data), "[")
	src, isConst := t.Const()
	if !isConst {
		d.tpl = t
		ev := d.env.NewEvaluator(0)
		ev.Begin(0)
		src = string(ev.Append(nil, t))
	}
	var elems []json.RawMessage
	if d.array {
		if err := json.Unmarshal([]byte(src), &elems); err != nil {
			return usagef("request data%s is not a valid JSON array of %s messages: %v", renderedNote(isConst, src), d.method.Input().FullName(), err)
		}
		if len(elems) == 0 {
			return usagef("request data is an empty JSON array; give at least one %s message", d.method.Input().FullName())
		}
		if d.streamDefault {
			d.opts.StreamMessages = len(elems)
		}
	} else {
		elems = []json.RawMessage{json.RawMessage(src)}
	}
	var encoded [][]byte
	for i, e := range elems {
		msg := dynamicpb.NewMessage(d.method.Input())
		if err := protojson.Unmarshal(e, msg); err != nil {
			where := ""
			if d.array {
				where = fmt.Sprintf(" (element %d)", i)
			}
			return usagef("request data%s%s is not valid JSON for %s: %v", renderedNote(isConst, src), where, d.method.Input().FullName(), err)
		}
		b, err := proto.Marshal(msg)
		if err != nil {
			return usagef("request data: %v", err)
		}
		encoded = append(encoded, b)
	}
	if !isConst {
		return nil
	}
	if d.array {
		d.constReqs = encoded
		for _, b := range encoded {
			d.constBSs = append(d.constBSs, mem.BufferSlice{mem.SliceBuffer(b)})
		}
		return nil
	}
	d.constReq = encoded[0]
	d.constBS = mem.BufferSlice{mem.SliceBuffer(encoded[0])}
	return nil
}

// renderedNote names the rendering a template error comes from.
func renderedNote(isConst bool, src string) string {
	if isConst {
		return ""
	}
	return " (rendered for operation 0: " + src + ")"
}

func (d *Driver) dialAll() error {
	creds := insecure.NewCredentials()
	if d.opts.TLS != nil {
		creds = credentials.NewTLS(d.opts.TLS)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(d.opts.UserAgent),
		// No default call options: grpc-go would copy them together with
		// each call's own options into a new slice per call. The receive
		// limit is among the worker's per-call options instead.
		//
		// No retries: a load generator reports failures rather than
		// hiding them, and retry support buffers every request.
		grpc.WithDisableRetry(),
		// Fixed flow-control windows turn off grpc-go's BDP estimator,
		// which otherwise pings the server after received data frames
		// (extra frames, wake-ups and allocations on both sides).
		grpc.WithInitialWindowSize(initialWindow),
		grpc.WithInitialConnWindowSize(initialConnWindow),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: 10 * time.Second}),
	}
	if !strings.HasPrefix(d.opts.Target, "unix:") {
		dopts = append(dopts, grpc.WithContextDialer(d.dial))
	}
	for range d.opts.Connections {
		cc, err := grpc.NewClient(d.opts.Target, dopts...)
		if err != nil {
			_ = d.Close()
			return usagef("target %q: %v", d.opts.Target, err)
		}
		d.conns = append(d.conns, cc)
	}
	return nil
}

// dial opens a TCP connection with raw-syscall reads and writes (package
// rawconn) and counts it.
func (d *Driver) dial(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return d.tracker.Track(rawconn.Wrap(c)), nil
}

// Protocol implements load.Driver.
func (d *Driver) Protocol() string { return "grpc" }

// Target implements load.Driver.
func (d *Driver) Target() string { return d.opts.Target }

// CacheSource names where the cache status comes from, for the result file.
func (d *Driver) CacheSource() string { return "x-cache" }

// Kind is the RPC kind of the loaded method.
func (d *Driver) Kind() Kind { return d.kind }

// Method is the loaded method's descriptor.
func (d *Driver) Method() protoreflect.MethodDescriptor { return d.method }

// Connections implements load.ConnCounter: connections dialled, calls that
// rode an already open connection, and the most open at once.
func (d *Driver) Connections() metrics.Connections {
	var calls int64
	d.wmu.Lock()
	for _, w := range d.workers {
		calls += w.calls.Load()
	}
	d.wmu.Unlock()
	c := d.tracker.Connections()
	c.Reused = max(0, calls-c.Opened)
	return c
}

// Close closes every channel.
func (d *Driver) Close() error {
	var errs []error
	for _, cc := range d.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	d.conns = nil
	return errors.Join(errs...)
}

// NewWorker implements load.Driver: worker id uses channel id mod
// Connections and owns its template evaluator and buffers.
func (d *Driver) NewWorker(_ context.Context, id int) (load.Worker, error) {
	if len(d.conns) == 0 {
		return nil, fmt.Errorf("grpcdrv: driver is closed")
	}
	w := newWorker(d, id)
	d.wmu.Lock()
	d.workers = append(d.workers, w)
	d.wmu.Unlock()
	return w, nil
}
