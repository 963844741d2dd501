package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Envelope types a client sends.
const (
	TypeJoin   = "join"
	TypeLeave  = "leave"
	TypeMsg    = "msg"
	TypePM     = "pm"
	TypeTyping = "typing"
	TypeResume = "resume"
	TypeOp     = "op"
)

// Envelope types only the server sends (msg, pm, typing and op go both ways).
const (
	TypeAck          = "ack"
	TypePresence     = "presence"
	TypeNotification = "notification"
	TypeTick         = "tick"
	TypeSnapshot     = "snapshot"
	TypeError        = "error"
)

// Error codes of an error envelope's data.code.
const (
	CodeRateLimited  = "rate_limited"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	CodeInvalid      = "invalid"
	CodeConflict     = "conflict"
)

// Bounds on envelope fields: every input is bounded.
const (
	maxIDLen   = 128 // bytes of the raw id (a JSON string or number)
	maxRoomLen = 64  // bytes of a room name
	maxTextLen = 4096
)

// Envelope is the one JSON message shape on every /ws/ path:
//
//	{"type","id","room","to","seq","ts","sts","data"}
//
// ts is the client's send time and sts the server's, both Unix
// microseconds; seq numbers the events of one room or topic. ID is kept raw
// (a string or a number) so replies echo exactly what the client sent.
type Envelope struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
	Room string          `json:"room,omitempty"`
	To   int64           `json:"to,omitempty"`
	Seq  int64           `json:"seq,omitempty"`
	TS   int64           `json:"ts,omitempty"`
	STS  int64           `json:"sts,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

var errNotObject = errors.New("a frame must be one JSON object")

// DecodeEnvelope parses and checks a client frame: a JSON object with a
// known input type, an id that is a short string or number, a room name of
// at most 64 bytes of [A-Za-z0-9_.:-], and a non-negative to.
func DecodeEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return e, errNotObject
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("bad JSON: %v", err)
	}
	switch e.Type {
	case TypeJoin, TypeLeave, TypeMsg, TypePM, TypeTyping, TypeResume, TypeOp:
	case "":
		return e, errors.New(`"type" is required`)
	default:
		return e, fmt.Errorf("unknown type %q (join, leave, msg, pm, typing, resume, op)", truncate(e.Type, 32))
	}
	if len(e.ID) > 0 {
		if len(e.ID) > maxIDLen {
			e.ID = nil
			return e, fmt.Errorf(`"id" is longer than %d bytes`, maxIDLen)
		}
		if c := e.ID[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
			e.ID = nil
			return e, errors.New(`"id" must be a string or a number`)
		}
	}
	if e.Room != "" && !ValidRoom(e.Room) {
		return e, fmt.Errorf("bad room name %q: 1-%d characters of A-Z a-z 0-9 _ . : -", truncate(e.Room, 32), maxRoomLen)
	}
	if e.To < 0 {
		return e, errors.New(`"to" must be a user id`)
	}
	if e.Seq < 0 {
		return e, errors.New(`"seq" must not be negative`)
	}
	return e, nil
}

// ValidRoom reports whether s is a usable room name.
func ValidRoom(s string) bool {
	if len(s) == 0 || len(s) > maxRoomLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// textData is the payload of msg, pm and notification: data.text.
type textData struct {
	Text string `json:"text"`
}

// decodeText returns data.text, bounded.
func decodeText(data json.RawMessage) (string, error) {
	if len(data) == 0 {
		return "", errors.New(`"data": {"text": "..."} is required`)
	}
	var d textData
	if err := json.Unmarshal(data, &d); err != nil {
		return "", errors.New(`"data" must be {"text": "..."}`)
	}
	if d.Text == "" {
		return "", errors.New(`"data.text" is empty`)
	}
	if len(d.Text) > maxTextLen {
		return "", fmt.Errorf(`"data.text" is longer than %d bytes`, maxTextLen)
	}
	return d.Text, nil
}

// Micros is t as Unix microseconds, the unit of ts and sts.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// appendHead writes the envelope up to (not including) seq: type, id,
// room, to. The encoder is hand-written so field order is the contract's
// and a broadcast is encoded once without reflection.
func appendHead(dst []byte, e *Envelope) []byte {
	dst = append(dst, `{"type":`...)
	dst = strconv.AppendQuote(dst, e.Type)
	if len(e.ID) > 0 {
		dst = append(dst, `,"id":`...)
		dst = append(dst, e.ID...)
	}
	if e.Room != "" {
		dst = append(dst, `,"room":`...)
		dst = appendJSONString(dst, e.Room)
	}
	if e.To != 0 {
		dst = append(dst, `,"to":`...)
		dst = strconv.AppendInt(dst, e.To, 10)
	}
	return dst
}

// appendTail writes ts, sts, data and the closing brace.
func appendTail(dst []byte, e *Envelope) []byte {
	if e.TS != 0 {
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendInt(dst, e.TS, 10)
	}
	if e.STS != 0 {
		dst = append(dst, `,"sts":`...)
		dst = strconv.AppendInt(dst, e.STS, 10)
	}
	if len(e.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	return append(dst, '}')
}

// AppendEnvelope appends e's JSON encoding to dst.
func AppendEnvelope(dst []byte, e *Envelope) []byte {
	dst = appendHead(dst, e)
	if e.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendInt(dst, e.Seq, 10)
	}
	return appendTail(dst, e)
}

// splitEnvelope returns e's encoding around its seq: prefix ends with
// `"seq":`, so prefix + seq + suffix is the envelope. A replay log assigns
// the seq and stores the joined bytes in one step.
func splitEnvelope(e *Envelope) (prefix, suffix []byte) {
	prefix = append(appendHead(nil, e), `,"seq":`...)
	suffix = appendTail(nil, e)
	return prefix, suffix
}

// appendJSONString appends s as a JSON string (json.Marshal's escaping,
// minus HTML escaping, which a WebSocket frame does not need).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// mustJSON marshals server-built payloads (maps and structs of plain
// values, which cannot fail).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ws: marshal %T: %v", v, err))
	}
	return b
}

// errorFrame is an error envelope replying to the request with id.
func errorFrame(id json.RawMessage, code, msg string) []byte {
	return AppendEnvelope(nil, &Envelope{
		Type: TypeError, ID: id, STS: Micros(time.Now()),
		Data: mustJSON(struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{code, msg}),
	})
}
