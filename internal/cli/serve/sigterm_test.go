package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSIGTERMGoesAwayAndDriversReconnect runs `loadrig serve ws` as a real
// child process: real coder/websocket clients and a real `loadrig load ws
// --reconnect` are connected when the process gets SIGTERM. The clients get
// close code 1001, the process exits 0 on its own (its shutdown timeout
// bounds the wait; the test's timeouts are only hang guards), and the
// driver's connections come back to a second `serve ws` started on the
// same address.
func TestSIGTERMGoesAwayAndDriversReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the loadrig binary")
	}
	addr := freeAddr(t)
	serveArgs := []string{"serve", "ws", "--addr", addr, "--tick-rate", "20", "--shutdown-timeout", "10s"}
	a := startProc(t, serveArgs...)
	wsBase := "ws" + strings.TrimPrefix(a.url, "http")

	ctx := t.Context()
	var clients []*websocket.Conn
	for range 2 {
		c, _, err := websocket.Dial(ctx, wsBase+"/ws/ticker", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if _, m, err := c.Read(ctx); err != nil || !strings.Contains(string(m), `"type":"tick"`) {
			t.Fatalf("first tick: %s %v", m, err)
		}
		clients = append(clients, c)
	}

	// The driver: two subscribers held 30 s (it is stopped with SIGINT
	// once they are back), reconnecting within a quarter second.
	resPath := filepath.Join(t.TempDir(), "result.json")
	drv := exec.Command(loadrigBinary(t), "load", "ws", "--scenario", "subscribe", "--connections", "2", "--ramp", "100",
		"-d", "30s", "--reconnect", "--reconnect-delay", "50ms", "--reconnect-delay-max", "250ms", "-q", "-o", resPath, wsBase+"/ws/ticker")
	var drvOut syncBuffer
	drv.Stdout, drv.Stderr = &drvOut, &drvOut
	if err := drv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Process.Kill(); _ = drv.Wait() })
	waitActive(t, a.url, 4, a)

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
					t.Fatalf("client %d: %v, want close code 1001", i, err)
				}
				break
			}
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve ws after SIGTERM: %v (want exit 0); stderr:\n%s", err, a.log())
		}
	case <-time.After(60 * time.Second): // hang guard, well past the 10 s shutdown timeout
		t.Fatalf("serve ws did not exit after SIGTERM; stderr:\n%s", a.log())
	}

	// A second server on the same address: the driver's two connections
	// come back to it.
	b := startProc(t, serveArgs...)
	waitActive(t, b.url, 2, b)
	if err := drv.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := drv.Wait()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 130) {
		t.Fatalf("load ws: %v\n%s", err, drvOut.String())
	}
	raw, err := os.ReadFile(resPath)
	if err != nil {
		t.Fatalf("result: %v\n%s", err, drvOut.String())
	}
	var res struct {
		Connections struct {
			Opened       int64            `json:"opened"`
			Reconnects   int64            `json:"reconnects"`
			ClosedByCode map[string]int64 `json:"closed_by_code"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	c := res.Connections
	if c.ClosedByCode["1001"] != 2 || c.Reconnects < 2 || c.Opened < 4 {
		t.Fatalf("driver connections %+v, want 2 closed with 1001, reopened\n%s", c, drvOut.String())
	}
}

// freeAddr is a 127.0.0.1 address that was free a moment ago (the test
// starts two servers on one address, one after the other).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitActive waits until the server at base has n open WebSocket
// connections (/stats ws.connections.active).
func waitActive(t *testing.T, base string, n float64, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // hang guard
	var last string
	for time.Now().Before(deadline) {
		code, _, b := call(t, "GET", base+"/stats", "", nil)
		var st struct {
			WS struct {
				Connections struct {
					Active float64 `json:"active"`
				} `json:"connections"`
			} `json:"ws"`
		}
		if code == 200 && json.Unmarshal(b, &st) == nil && st.WS.Connections.Active == n {
			return
		}
		last = fmt.Sprintf("%d %s", code, b)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never had %v open connections; last /stats %s; stderr:\n%s", base, n, last, p.log())
}
