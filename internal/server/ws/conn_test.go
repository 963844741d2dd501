package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/pipenet"
	"github.com/loadrig/loadrig/internal/syncbuf"
)

// serverConns returns the server's open connections.
func serverConns(s *Server) []*conn {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	var out []*conn
	for _, slot := range s.conns {
		for c := range slot {
			out = append(out, c)
		}
	}
	return out
}

// writerRunning reports whether c has a writer goroutine.
func writerRunning(c *conn) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.writing
}

// The writer goroutine exists only while the queue has messages: send
// starts it and it exits when it has drained the queue, while the
// connection stays open and keeps receiving.
func TestWriterRunsOnlyWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: time.Hour})
		defer b.stop()
		cl := b.dial(t, "/ws/ticker", 0)
		defer cl.CloseNow()
		synctest.Wait()
		cs := serverConns(b.s)
		if len(cs) != 1 {
			t.Fatalf("%d server connections, want 1", len(cs))
		}
		sc := cs[0]
		if writerRunning(sc) {
			t.Fatal("a writer runs on a connection that was never sent anything")
		}
		for round := range 3 {
			for i := range 5 {
				if !sc.send([]byte{'0' + byte(round), '0' + byte(i)}) {
					t.Fatal("send refused on an open connection")
				}
			}
			for i := range 5 {
				_, got, err := cl.Read(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if want := string([]byte{'0' + byte(round), '0' + byte(i)}); string(got) != want {
					t.Fatalf("round %d: got %q, want %q (queue order)", round, got, want)
				}
			}
			synctest.Wait()
			if writerRunning(sc) {
				t.Fatalf("round %d: the writer still runs with the queue drained", round)
			}
			if n := sc.pending.Load(); n != 0 {
				t.Fatalf("round %d: pending %d after everything was read", round, n)
			}
		}
	})
}

// Senders racing the writer's exit: every message is written once, in
// each sender's order, whatever the interleaving of a writer finding the
// queue empty and a send queueing behind it. Run with -race -count=50.
func TestWriterStartStopNeverStrandsAMessage(t *testing.T) {
	ln := pipenet.Listen()
	s := NewHandler(Options{PingInterval: time.Hour, Queue: 1 << 16})
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = hs.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang guard only
	defer cancel()
	cl, _, err := websocket.Dial(ctx, "ws://pipe/ws/ticker", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: ln.Dial}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.CloseNow()
	var sc *conn
	for sc == nil && ctx.Err() == nil { // registered just after the 101
		if cs := serverConns(s); len(cs) == 1 {
			sc = cs[0]
		}
		runtime.Gosched()
	}
	const senders, each = 8, 300
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := make([]byte, 8)
				binary.BigEndian.PutUint32(b, uint32(g))
				binary.BigEndian.PutUint32(b[4:], uint32(i))
				if !sc.send(b) {
					t.Errorf("sender %d: message %d refused", g, i)
					return
				}
				// Pauses of different lengths let the writer drain the queue
				// and exit, so sends land on both sides of its exit.
				if i%2 == g%2 {
					time.Sleep(time.Duration(g+1) * 10 * time.Microsecond)
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	next := make([]uint32, senders)
	for n := 0; n < senders*each; n++ {
		_, b, err := cl.Read(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", n, senders*each, err)
		}
		g, i := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
		if i != next[g] {
			t.Fatalf("sender %d: got message %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
	// The writer counts a message after its write returns, which may be
	// after the client has read it; it then finds the queue empty.
	for writerRunning(sc) && ctx.Err() == nil {
		runtime.Gosched()
	}
	if n := sc.pending.Load(); n != 0 || writerRunning(sc) {
		t.Fatalf("pending %d, writer running %v after every message arrived", n, writerRunning(sc))
	}
}

// net/http's handler returns once the connection is upgraded: the
// connection goes on, read and written, on the handler's own goroutine.
func TestHandlerDetachesAfterUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: time.Hour})
		defer b.stop()
		var returned atomic.Int64
		inner := b.hs.Handler
		b.hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r)
			returned.Add(1)
		})
		c := b.dial(t, "/ws/echo", 0)
		defer c.CloseNow()
		synctest.Wait()
		if n := returned.Load(); n != 1 {
			t.Fatalf("net/http's handler returned %d times after the upgrade, want 1", n)
		}
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("active %d, want 1", n)
		}
		for _, m := range []string{"one", "two"} {
			if err := c.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.Read(t.Context()); err != nil || string(got) != m {
				t.Fatalf("echo of %q: %q, %v", m, got, err)
			}
		}
		// A refused handshake answers on net/http's goroutine as before.
		resp, err := b.client.Get("http://pipe/ws/chat") // no token, no upgrade
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
}

