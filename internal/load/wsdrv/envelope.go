package wsdrv

import (
	"errors"
	"strconv"
)

// envelope is what the driver reads of a received message: the top-level
// fields of {"type","id","room","to","seq","ts","sts","data"} it needs,
// found without decoding the rest. The byte slices alias the frame.
type envelope struct {
	typ    []byte // "type" string contents
	id     []byte // "id" (or the --correlate field): string contents or number text
	room   []byte // "room" string contents
	code   []byte // data.code of an error envelope
	seq    int64
	ts     int64 // client send time, Unix µs; 0: absent
	sts    int64 // server send time, Unix µs; 0: absent
	hasSeq bool
}

var errEnvelope = errors.New("malformed envelope")

// scanEnvelope reads the top-level fields of a JSON object. correlate names
// the field read into id ("id" by default). It does not allocate; it
// rejects anything that is not one well-formed JSON object.
func scanEnvelope(b []byte, correlate string, e *envelope) error {
	*e = envelope{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errEnvelope
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errEnvelope
		}
		ks, ke, next, ok := scanString(b, i)
		if !ok {
			return errEnvelope
		}
		key := b[ks:ke]
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return errEnvelope
		}
		i = skipWS(b, i+1)
		vs := i
		end, ok := skipValue(b, i, 0)
		if !ok {
			return errEnvelope
		}
		val := b[vs:end]
		switch {
		case string(key) == correlate:
			e.id = unquote(val)
		case string(key) == "type":
			e.typ = unquote(val)
		case string(key) == "room":
			e.room = unquote(val)
		case string(key) == "seq":
			e.seq, e.hasSeq = parseInt(val)
		case string(key) == "ts":
			e.ts, _ = parseInt(val)
		case string(key) == "sts":
			e.sts, _ = parseInt(val)
		case string(key) == "data" && len(val) > 0 && val[0] == '{':
			e.code = objectString(val, "code")
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return errEnvelope
		}
		if b[i] == '}' {
			return trailing(b, i+1)
		}
		if b[i] != ',' {
			return errEnvelope
		}
		i = skipWS(b, i+1)
	}
}

func trailing(b []byte, i int) error {
	if skipWS(b, i) != len(b) {
		return errEnvelope
	}
	return nil
}

// objectString returns the contents of the string field key of the JSON
// object obj (already validated), or nil (absent, or not a string).
func objectString(obj []byte, key string) []byte {
	if v := objectValue(obj, key); len(v) > 0 && v[0] == '"' {
		return unquote(v)
	}
	return nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString scans the string starting at b[i] == '"' and returns its
// contents' bounds and the index after the closing quote.
func scanString(b []byte, i int) (start, end, next int, ok bool) {
	start = i + 1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			j++
		case c == '"':
			return start, j, j + 1, true
		case c < 0x20:
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}

// maxDepth bounds nesting, so a hostile frame cannot recurse deeply.
const maxDepth = 64

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxDepth {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		_, _, next, ok := scanString(b, i)
		return next, ok
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, false
				}
				_, _, next, ok := scanString(b, i)
				if !ok {
					return 0, false
				}
				i = skipWS(b, next)
				if i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipWS(b, i+1)
			}
			end, ok := skipValue(b, i, depth+1)
			if !ok {
				return 0, false
			}
			i = skipWS(b, end)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipWS(b, i+1)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, true
	case c == 't':
		return lit(b, i, "true")
	case c == 'f':
		return lit(b, i, "false")
	case c == 'n':
		return lit(b, i, "null")
	}
	return 0, false
}

func lit(b []byte, i int, s string) (int, bool) {
	if len(b)-i >= len(s) && string(b[i:i+len(s)]) == s {
		return i + len(s), true
	}
	return 0, false
}

// unquote returns a string value's raw contents (escapes left as they are:
// ids and room names are compared as sent), or a number's text.
func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// parseInt reads an integer value, also when quoted.
func parseInt(v []byte) (int64, bool) {
	v = unquote(v)
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n int64
	neg := false
	for k, c := range v {
		if k == 0 && c == '-' {
			neg = true
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// appendID appends id as JSON string contents.
func appendID(b []byte, id uint64) []byte { return strconv.AppendUint(b, id, 10) }

// parseID reads an id the driver wrote (decimal digits).
func parseID(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
