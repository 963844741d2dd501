package gql

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// slowParams is gqlgen's decoding: encoding/json, UseNumber.
func slowParams(b []byte) (graphql.RawParams, error) {
	var p graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(&p)
	return p, err
}

var decodeSeeds = []string{
	`{"query":"query P($id: ID!) { product(id: $id) { id } }","variables":{"id":"7"}}`,
	` { "query" : "{ me { id } }" , "operationName" : null , "variables" : null , "extensions" : null } `,
	`{"query":"q","operationName":"P","variables":{"a":[1,-2.5e3,0,true,false,null,"x",{"b":{}}],"c":[]},"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}`,
	`{}`,
	`{"query":"héllo ✓"}`,
	`{"query":"a\nb"}`,
	`{"query":"\u00e9"}`,
	`{"Query":"x"}`,
	`{"query":"x","query":"y"}`,
	`{"variables":{"a":1},"variables":{"b":2}}`,
	`{"query":"x"} trailing`,
	`{"query":"x"`,
	`{"variables":{"n":01}}`,
	`{"variables":{"n":1.}}`,
	`{"variables":{"n":-}}`,
	`{"variables":{"n":1e}}`,
	`{"variables":{"n":tru}}`,
	`{"variables":[1]}`,
	`{"query":1}`,
	`null`,
	`[]`,
	``,
	"{\"query\":\"\xff\"}",
	`{"variables":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}`,
}

// TestDecodeParams: the fast path handles the usual bodies and agrees with
// encoding/json wherever it answers.
func TestDecodeParams(t *testing.T) {
	for i, s := range decodeSeeds {
		var fast graphql.RawParams
		ok := fastParams([]byte(s), &fast)
		slow, err := slowParams([]byte(s))
		if ok && (err != nil || !reflect.DeepEqual(fast, slow)) {
			t.Errorf("%q: fast %+v, encoding/json %+v (%v)", s, fast, slow, err)
		}
		if i < 5 && !ok {
			t.Errorf("%q: not on the fast path", s)
		}
		var got graphql.RawParams
		gotErr := decodeParams([]byte(s), &got)
		if (gotErr != nil) != (err != nil) || err == nil && !reflect.DeepEqual(got, slow) {
			t.Errorf("%q: decodeParams %+v (%v), encoding/json %+v (%v)", s, got, gotErr, slow, err)
		}
	}
}

// TestDecodeParamsAllocs: the usual body costs its values and no more.
func TestDecodeParamsAllocs(t *testing.T) {
	body := []byte(decodeSeeds[0])
	n := testing.AllocsPerRun(100, func() {
		var p graphql.RawParams
		if !fastParams(body, &p) {
			t.Fatal("not on the fast path")
		}
	})
	// the query string, the variables map (header and group), its key and
	// its boxed value
	if n > 5 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzDecodeParams: wherever the fast path answers, encoding/json
// accepts the body and decodes the same parameters.
func FuzzDecodeParams(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast graphql.RawParams
		if !fastParams(b, &fast) {
			return
		}
		slow, err := slowParams(b)
		if err != nil {
			t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, encoding/json %#v", b, fast, slow)
		}
	})
}

func BenchmarkDecodeParams(b *testing.B) {
	body := []byte(decodeSeeds[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p graphql.RawParams
			fastParams(body, &p)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = slowParams(body)
		}
	})
}
