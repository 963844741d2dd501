package gql

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalInt64ID writes an id as the GraphQL ID it is: a JSON string.
func MarshalInt64ID(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var b [24]byte
		out := append(b[:0], '"')
		out = strconv.AppendInt(out, id, 10)
		out = append(out, '"')
		_, _ = w.Write(out)
	})
}

// UnmarshalInt64ID reads an ID given as a string or an integer: the REST
// ids, positive integers.
func UnmarshalInt64ID(v any) (int64, error) {
	var id int64
	var err error
	switch v := v.(type) {
	case string:
		id, err = strconv.ParseInt(v, 10, 64)
	case json.Number:
		id, err = v.Int64()
	case int64:
		id = v
	case int:
		id = int64(v)
	default:
		return 0, fmt.Errorf("an ID must be a positive integer, as a string or a number; got %T", v)
	}
	if err != nil || id < 0 {
		return 0, fmt.Errorf("an ID must be a positive integer, got %v", v)
	}
	return id, nil
}
