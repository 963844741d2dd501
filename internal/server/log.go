package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

// LogOptions configures NewLogger.
type LogOptions struct {
	// Level is debug, info, warn or error. Default info.
	Level string
	// Format is text or json. Default text.
	Format string
}

// ParseLogLevel parses a --log-level value.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", s)
}

// NewLogger returns a slog logger writing to w in the chosen format. Records
// logged with a context that carries a request id (WithRequestID) get a
// request_id attribute, so every line of one request can be found.
func NewLogger(w io.Writer, o LogOptions) (*slog.Logger, error) {
	lvl, err := ParseLogLevel(o.Level)
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "", "text":
		h = slog.NewTextHandler(w, ho)
	case "json":
		h = slog.NewJSONHandler(w, ho)
	default:
		return nil, fmt.Errorf("log format %q is not one of text, json", o.Format)
	}
	return slog.New(RequestIDHandler(h)), nil
}

// RequestIDHandler wraps h so records logged with a request-scoped context
// carry request_id.
func RequestIDHandler(h slog.Handler) slog.Handler { return ridHandler{h} }

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ridHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ridHandler{h.Handler.WithAttrs(as)}
}

func (h ridHandler) WithGroup(name string) slog.Handler {
	return ridHandler{h.Handler.WithGroup(name)}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	switch v := ctx.Value(requestIDKey{}).(type) {
	case string:
		return v
	case *Exchange:
		return v.id
	}
	return ""
}

// RequestIDs generates request ids: a random per-process prefix and a
// counter, unique within the process and cheap enough for every request
// (no crypto/rand call per id). The zero value is not usable; use
// NewRequestIDs.
type RequestIDs struct {
	prefix []byte
	n      atomic.Uint64
}

// NewRequestIDs returns a generator with a fresh random prefix.
func NewRequestIDs() *RequestIDs {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	p := make([]byte, 0, 9)
	p = hex.AppendEncode(p, b[:])
	return &RequestIDs{prefix: append(p, '-')}
}

// Next returns a new id such as "9f86d081-1k3".
func (g *RequestIDs) Next() string {
	var buf [idLen]byte
	return string(g.appendNext(buf[:0]))
}

// idLen is the longest generated id: an 8-digit hex prefix, '-', and a
// uint64 in base 36 (13 digits).
const idLen = 8 + 1 + 13

// appendNext appends a new id to b: the prefix, then the count in base 36,
// written in place (strconv.AppendUint would format into a 65-byte buffer
// on the stack and look its digits up in a table: two more cache lines on
// a request that starts cold).
func (g *RequestIDs) appendNext(b []byte) []byte {
	b = append(b, g.prefix...)
	n := g.n.Add(1)
	w := 1
	for v := n / 36; v > 0; v /= 36 {
		w++
	}
	end := len(b) + w
	b = slices.Grow(b, w)[:end]
	for i := end - 1; i >= end-w; i-- {
		d := byte(n % 36)
		if d < 10 {
			b[i] = '0' + d
		} else {
			b[i] = 'a' + d - 10
		}
		n /= 36
	}
	return b
}

// ValidRequestID reports whether a client-supplied id may be echoed: 1 to
// 128 printable ASCII characters without spaces, so it cannot forge log
// lines or headers.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