// The ping wheel pings a connection within one tick of PingInterval after
// it opened, whenever in the wheel's turn that was: a peer whose pings
// cannot be written (it never reads) is closed the ping's write timeout
// later (coder/websocket's 5 s for control frames).
func TestPingWheelFirstPingAfterOneInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		tick := interval / pingSlots
		b := newBubbleServer(Options{PingInterval: interval})
		defer b.stop()
		time.Sleep(7 * time.Second) // mid-turn
		start := time.Now()
		c := b.dial(t, "/ws/echo", 0) // never reads
		defer c.CloseNow()
		synctest.Wait()
		time.Sleep(interval - tick - time.Millisecond - time.Since(start))
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("closed %v after opening, before its first ping was due: active %d", time.Since(start), n)
		}
		time.Sleep(interval + 5*time.Second + time.Millisecond - time.Since(start))
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 0 {
			t.Fatalf("a peer that cannot take a ping is still open %v after opening: active %d", time.Since(start), n)
		}
	})
}

// A client that sends its first frame with the handshake, before the 101,
// loses nothing: net/http has read it into its buffer, so that buffer is
// kept for the connection (hijackWriter) and the frame is echoed.
func TestFrameSentWithHandshakeIsRead(t *testing.T) {
	ts := newTestServer(t, nil)
	addr := strings.TrimPrefix(ts.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard only
	payload := "sent before the 101"
	frame := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...) // text, masked with a zero key
	req := "GET /ws/echo HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x81 || string(got) != payload {
		t.Fatalf("echo: header %x payload %q, want 81 and %q", hdr, got, payload)
	}
}

// A detached handler's panic before the detach (in the handler or in the
// upgrade run on net/http's goroutine) is raised on net/http's goroutine,
// where the spine's recovery sees it; one after the detach is logged and
// the caller has long returned.
func TestDetachedHandlerPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		s := NewHandler(Options{PingInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		defer func() { _ = s.Shutdown(context.Background()) }()
		serve := func(h http.HandlerFunc) (v any) {
			defer func() { v = recover() }()
			s.detached(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ws/x", nil))
			return nil
		}
		if v := serve(func(http.ResponseWriter, *http.Request) { panic("in the handler") }); v != "in the handler" {
			t.Errorf("panic in the handler: caller recovered %v", v)
		}
		if v := serve(func(w http.ResponseWriter, _ *http.Request) {
			onNetHTTP(w, func() { panic("in the upgrade") })
		}); v != "in the upgrade" {
			t.Errorf("panic in the upgrade: caller recovered %v", v)
		}
		if v := serve(func(w http.ResponseWriter, _ *http.Request) {
			detach(w)
			panic("after the detach")
		}); v != nil {
			t.Errorf("panic after the detach reached the caller: %v", v)
		}
		synctest.Wait()
		if got := logs.String(); !strings.Contains(got, "websocket handler panic") || !strings.Contains(got, "after the detach") {
			t.Errorf("panic after the detach not logged: %q", got)
		}
	})
}

// syncBuffer is a goroutine-safe sink for logs and output.
type syncBuffer = syncbuf.Buffer
