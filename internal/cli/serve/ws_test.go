package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

func parseWS(t *testing.T, args ...string) (*WSOptions, error) {
	t.Helper()
	var got *WSOptions
	cmd := NewCmdServeWS(testFactory(), func(o *WSOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestWSFlags(t *testing.T) {
	t.Parallel()
	o, err := parseWS(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != DefaultWSAddr || o.ReadLimit != 32<<10 || o.MsgRate != 20 || o.MsgBurst != 40 || o.Queue != 256 ||
		o.PingInterval != 20*time.Second || o.TickRate != 4 || o.Replay != "" || o.Dev || o.RedisSharded {
		t.Fatalf("defaults %+v", o.WSFlags)
	}
	o, err = parseWS(t, "--addr", "127.0.0.1:0", "--origins", "a.example.com,*.b.example.com", "--read-limit", "1024",
		"--msg-rate", "5", "--msg-burst", "10", "--queue", "16", "--max-conns", "100", "--ping-interval", "5s",
		"--tick-rate", "50", "--redis-url", "redis://127.0.0.1:6379", "--redis-sharded", "--replay", "redis", "--dev")
	if err != nil || len(o.Origins) != 2 || o.Queue != 16 || o.Replay != "redis" || !o.RedisSharded || o.TickRate != 50 || o.MaxConns != 100 {
		t.Fatalf("flags %+v %v", o, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--read-limit", "10"}, "--read-limit"},
		{[]string{"--msg-rate", "0"}, "--msg-rate"},
		{[]string{"--msg-burst", "0"}, "--msg-burst"},
		{[]string{"--queue", "0"}, "--queue"},
		{[]string{"--max-conns", "0"}, "--max-conns"},
		{[]string{"--ping-interval", "10ms"}, "--ping-interval"},
		{[]string{"--tick-rate", "-1"}, "--tick-rate"},
		{[]string{"--replay", "disk"}, "--replay"},
		{[]string{"--replay", "redis"}, "--replay redis needs --redis-url"},
		{[]string{"--replay", "memory", "--redis-url", "redis://127.0.0.1:1"}, "--replay memory"},
		{[]string{"--redis-sharded"}, "--redis-sharded needs --redis-url"},
		{[]string{"--origins", "https://x.example.com"}, "--origins"},
		{[]string{"--addr", "nope"}, "--addr"},
	} {
		_, err := parseWS(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line about %s", c.args, err, c.want)
		}
	}
}

func TestWSRunServesAndGoesAway(t *testing.T) {
	t.Parallel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	o, err := parseWS(t, "--addr", "127.0.0.1:0", "--store-latency", "0", "--tick-rate", "100", "--shutdown-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	o.IO = &iostreams.IOStreams{Out: out, ErrOut: errOut}
	ready := make(chan string, 1)
	o.Ready = func(u string) { ready <- u }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- WSRun(ctx, o) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("WSRun returned early: %v; stderr %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	if !strings.Contains(out.String(), "loadrig ws listening on "+base) {
		t.Fatalf("stdout %q", out.String())
	}
	// Log in on serve ws itself, then chat with the token.
	resp, err := http.Post(base+"/api/login", "application/json", strings.NewReader(`{"email":"user1@example.com","password":"loadrig"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.Token == "" {
		t.Fatalf("login %d", resp.StatusCode)
	}
	wsURL := "ws" + strings.TrimPrefix(base, "http")
	c, _, err := websocket.Dial(ctx, wsURL+"/ws/chat?token="+login.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	tick, _, err := websocket.Dial(ctx, wsURL+"/ws/ticker", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tick.CloseNow()
	if _, m, err := tick.Read(ctx); err != nil || !strings.Contains(string(m), `"type":"tick"`) {
		t.Fatalf("tick %s %v", m, err)
	}
	stats := getJSON(t, base+"/stats")
	if ws, ok := stats["ws"].(map[string]any); !ok || ws["connections"].(map[string]any)["active"].(float64) != 2 {
		t.Fatalf("/stats %v", stats["ws"])
	}
	cancel() // what SIGTERM does in main
	for _, conn := range []*websocket.Conn{c, tick} {
		for {
			_, _, err := conn.Read(context.Background())
			if err != nil {
				if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
					t.Fatalf("close %v, want 1001", err)
				}
				break
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("WSRun: %v", err)
	}
}

// Under serve all the WebSocket routes share the REST listener, its
// middleware and /stats, and REST writes reach WebSocket subscribers
// through the one broker.
func TestAllRunMountsWS(t *testing.T) {
	t.Parallel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	o, err := parseAll(t, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "off",
		"--store-latency", "0", "--tick-rate", "0", "--shutdown-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	o.IO = &iostreams.IOStreams{Out: out, ErrOut: errOut}
	ready := make(chan string, 1)
	o.Ready = func(r, _, _ string) { ready <- r }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- AllRun(ctx, o) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("AllRun: %v; %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
	login := postJSON(t, base+"/api/login", "", `{"email": "user1@example.com", "password": "loadrig"}`)
	tok, _ := login["token"].(string)
	wsURL := "ws" + strings.TrimPrefix(base, "http")
	tick, resp, err := websocket.Dial(ctx, wsURL+"/ws/ticker", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tick.CloseNow()
	if id := resp.Header.Get("X-Request-Id"); id == "" {
		t.Errorf("the handshake did not go through the shared middleware (no X-Request-Id)")
	}
	notes, _, err := websocket.Dial(ctx, wsURL+"/ws/notifications?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer notes.CloseNow()
	// A REST PATCH becomes a tick.
	req, _ := http.NewRequest(http.MethodPatch, base+"/api/products/5", strings.NewReader(`{"price": 12.34}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("patch: %v %v", r, err)
	}
	if _, m, err := tick.Read(ctx); err != nil || !strings.Contains(string(m), `"product_id":5,"price":12.34,"source":"write"`) {
		t.Fatalf("tick after PATCH: %s %v", m, err)
	}
	// A REST order becomes a notification to its user.
	req, _ = http.NewRequest(http.MethodPost, base+"/api/orders", strings.NewReader(`{"items":[{"product_id":3,"quantity":1}]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 201 {
		t.Fatalf("order: %v %v", r, err)
	}
	if _, m, err := notes.Read(ctx); err != nil || !strings.Contains(string(m), `"type":"notification"`) || !strings.Contains(string(m), "created") {
		t.Fatalf("notification after POST /api/orders: %s %v", m, err)
	}
	stats := getJSON(t, base+"/stats")
	if _, ok := stats["ws"]; !ok {
		t.Fatalf("/stats has no ws section: %v", stats)
	}
	cancel()
	if _, _, err := tick.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close %v, want 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
