package wsdrv

import (
	"encoding/json"
	"testing"
)

func TestScanEnvelope(t *testing.T) {
	var e envelope
	b := []byte(` {"type":"msg","id":"42","room":"r\"1","seq":7,"ts":"1700000000000001","sts":1700000000000002,
		"data":{"nested":[1,{"a":"}"}],"code":"rate_limited"},"x":null,"y":true,"z":-1.5e3} `)
	if err := scanEnvelope(b, "id", &e); err != nil {
		t.Fatal(err)
	}
	if string(e.typ) != "msg" || string(e.id) != "42" || string(e.room) != `r\"1` || e.seq != 7 || !e.hasSeq ||
		e.ts != 1700000000000001 || e.sts != 1700000000000002 || string(e.code) != "rate_limited" {
		t.Fatalf("%+v", e)
	}
	if err := scanEnvelope([]byte(`{"cid":7,"id":"x"}`), "cid", &e); err != nil || string(e.id) != "7" {
		t.Fatalf("correlate field: %v %q", err, e.id)
	}
	for _, bad := range []string{``, `[]`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, "{\"a\":\"\x01\"}", `{"a":[1,2}`, `{"a" 1}`, `{"a":tru}`} {
		if scanEnvelope([]byte(bad), "id", &e) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if scanEnvelope([]byte(`{}`), "id", &e) != nil {
		t.Error("rejected {}")
	}
}

// FuzzScanEnvelope: the scanner never panics, and what it accepts is a
// JSON object encoding/json accepts too (minus number grammar details).
func FuzzScanEnvelope(f *testing.F) {
	for _, s := range []string{`{"type":"tick","seq":1,"sts":2}`, `{"a":[{"b":"c\"d"}]}`, `{}`, `{"data":{"code":"x"}}`, `[`, `{"a":` + string(make([]byte, 100)) + `}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e envelope
		if scanEnvelope(b, "id", &e) != nil {
			return
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil && json.Valid(b) {
			t.Fatalf("accepted %q, which is valid JSON but not an object: %v", b, err)
		}
	})
}

func TestEchoFrame(t *testing.T) {
	d, err := New(Options{URLs: []string{"ws://127.0.0.1:1/"}, Connections: 1, Message: `{"type":"msg","n":{{.Seq}}}`})
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{d: d, ev: d.env.NewEvaluator(0)}
	cs := &wsConn{w: w}
	w.ev.Begin(3)
	got := string(cs.echoFrame(nil, 9, 123))
	if want := `{"id":"9","ts":123,"type":"msg","n":3}`; got != want {
		t.Fatalf("frame %s, want %s", got, want)
	}
	d2, _ := New(Options{URLs: []string{"ws://127.0.0.1:1/"}, Connections: 1, Message: `{ }`})
	w2 := &worker{d: d2, ev: d2.env.NewEvaluator(0)}
	if got := string((&wsConn{w: w2}).echoFrame(nil, 1, 2)); got != `{"id":"1","ts":2 }` || !json.Valid([]byte(got)) {
		t.Fatalf("empty object frame %s", got)
	}
	if got := string(appendJSONString(nil, []byte("a\"b\\\n"))); got != `"a\"b\\\u000a"` {
		t.Fatalf("json string %s", got)
	}
}
