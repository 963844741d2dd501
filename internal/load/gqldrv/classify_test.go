package gqldrv

import (
	"encoding/json"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		body   string
		json   bool
		errors int
		codes  []string
		pqnf   bool
	}{
		{`{"data":{"a":1}}`, true, 0, nil, false},
		{`  {"data":{"errors":"a field named errors"}}`, true, 0, nil, false},
		{`{"errors":[],"data":{}}`, true, 0, nil, false},
		{`{"errors":null,"data":{}}`, true, 0, nil, false},
		{`{"data":null,"errors":[{"message":"x","extensions":{"code":"NOT_FOUND"}},{"message":"y"}]}`, true, 2, []string{"NOT_FOUND", ""}, false},
		{`{"errors":[{"message":"PersistedQueryNotFound"}]}`, true, 1, []string{""}, true},
		{`{"errors":[{"message":"m","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}`, true, 1, []string{"PERSISTED_QUERY_NOT_FOUND"}, true},
		{`{"errors":[{"message":"m","extensions":{"code":42}}]}`, true, 1, []string{"42"}, false},
		{`{"errors":[{"message":"first, then cut`, true, 1, []string{""}, false},
		{`{"errors":"not a list"}`, true, 1, []string{""}, false},
		{`<html>errors</html>`, false, 0, nil, false},
		{``, false, 0, nil, false},
	} {
		var v Verdict
		Classify([]byte(c.body), &v)
		if v.JSON != c.json || v.Errors != c.errors || v.PersistedQueryNotFound != c.pqnf || len(v.Codes) != len(c.codes) {
			t.Errorf("%s: %+v", c.body, v)
			continue
		}
		for i := range c.codes {
			if v.Codes[i] != c.codes[i] {
				t.Errorf("%s: codes %q, want %q", c.body, v.Codes, c.codes)
			}
		}
	}
}

// A response without "errors" is classified without allocating.
func TestClassifyNoErrorsDoesNotAllocate(t *testing.T) {
	body := []byte(`{"data":{"product":{"id":"1","name":"Widget","reviews":[{"rating":5},{"rating":4}]}}}`)
	v := Verdict{Codes: make([]string, 0, 4)}
	if n := testing.AllocsPerRun(100, func() { Classify(body, &v) }); n != 0 || v.Errors != 0 || !v.JSON {
		t.Errorf("%.0f allocs, verdict %+v", n, v)
	}
}

// FuzzClassify: never panics, and on a complete JSON object agrees with a
// full decode about whether the errors array is non-empty.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{`{"data":{}}`, `{"errors":[{"message":"x","extensions":{"code":"A"}}]}`, `{"errors":[]}`,
		`{"data":{"errors":[1]}}`, `{"errors":null}`, `[1]`, `{"errors":[{"extensions":{"code":{"a":1}}}]}`, `{"a":"\"errors\""}`, `null`, ` null `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v Verdict
		Classify(body, &v)
		if v.Errors > 0 && v.Errors != len(v.Codes) && len(v.Codes) != 1 {
			t.Fatalf("errors %d but %d codes", v.Errors, len(v.Codes))
		}
		var obj map[string]json.RawMessage
		// json.Unmarshal accepts `null` into a map (leaving it nil): that body
		// is no object, so the classifier need not call it one. The key is
		// read from the map because a struct field would also match "ErrorS"
		// (encoding/json folds case); GraphQL's key is exactly "errors".
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			return
		}
		errs := obj["errors"]
		var list []json.RawMessage
		nonEmpty := len(errs) > 0 && string(errs) != "null" && (json.Unmarshal(errs, &list) != nil || len(list) > 0)
		if !v.JSON {
			t.Fatalf("%q: a JSON object classified as not JSON", body)
		}
		if nonEmpty != (v.Errors > 0) {
			t.Fatalf("%q: classifier says %d errors, full decode says non-empty=%v", body, v.Errors, nonEmpty)
		}
	})
}
