// Package grpcdrv is loadrig's gRPC load driver: it loads any gRPC method of
// any server, described by server reflection (v1, falling back to v1alpha,
// through github.com/jhump/protoreflect/v2/grpcreflect) or by .proto files
// compiled with github.com/bufbuild/protocompile. It is the only home of
// protoreflect in loadrig (ARCHITECTURE.md rule 4).
//
// # Requests and responses
//
// Request data is protobuf JSON (protojson into a dynamicpb message), a
// template of internal/load/tmpl. Constant data is encoded once at New and
// every call sends the same immutable bytes; templated data is rendered per
// message into a reused buffer, parsed into a reused dynamic message and
// encoded into a pooled buffer that gRPC releases after writing it.
//
// Responses are not decoded into dynamic messages. A lean codec (rawCodec,
// forced per call, content-subtype "proto") walks the top-level fields of
// the response bytes without allocating: that rejects malformed data
// (protocol_error) and finds the timestamps used for streams. PERF-NOTES.md
// measured the dynamicpb round trip at +13 allocations and ~2 µs per call
// on a client that is already allocation-bound; skipping it is the main
// lever towards the "≤ 0.65× ghz CPU per call" goal. grpcdynamic is not
// used on the hot path for the same reason (it allocates a response message
// per call).
//
// # Streams
//
// A stream is one engine operation, each message a timed event
// (load.Op.MessageSent / MessageReceived):
//   - server streaming: one request, then every message until the server
//     ends the stream (or StreamMessages messages, when set);
//   - client streaming: StreamMessages messages, StreamInterval apart, then
//     the response (Data may be a JSON array: one element per message, as
//     in ghz);
//   - bidi: the same sending, with a concurrent receiver; the operation ends
//     when the server ends the stream after the client closed its side.
//
// A received message's latency is, in order of preference: the round trip
// to the request it echoes (a google.protobuf.Timestamp field named
// request_sent_at), the one-way time from the sender's clock (a Timestamp
// field named sent_at; meaningful on one host or with synchronized clocks),
// for bidi the round trip to the oldest unanswered request (first in, first
// out, a load.Inflight), and otherwise the time since the stream started.
// Sent messages are paced by a load.Pacer: message i is due StreamInterval
// × i after the first, a sender that fell behind catches up without
// skipping, and the messages the driver sends on client and bidi streams
// get their intended send time as sent_at when the request message has
// such a field (appended to the encoded bytes, so it overrides any value
// in the data); echoed round trips therefore count from when a message was
// due. At the end of the run (load.Op.Closing) a sending stream stops and
// closes its side cleanly.
//
// # Connections and errors
//
// Options.Connections channels are opened; worker i uses channel i mod N.
// Connections are counted by the dialer (open, peak; a load.ConnTracker)
// rather than by a stats.Handler: with a stats.Handler installed, grpc-go
// allocates and timestamps several stats events on every call, a per-call cost this
// driver exists to avoid; the dialer sees every connection at no per-call
// cost. The dialer also wraps each connection with raw-syscall reads and
// writes (package rawconn), so an idle generator does not wake the
// runtime's sysmon on its next socket call: in the peer harness that moved
// unary calls at 5,000/s from 0.48× to 0.42× ghz's CPU per call (closed
// loop, 50 concurrent: 0.56× to 0.55×, within noise). Failed calls are
// classified by status code
// (metrics.GRPCCodeKind, e.g. grpc_unavailable), except that the
// operation's own deadline is a timeout, the end of the run is canceled, a
// refused connection is refused and malformed response bytes are
// protocol_error. The x-cache response header metadata gives the cache
// status when the server sends it; a worker whose first 16 successful
// unary calls in a row bring no x-cache stops reading response headers
// (grpc-go copies them per call).
package grpcdrv
