package netcount

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/load/rawconn"
)

// TestCountsHeadersAndBody: an HTTP/1.1 exchange through a counting dialer
// counts exactly the bytes the server's connection saw, request line,
// headers and body included.
func TestCountsHeadersAndBody(t *testing.T) {
	var srvC Counter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	ln := srv.Listener
	srv.Listener = countingListener{ln, &srvC}
	srv.Start()
	defer srv.Close()

	var c Counter
	tr := &http.Transport{DialContext: Dialer((&net.Dialer{}).DialContext, &c)}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for range 3 {
		resp, err := cl.Post(srv.URL, "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 1000 {
			t.Fatalf("body %d bytes", len(b))
		}
	}
	tr.CloseIdleConnections()
	srv.Close()
	// The server read what the client wrote and the other way round.
	if c.Sent() != srvC.Received() || c.Received() != srvC.Sent() {
		t.Fatalf("client sent %d received %d; server received %d sent %d", c.Sent(), c.Received(), srvC.Received(), srvC.Sent())
	}
	if c.Received() < 3*(1000+50) || c.Sent() < int64(3*(len("POST / HTTP/1.1\r\n")+5)) {
		t.Fatalf("client sent %d received %d: headers missing", c.Sent(), c.Received())
	}
	s, r := c.Take()
	if s == 0 || r == 0 || c.Sent() != 0 || c.Received() != 0 {
		t.Fatalf("Take = %d, %d; after: %d, %d", s, r, c.Sent(), c.Received())
	}
}

type countingListener struct {
	net.Listener
	c *Counter
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(conn, l.c), nil
}

// TestRawExact: bytes through a pipe-like TCP pair are counted exactly.
func TestRawExact(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		br := bufio.NewReader(s)
		line, _ := br.ReadString('\n')
		io.WriteString(s, strings.ToUpper(line)+"extra\n")
	}()
	var c Counter
	conn, err := Dialer((&net.Dialer{}).DialContext, &c)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "ping\n")
	b, _ := io.ReadAll(conn)
	if string(b) != "PING\nextra\n" || c.Sent() != 5 || c.Received() != 11 {
		t.Fatalf("read %q, counted sent %d received %d", b, c.Sent(), c.Received())
	}
	if conn.(*Conn).Unwrap() == nil {
		t.Fatal("Unwrap")
	}
}

// TestWriteThenReadCounts: a request written and its reply read in one
// WriteThenRead are counted like a Write and a Read, whether the wrapped
// connection does it in one poller wait (rawconn) or not (a plain conn:
// Write, then Read).
func TestWriteThenReadCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer s.Close()
				line, _ := bufio.NewReader(s).ReadString('\n')
				io.WriteString(s, strings.ToUpper(line))
			}()
		}
	}()
	for _, raw := range []bool{true, false} {
		var c Counter
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if raw {
			nc = rawconn.Wrap(nc)
		}
		conn := Wrap(nc, &c)
		p := make([]byte, 16)
		wn, rn, err := conn.WriteThenRead([]byte("ping\n"), p)
		if err != nil || wn != 5 {
			t.Fatalf("raw %v: WriteThenRead = %d, %d, %v", raw, wn, rn, err)
		}
		got := string(p[:rn])
		rest, _ := io.ReadAll(conn)
		got += string(rest)
		if got != "PING\n" || c.Sent() != 5 || c.Received() != 5 {
			t.Fatalf("raw %v: read %q, counted sent %d received %d", raw, got, c.Sent(), c.Received())
		}
		conn.Close()
	}
}
