package ws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/server"
)

var testKey = []byte("test-secret-of-32-bytes-length!!")

// testServer is a Server on 127.0.0.1:0 with a known JWT key.
type testServer struct {
	*Server
	URL  string
	auth *server.JWTAuth
	http *httptest.Server
}

func newTestServer(t *testing.T, mod func(*Options)) *testServer {
	t.Helper()
	auth := server.NewJWT(server.JWTOptions{Key: testKey})
	d := Options{Auth: auth, Ops: true, TickRate: 0, PingInterval: time.Minute}
	if mod != nil {
		mod(&d)
	}
	s := NewHandler(d)
	hs := httptest.NewServer(s)
	ts := &testServer{Server: s, URL: hs.URL, auth: auth, http: hs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	return ts
}

func (ts *testServer) token(t *testing.T, user int64) string {
	t.Helper()
	tok, err := ts.auth.Issue(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

// client is a real coder/websocket client.
type client struct {
	t   *testing.T
	c   *websocket.Conn
	in  chan Envelope
	raw chan []byte
	err chan error
}

func (ts *testServer) dial(t *testing.T, path string, user int64) *client {
	t.Helper()
	c, err := ts.tryDial(t, path, user, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return c
}

func (ts *testServer) tryDial(t *testing.T, path string, user int64, hdr http.Header) (*client, error) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if user != 0 {
		hdr.Set("Authorization", "Bearer "+ts.token(t, user))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+path, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, &dialError{status: resp.StatusCode, err: err}
		}
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	cl := &client{t: t, c: c, in: make(chan Envelope, 10000), raw: make(chan []byte, 10000), err: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				cl.err <- err
				close(cl.in)
				return
			}
			var e Envelope
			if err := json.Unmarshal(b, &e); err != nil {
				cl.err <- err
				close(cl.in)
				return
			}
			cl.raw <- b
			cl.in <- e
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return cl, nil
}

type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return strconv.Itoa(e.status) + ": " + e.err.Error() }

func statusOf(err error) int {
	var de *dialError
	if errors.As(err, &de) {
		return de.status
	}
	return 0
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next envelope, failing after 10 s.
func (c *client) next() Envelope {
	c.t.Helper()
	select {
	case e, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection ended: %v", <-c.err)
		}
		<-c.raw
		return e
	case <-time.After(10 * time.Second):
		c.t.Fatal("no message within 10s")
	}
	return Envelope{}
}

// expect returns the next envelope of type typ, skipping presence and
// typing frames unless asked for.
func (c *client) expect(typ string) Envelope {
	c.t.Helper()
	for {
		e := c.next()
		if e.Type == typ {
			return e
		}
		if e.Type == TypePresence || e.Type == TypeTyping {
			continue
		}
		c.t.Fatalf("got %s %s, want %s", e.Type, string(e.Data), typ)
	}
}

// quiet asserts nothing but presence arrives within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-c.in:
			if !ok {
				return
			}
			<-c.raw
			if e.Type != TypePresence {
				c.t.Fatalf("unexpected %s %s", e.Type, string(e.Data))
			}
		case <-deadline:
			return
		}
	}
}

// closed waits for the connection to end and returns its close code.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return websocket.CloseStatus(<-c.err)
			}
			<-c.raw
		case <-timeout:
			c.t.Fatal("connection still open after 15s")
		}
	}
}

func text(e Envelope) string {
	var d msgData
	_ = json.Unmarshal(e.Data, &d)
	return d.Text
}

func errCode(e Envelope) string {
	var d struct{ Code string }
	_ = json.Unmarshal(e.Data, &d)
	return d.Code
}

func post(t *testing.T, url, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
