package gqldrv

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Verdict is what a response body says as a GraphQL response.
type Verdict struct {
	// JSON is false when the body is not a JSON object (an HTML error page,
	// an empty body): not a GraphQL response.
	JSON bool
	// Errors is the number of entries of a non-empty top-level "errors"
	// array; Codes their extensions.code values ("" when an entry has none
	// or its code is not a string), in order.
	Errors int
	Codes  []string
	// PersistedQueryNotFound says an entry is an APQ miss
	// (PERSISTED_QUERY_NOT_FOUND, or Apollo's PersistedQueryNotFound
	// message).
	PersistedQueryNotFound bool
}

// gqlError is the part of an errors entry the classifier reads.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code any `json:"code"`
	} `json:"extensions"`
}

var errorsKey = []byte(`"errors"`)

// Classify reads a GraphQL response body. It allocates nothing unless the
// body contains the text "errors" (as a top-level key, or anywhere — then
// it decodes the object's keys to know): a successful response is one scan.
// A body cut short (truncated, or the buffer's limit) is classified from
// what arrived, so an errors array that comes first, as servers write it,
// still counts; codes reuses v.Codes' storage.
func Classify(body []byte, v *Verdict) {
	codes := v.Codes[:0]
	*v = Verdict{Codes: codes}
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n') {
		i++
	}
	if i == len(body) || body[i] != '{' {
		return
	}
	v.JSON = true
	if !bytes.Contains(body[i:], errorsKey) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body[i:]))
	if _, err := dec.Token(); err != nil { // '{'
		return
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return
		}
		key, ok := t.(string)
		if !ok {
			return
		}
		if key != "errors" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return
			}
			continue
		}
		var list []gqlError
		if err := dec.Decode(&list); err != nil {
			// Not an array of objects (or cut short inside it): still a
			// failure when anything was there.
			v.Errors = max(v.Errors, 1)
			if len(v.Codes) == 0 {
				v.Codes = append(v.Codes, "")
			}
			return
		}
		v.Errors = len(list)
		for _, e := range list {
			code := ""
			switch c := e.Extensions.Code.(type) {
			case string:
				code = c
			case nil:
			default:
				code = fmt.Sprint(c)
			}
			if code == "PERSISTED_QUERY_NOT_FOUND" || e.Message == "PersistedQueryNotFound" {
				v.PersistedQueryNotFound = true
			}
			v.Codes = append(v.Codes, code)
		}
		return
	}
}
