package httpdrv

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// testExchange sends POST /q?a=<attempt> with body "<seq>:<attempt>", asks
// for a follow-up while the body says "again", and fails a 200 whose body
// contains "errors". It records what it was given.
type testExchange struct {
	calls     int
	bodies    []string
	truncated []bool
	kinds     []metrics.ErrKind
}

func (x *testExchange) Request(ev *tmpl.Evaluator, seq uint64, attempt int, target, body []byte) ([]byte, []byte, int) {
	target = append(target, "/q?a="...)
	target = strconv.AppendInt(target, int64(attempt), 10)
	body = strconv.AppendUint(body, seq, 10)
	body = append(body, ':')
	body = strconv.AppendInt(body, int64(attempt), 10)
	return target, body, 2
}

func (x *testExchange) Response(status int, kind metrics.ErrKind, body []byte, truncated, recording bool) (metrics.ErrKind, bool) {
	x.calls++
	x.bodies = append(x.bodies, string(body))
	x.truncated = append(x.truncated, truncated)
	x.kinds = append(x.kinds, kind)
	if kind != metrics.OK {
		return kind, false
	}
	if bytes.Contains(body, []byte("again")) {
		return metrics.OK, true
	}
	if bytes.Contains(body, []byte(`"errors"`)) {
		return "graphql_error", false
	}
	return metrics.OK, false
}

// An Exchange chooses target and body, sees every final body (chunked or
// not, non-2xx too) and may ask for follow-ups within one operation; bytes
// add up over the requests, and the wire counters agree on the fast path.
func TestExchange(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			seq, attempt, _ := strings.Cut(string(b), ":")
			if r.URL.Query().Get("a") != attempt {
				http.Error(w, "target and body disagree", 400)
				return
			}
			switch {
			case seq == "1" && attempt == "0":
				w.Write([]byte("again"))
			case seq == "2":
				w.Header().Set("Content-Type", "application/json")
				w.(http.Flusher).Flush() // chunked
				w.Write([]byte(`{"errors":[{"message":"x"}],"data":null}`))
			case seq == "3":
				http.Error(w, `{"errors":[]}`, 503)
			case seq == "4":
				w.Write(bytes.Repeat([]byte("z"), 100))
			default:
				w.Write([]byte(`{"data":{}}`))
			}
		}))
		var xs []*testExchange
		d := newDriver(t, Options{URL: s.URL + "/ignored", Method: "POST", ForceNetHTTP: force, MaxBody: 64,
			NewExchange: func(int) Exchange { x := &testExchange{}; xs = append(xs, x); return x }})
		w := newWorker(t, d, 0)
		x := xs[len(xs)-1]

		out := do(t, w, 0, nil)
		if out.Err != metrics.OK || out.Op != 2 || x.bodies[0] != `{"data":{}}` {
			t.Fatalf("seq 0: %+v, bodies %q", out, x.bodies)
		}
		one := out.BytesSent
		out = do(t, w, 1, nil)
		if out.Err != metrics.OK || x.calls != 3 || x.bodies[1] != "again" || x.bodies[2] != `{"data":{}}` {
			t.Fatalf("seq 1 (follow-up): %+v, calls %d, bodies %q", out, x.calls, x.bodies)
		}
		if out.BytesSent != 2*one {
			t.Errorf("seq 1 sent %d bytes over two requests, want 2×%d", out.BytesSent, one)
		}
		if out = do(t, w, 2, nil); out.Err != "graphql_error" {
			t.Errorf("seq 2 (chunked errors) = %+v, want graphql_error; body %q", out, x.bodies[len(x.bodies)-1])
		}
		if out = do(t, w, 3, nil); out.Err != metrics.HTTPStatusKind(503) || x.kinds[len(x.kinds)-1] != "http_503" {
			t.Errorf("seq 3 = %+v, want http_503 passed to and kept by the exchange", out)
		}
		if out = do(t, w, 4, nil); out.Err != metrics.OK || len(x.bodies[len(x.bodies)-1]) != 64 || !x.truncated[len(x.truncated)-1] {
			t.Errorf("seq 4: kept %d bytes, truncated %v; want 64, true", len(x.bodies[len(x.bodies)-1]), x.truncated[len(x.truncated)-1])
		}
		if force {
			return
		}
		// Fast path: the counting connection saw exactly what the outcomes said.
		var sent, recv int64
		w2 := newWorker(t, d, 1)
		for seq := uint64(0); seq < 5; seq++ {
			o := do(t, w2, seq, nil)
			sent += o.BytesSent
			recv += o.BytesReceived
		}
		if got := d.WireBytes(); got.Sent < sent || got.Received < recv {
			t.Errorf("WireBytes %+v, want at least the outcomes' %d sent, %d received", got, sent, recv)
		}
	})
}

// The fast path's wire bytes equal the outcomes' bytes exactly.
func TestWireBytesFastPath(t *testing.T) {
	u := fixedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world")
	d := newDriver(t, Options{URL: u + "/x", Method: "POST", Body: `{"id":{{.Seq}}}`})
	w := newWorker(t, d, 0)
	var sent, recv int64
	for seq := uint64(0); seq < 20; seq++ {
		o := do(t, w, seq, nil)
		if o.Err != metrics.OK {
			t.Fatal(o)
		}
		sent += o.BytesSent
		recv += o.BytesReceived
	}
	if got := d.WireBytes(); got != (metrics.Bytes{Sent: sent, Received: recv}) {
		t.Errorf("WireBytes = %+v, want %d sent, %d received", got, sent, recv)
	}
}

// zeroExchange is a constant POST whose classifier scans the kept body for
// "errors", as the GraphQL driver's does when there are none.
type zeroExchange struct{}

func (zeroExchange) Request(ev *tmpl.Evaluator, seq uint64, attempt int, target, body []byte) ([]byte, []byte, int) {
	return append(target, "/graphql"...), append(body, `{"query":"{ product(id: 1) { name } }"}`...), 1
}

func (zeroExchange) Response(status int, kind metrics.ErrKind, body []byte, truncated, recording bool) (metrics.ErrKind, bool) {
	if kind == metrics.OK && bytes.Contains(body, []byte(`"errors"`)) {
		return "graphql_error", false
	}
	return kind, false
}

const gqlResp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"data\":{\"product\":{\"name\":\"Widget 1\"}}}"

// With an Exchange the fast path still allocates nothing per request.
func TestExchangeZeroAllocs(t *testing.T) {
	u := fixedServer(t, gqlResp)
	d := newDriver(t, Options{URL: u + "/graphql", Method: "POST", NewExchange: func(int) Exchange { return zeroExchange{} }})
	w := newWorker(t, d, 0)
	op := load.NewOp(0, newSink())
	ctx := t.Context()
	do(t, w, 0, nil)
	allocs := testing.AllocsPerRun(200, func() {
		if out := w.Do(ctx, op); out.Err != metrics.OK || out.Op != 1 {
			t.Fatal(out)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per request with an exchange, want 0", allocs)
	}
}

// BenchmarkExchange is BenchmarkFastPath/constant's POST with and without
// an Exchange reading the body (the GraphQL driver's cost over plain HTTP).
func BenchmarkExchange(b *testing.B) {
	body := `{"query":"{ product(id: 1) { name } }"}`
	b.Run("plain", func(b *testing.B) { benchDoResp(b, Options{URL: "/graphql", Method: "POST", Body: body}, gqlResp) })
	b.Run("exchange", func(b *testing.B) {
		benchDoResp(b, Options{URL: "/graphql", Method: "POST", NewExchange: func(int) Exchange { return zeroExchange{} }}, gqlResp)
	})
}
