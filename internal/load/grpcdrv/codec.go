package grpcdrv

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec is the driver's lean codec. Requests are already protobuf bytes
// (encoded once for constant data, or per operation from a reused dynamic
// message when the data is templated), so Marshal only hands them to gRPC.
// Responses are not decoded into messages: Unmarshal walks the top-level
// fields of the wire bytes (which rejects malformed data) and picks out the
// timestamps the driver times streams with. This is where the driver saves
// the allocations a dynamicpb round trip costs per call (PERF-NOTES.md:
// dynamic messages add 13 allocations and ~2 µs per call).
//
// Name is "proto" so the content-type stays application/grpc+proto, which
// every server accepts.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

// outMsg is an encoded request. bs must not change while gRPC may still be
// writing it: constant requests share one immutable buffer, per-operation
// requests live in pooled buffers that gRPC frees after writing.
type outMsg struct{ bs mem.BufferSlice }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*outMsg)
	if !ok {
		return nil, fmt.Errorf("grpcdrv codec: cannot marshal %T", v)
	}
	return m.bs, nil
}

// inMsg receives one response message's facts. The timestamp field numbers
// are fixed per driver; the rest is overwritten by every Unmarshal.
type inMsg struct {
	sentAtNum protowire.Number // top-level google.protobuf.Timestamp "sent_at"; 0: none
	echoNum   protowire.Number // top-level Timestamp "request_sent_at"; 0: none

	n       int       // wire length of the last message
	sentAt  time.Time // valid when hasSent
	echo    time.Time // valid when hasEcho
	hasSent bool
	hasEcho bool
	err     error // wire error of the last message, for classification

	scratch []byte // joins multi-buffer messages; reused
}

var errWire = errors.New("malformed protobuf in response")

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*inMsg)
	if !ok {
		return fmt.Errorf("grpcdrv codec: cannot unmarshal into %T", v)
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		m.scratch = m.scratch[:0]
		for _, buf := range data {
			m.scratch = append(m.scratch, buf.ReadOnlyData()...)
		}
		b = m.scratch
	}
	m.err = m.scan(b)
	return m.err
}

// scan checks that b is a sequence of well-formed top-level fields and
// extracts the timestamp fields. It does not allocate.
func (m *inMsg) scan(b []byte) error {
	m.n = len(b)
	m.hasSent, m.hasEcho = false, false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if typ == protowire.BytesType && num != 0 && (num == m.sentAtNum || num == m.echoNum) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errWire
			}
			b = b[n:]
			t, ok := parseTimestamp(v)
			if !ok {
				return errWire
			}
			if num == m.sentAtNum {
				m.sentAt, m.hasSent = t, true
			} else {
				m.echo, m.hasEcho = t, true
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
	}
	return nil
}

// parseTimestamp decodes a google.protobuf.Timestamp (seconds = 1, nanos =
// 2); later occurrences win, as in protobuf merging.
func parseTimestamp(b []byte) (time.Time, bool) {
	var sec, nsec int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return time.Time{}, false
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return time.Time{}, false
			}
			b = b[n:]
			if num == 1 {
				sec = int64(v)
			} else {
				nsec = int64(int32(v))
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return time.Time{}, false
		}
		b = b[n:]
	}
	return time.Unix(sec, nsec), true
}

// appendTimestampField appends field num holding a Timestamp of t. Appended
// after a message's own bytes it overrides any value the message had
// (protobuf merges a repeated singular message field, and the last scalar
// wins).
func appendTimestampField(b []byte, num protowire.Number, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	size := 0
	if sec != 0 {
		size += 1 + protowire.SizeVarint(uint64(sec))
	}
	if nsec != 0 {
		size += 1 + protowire.SizeVarint(uint64(nsec))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	if sec != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(sec))
	}
	if nsec != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(nsec))
	}
	return b
}
