package gql

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// decodeParams decodes a POST body into p exactly as gqlgen's transports do
// (encoding/json's Decoder with UseNumber: one JSON value, numbers as
// json.Number, whatever follows the value ignored). The common body is
// split by hand (fastParams); anything it does not handle goes through
// encoding/json whole, so the two can differ only in speed
// (FuzzDecodeParams holds them to that).
func decodeParams(body []byte, p *graphql.RawParams) error {
	if fastParams(body, p) {
		return nil
	}
	*p = graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(p)
}

// maxFastDepth bounds fastParams' nesting; deeper values go to
// encoding/json (whose own bound is 10,000).
const maxFastDepth = 32

// fastParams decodes the usual body: one object with the keys query,
// operationName (strings or null), variables and extensions (objects or
// null), each at most once and spelled exactly so, whose strings (keys
// included) hold no escape, no control character and only valid UTF-8.
// It reports false, with p in any state, for anything else: other or
// repeated keys (encoding/json matches keys case-insensitively and merges
// repeated objects), escapes, invalid UTF-8 (encoding/json replaces it),
// deep nesting, and every malformed input.
func fastParams(b []byte, p *graphql.RawParams) bool {
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	var seen uint8
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		var bit uint8
		switch string(key) {
		case "query":
			bit = 1
			ok = s.nullableString(&p.Query)
		case "operationName":
			bit = 2
			ok = s.nullableString(&p.OperationName)
		case "variables":
			bit = 4
			p.Variables, ok = s.nullableObject()
		case "extensions":
			bit = 8
			p.Extensions, ok = s.nullableObject()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str reads a string with no escape and no control character, valid
// UTF-8; it returns the bytes between the quotes.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return nil, false
}

// nullableString reads a string into *v; null leaves *v as it is, as
// encoding/json does.
func (s *scanner) nullableString(v *string) bool {
	if s.lit("null") {
		return true
	}
	b, ok := s.str()
	if ok {
		*v = string(b)
	}
	return ok
}

// nullableObject reads an object, or null as a nil map.
func (s *scanner) nullableObject() (map[string]any, bool) {
	if s.lit("null") {
		return nil, true
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	v, ok := s.value(0)
	if !ok {
		return nil, false
	}
	return v.(map[string]any), true
}

// value reads any JSON value as encoding/json decodes into an any with
// UseNumber.
func (s *scanner) value(depth int) (any, bool) {
	if s.i >= len(s.b) || depth > maxFastDepth {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		m := map[string]any{}
		s.ws()
		if s.eat('}') {
			return m, true
		}
		for {
			s.ws()
			k, ok := s.str()
			if !ok {
				return nil, false
			}
			s.ws()
			if !s.eat(':') {
				return nil, false
			}
			s.ws()
			v, ok := s.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[string(k)] = v
			s.ws()
			if s.eat(',') {
				continue
			}
			return m, s.eat('}')
		}
	case c == '[':
		s.i++
		a := []any{}
		s.ws()
		if s.eat(']') {
			return a, true
		}
		for {
			s.ws()
			v, ok := s.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			s.ws()
			if s.eat(',') {
				continue
			}
			return a, s.eat(']')
		}
	case c == '"':
		b, ok := s.str()
		return string(b), ok
	case c == 't':
		return true, s.lit("true")
	case c == 'f':
		return false, s.lit("false")
	case c == 'n':
		return nil, s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return nil, false
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? as a
// json.Number.
func (s *scanner) number() (any, bool) {
	start := s.i
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.eat('.') && !s.digits() {
		return nil, false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return nil, false
		}
	}
	return json.Number(s.b[start:s.i]), true
}

// digits reads one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
