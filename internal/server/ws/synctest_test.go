package ws

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/pipenet"
	"github.com/loadrig/loadrig/internal/server"
)

// bubbleServer serves s over a pipeListener; stop shuts everything down
// (call it before the bubble ends).
type bubbleServer struct {
	s      *Server
	ln     *pipenet.Listener
	hs     *http.Server
	client *http.Client
	auth   *server.JWTAuth
}

func newBubbleServer(d Options) *bubbleServer {
	auth := server.NewJWT(server.JWTOptions{Key: testKey})
	d.Auth = auth
	s := NewHandler(d)
	ln := pipenet.Listen()
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(ln) }()
	tr := &http.Transport{DialContext: ln.Dial}
	return &bubbleServer{s: s, ln: ln, hs: hs, client: &http.Client{Transport: tr}, auth: auth}
}

func (b *bubbleServer) stop() {
	_ = b.s.Shutdown(context.Background())
	_ = b.hs.Close()
	b.client.CloseIdleConnections()
}

func (b *bubbleServer) dial(t *testing.T, path string, user int64) *websocket.Conn {
	t.Helper()
	hdr := http.Header{}
	if user != 0 {
		tok, _ := b.auth.Issue(t.Context(), user)
		hdr.Set("Authorization", "Bearer "+tok.Value)
	}
	c, _, err := websocket.Dial(t.Context(), "ws://pipe"+path, &websocket.DialOptions{HTTPClient: b.client, HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHeartbeatClosesSilentPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: 20 * time.Second})
		defer b.stop()
		alive := b.dial(t, "/ws/echo", 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		alive.CloseRead(ctx) // reads, so pongs are sent
		silent := b.dial(t, "/ws/echo", 0)
		_ = silent // never reads: pings go unanswered
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 2 {
			t.Fatalf("active %d", n)
		}
		time.Sleep(20*time.Second + time.Millisecond) // first ping, unanswered
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 2 {
			t.Fatalf("closed before the pong was due: active %d", n)
		}
		time.Sleep(20 * time.Second) // the pong is now missing
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("after a missed pong: active %d, want 1 (the reading peer stays)", n)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("the answering peer was closed: active %d", n)
		}
		silent.CloseNow()
		alive.CloseNow()
	})
}

func TestRateLimiterSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{})
		defer b.stop()
		c := b.dial(t, "/ws/chat", 1)
		defer c.CloseNow()
		ctx := t.Context()
		// round sends n joins at once and counts acks and rate_limited errors.
		round := func(n int) (acks, limited int) {
			for range n {
				if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r"}`)); err != nil {
					t.Fatal(err)
				}
			}
			for range n {
				_, m, err := c.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.Contains(string(m), `"ack"`):
					acks++
				case strings.Contains(string(m), CodeRateLimited):
					limited++
				}
			}
			return
		}
		if a, l := round(45); a != DefaultMsgBurst || l != 5 {
			t.Fatalf("burst: %d acks %d limited, want 40 and 5", a, l)
		}
		time.Sleep(time.Second) // 20 tokens come back
		if a, l := round(25); a != DefaultMsgRate || l != 5 {
			t.Fatalf("after 1s: %d acks %d limited, want 20 and 5", a, l)
		}
	})
}

func TestLongPollWaitsUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{})
		defer b.stop()
		get := func(url string) (int, time.Duration) {
			start := time.Now()
			resp, err := b.client.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, time.Since(start)
		}
		if code, took := get("http://pipe/api/events?topic=ticker&wait=25s"); code != http.StatusNoContent || took != 25*time.Second {
			t.Fatalf("empty wait: %d after %v, want 204 after 25s", code, took)
		}
		if code, took := get("http://pipe/api/events?topic=ticker&wait=10m"); code != http.StatusNoContent || took != DefaultMaxWait {
			t.Fatalf("capped wait: %d after %v", code, took)
		}
		go func() {
			time.Sleep(7 * time.Second)
			env := Envelope{Type: TypeTick, Data: []byte(`{}`)}
			b.s.publish(TopicTicker, 0, TypeTick, b.s.stamp(context.Background(), TopicTicker, &env))
		}()
		if code, took := get("http://pipe/api/events?topic=ticker&since=0&wait=25s"); code != http.StatusOK || took != 7*time.Second {
			t.Fatalf("event wait: %d after %v, want 200 after 7s", code, took)
		}
	})
}

func TestTickerRateUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{TickRate: 4})
		defer b.stop()
		c := b.dial(t, "/ws/ticker", 0)
		defer c.CloseNow()
		start := time.Now()
		var last int64
		for range 40 {
			_, m, err := c.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var e Envelope
			if err := json.Unmarshal(m, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type != TypeTick || e.Seq <= last {
				t.Fatalf("tick %s after %d", m, last)
			}
			last = e.Seq
		}
		// 40 ticks at 4/s: the 40th arrives 10 s after the first could
		// have (subscription at t=0, first tick at 250 ms).
		if took := time.Since(start); took > 10*time.Second || took < 9*time.Second {
			t.Fatalf("40 ticks took %v at 4/s", took)
		}
	})
}

func TestExpiredTokenEndsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: time.Hour}) // no heartbeat in the way
		defer b.stop()
		short := server.NewJWT(server.JWTOptions{Key: testKey, TTL: 90 * time.Second})
		tok, _ := short.Issue(t.Context(), 1)
		c, _, err := websocket.Dial(t.Context(), "ws://pipe/ws/chat?token="+tok.Value, &websocket.DialOptions{HTTPClient: b.client})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ctx := t.Context()
		send := func() {
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r"}`)); err != nil {
				t.Fatal(err)
			}
		}
		send()
		if _, m, err := c.Read(ctx); err != nil || !strings.Contains(string(m), `"ack"`) {
			t.Fatalf("%s %v", m, err)
		}
		time.Sleep(2 * time.Minute) // past the token's expiry and the recheck interval
		send()
		_, m, err := c.Read(ctx)
		if err != nil || !strings.Contains(string(m), CodeUnauthorized) {
			t.Fatalf("after expiry: %s %v", m, err)
		}
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("close %v, want 1008", err)
		}
	})
}

// An echo peer that sends but never reads blocks the echo's write; the
// heartbeat (whose ping cannot be written either) ends it.
func TestEchoStuckWriteEndsByHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: 20 * time.Second})
		defer b.stop()
		c := b.dial(t, "/ws/echo", 0)
		defer c.CloseNow()
		if err := c.Write(t.Context(), websocket.MessageText, []byte("never read back")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("active %d", n)
		}
		time.Sleep(41 * time.Second)
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 0 {
			t.Fatalf("a stuck echo write still holds the connection after 41s: active %d", n)
		}
	})
}

// A subscriber that stops reading is closed after WriteTimeout, counted as
// a write timeout, even before its queue fills.
func TestWriteTimeoutClosesStalledReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubbleServer(Options{PingInterval: time.Hour, WriteTimeout: 5 * time.Second})
		defer b.stop()
		c := b.dial(t, "/ws/ticker", 0) // never reads
		defer c.CloseNow()
		synctest.Wait()
		env := Envelope{Type: TypeTick, Data: []byte(`{}`)}
		b.s.publish(TopicTicker, 0, TypeTick, b.s.stamp(context.Background(), TopicTicker, &env))
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if n := b.s.stats.active.Load(); n != 1 {
			t.Fatalf("closed before the write timeout: active %d", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n, w := b.s.stats.active.Load(), b.s.stats.writeTimeouts.Load(); n != 0 || w != 1 {
			t.Fatalf("after 6s: active %d, write_timeouts %d; want 0 and 1", n, w)
		}
	})
}
