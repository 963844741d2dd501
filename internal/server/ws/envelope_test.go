package ws

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	e := Envelope{Type: TypeMsg, ID: json.RawMessage(`"a\"b"`), Room: "lobby", To: 7, Seq: 42, TS: 1, STS: 2, Data: json.RawMessage(`{"text":"\"seq\":9"}`)}
	b := AppendEnvelope(nil, &e)
	want := `{"type":"msg","id":"a\"b","room":"lobby","to":7,"seq":42,"ts":1,"sts":2,"data":{"text":"\"seq\":9"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Envelope
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if s := envelopeSeq(b); s != 42 {
		t.Fatalf("envelopeSeq %d", s)
	}
	p, q := splitEnvelope(&e)
	if string(p)+"42"+string(q) != want {
		t.Fatalf("split %s|%s", p, q)
	}
	if got := string(AppendEnvelope(nil, &Envelope{Type: TypeAck})); got != `{"type":"ack"}` {
		t.Fatalf("minimal %s", got)
	}
}

func TestDecodeEnvelopeRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `[]`, `{}`, `{"type":"nope"}`, `{"type":"msg","id":{"x":1}}`, `{"type":"msg","id":true}`,
		`{"type":"join","room":""}x`, `{"type":"join","room":"a b"}`, `{"type":"pm","to":-1}`,
		`{"type":"resume","seq":-3}`, `{"type":"msg","id":"` + string(make([]byte, 200)) + `"}`,
	} {
		if _, err := DecodeEnvelope([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	e, err := DecodeEnvelope([]byte(` {"type":"msg","id":12,"room":"a.b:c-d_e","ts":5,"data":{"text":"x"}} `))
	if err != nil || string(e.ID) != "12" || e.Room != "a.b:c-d_e" {
		t.Fatalf("%+v %v", e, err)
	}
}

// FuzzDecodeEnvelope: the decoder never panics, and what it accepts
// re-encodes to JSON that decodes to the same envelope.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"type":"msg","id":"1","room":"lobby","ts":1,"data":{"text":"hi"}}`,
		`{"type":"pm","to":7,"data":{"text":"x"}}`, `{"type":"resume","room":"r","seq":9}`,
		`{"type":"op","id":3,"data":{"rev":1,"pos":0,"insert":"ab"}}`, `{"type":"join","room":"é"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		out := AppendEnvelope(nil, &e)
		var back Envelope
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", out, err)
		}
		if back.Type != e.Type || back.Room != e.Room || back.To != e.To || back.Seq != e.Seq || back.TS != e.TS {
			t.Fatalf("round trip changed %+v into %+v", e, back)
		}
		if e.Seq > 0 && envelopeSeq(out) != e.Seq {
			t.Fatalf("envelopeSeq(%s) = %d, want %d", out, envelopeSeq(out), e.Seq)
		}
	})
}
