package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

// TestOneMaxConns: serve ws and serve all have one --max-conns, the HTTP
// listener's, and a WebSocket connection is a listener connection: with
// --max-conns 5, five open WebSockets fill the listener, so a sixth plain
// HTTP connection and a sixth WebSocket handshake both get the listener's
// 503; when one WebSocket closes, the listener serves again and the ws
// hub's /stats counters still count the four left.
func TestOneMaxConns(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"ws", "all"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			errOut := &syncBuffer{}
			io := &iostreams.IOStreams{Out: &syncBuffer{}, ErrOut: errOut}
			ready := make(chan string, 1)
			done := make(chan error, 1)
			common := []string{"--addr", "127.0.0.1:0", "--max-conns", "5", "--store-latency", "0", "--tick-rate", "0", "--shutdown-timeout", "5s"}
			if name == "ws" {
				o, err := parseWS(t, common...)
				if err != nil {
					t.Fatal(err)
				}
				if o.MaxConns != 5 {
					t.Fatalf("--max-conns 5 parsed as %d", o.MaxConns)
				}
				o.IO, o.Ready = io, func(u string) { ready <- u }
				go func() { done <- WSRun(ctx, o) }()
			} else {
				o, err := parseAll(t, append(common, "--grpc-addr", "127.0.0.1:0", "--admin-addr", "off")...)
				if err != nil {
					t.Fatal(err)
				}
				if o.MaxConns != 5 {
					t.Fatalf("--max-conns 5 parsed as %d", o.MaxConns)
				}
				o.IO, o.Ready = io, func(r, _, _ string) { ready <- r }
				go func() { done <- AllRun(ctx, o) }()
			}
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			}()
			var base string
			select {
			case base = <-ready:
			case err := <-done:
				done <- err
				t.Fatalf("returned early: %v; %s", err, errOut.String())
			case <-time.After(20 * time.Second):
				t.Fatal("not ready")
			}
			addr := strings.TrimPrefix(base, "http://")
			wsURL := "ws://" + addr + "/ws/ticker"

			var open []*websocket.Conn
			defer func() {
				for _, c := range open {
					c.CloseNow()
				}
			}()
			for i := range 5 {
				c, _, err := websocket.Dial(ctx, wsURL, nil)
				if err != nil {
					t.Fatalf("WebSocket %d of 5: %v", i+1, err)
				}
				c.CloseRead(ctx)
				open = append(open, c)
			}
			// The sixth connection, plain HTTP: the listener's 503.
			if code, body := rawGet(t, addr, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection cap (--max-conns)") {
				t.Fatalf("6th HTTP connection with 5 WebSockets open: %d %q, want the listener's 503", code, body)
			}
			// The sixth WebSocket handshake: the same 503.
			if c, resp, err := websocket.Dial(ctx, wsURL, nil); err == nil {
				c.CloseNow()
				t.Fatal("6th WebSocket accepted past --max-conns 5")
			} else if resp != nil && resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("6th WebSocket: %d, want 503", resp.StatusCode)
			}
			// One WebSocket closes: its listener slot frees (the hub's and
			// the listener's counts both drop to four).
			open[0].CloseNow()
			open = open[1:]
			deadline := time.Now().Add(20 * time.Second) // hang guard only
			for {
				code, body := rawGet(t, addr, "/stats")
				if code == http.StatusOK {
					var st struct {
						WS struct {
							Connections struct{ Active, Peak int64 }
						}
					}
					if err := json.Unmarshal([]byte(body), &st); err != nil {
						t.Fatalf("/stats: %v in %s", err, body)
					}
					if c := st.WS.Connections; c.Active == 4 {
						if c.Peak != 5 {
							t.Errorf("/stats ws.connections %+v, want peak 5", c)
						}
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("after one of 5 WebSockets closed: GET /stats %d %s", code, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// rawGet sends one GET on a fresh connection that it closes after the
// response, and returns the status and body.
func rawGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
