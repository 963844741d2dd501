package serve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
)

// startAll runs serve all with args on free ports and returns the REST
// listener's URL; the server stops when the test ends.
func startAll(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "off",
		"--store-latency", "0", "--tick-rate", "0", "--shutdown-timeout", "5s"}, args...)
	o, err := parseAll(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	errOut := &syncBuffer{}
	o.IO = &iostreams.IOStreams{Out: &syncBuffer{}, ErrOut: errOut}
	ready := make(chan string, 1)
	o.Ready = func(r, _, _ string) { ready <- r }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- AllRun(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve all did not stop")
		}
	})
	select {
	case base := <-ready:
		return base
	case err := <-done:
		t.Fatalf("AllRun: %v; %s", err, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve all not ready")
	}
	return ""
}

// handshake opens a WebSocket to base+path from a page at origin and
// returns the handshake's status (101 when it opened).
func handshake(t *testing.T, base, path, origin, proto string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}}
	if proto != "" {
		opts.Subprotocols = []string{proto}
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+path, opts)
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("%s from %s: %v", path, origin, err)
	}
	return resp.StatusCode
}

// TestAllOneOriginPolicy: under serve all, --origins and --dev are one
// policy for the one listener: GraphQL over WebSocket (/graphql) and the
// WebSocket routes (/ws/chat) refuse a foreign Origin alike (403) and
// accept a listed one; with --dev both accept any Origin, and GraphiQL
// is served.
func TestAllOneOriginPolicy(t *testing.T) {
	t.Parallel()
	t.Run("origins", func(t *testing.T) {
		t.Parallel()
		base := startAll(t, "--origins", "app.example")
		login := postJSON(t, base+"/api/login", "", `{"email": "user1@example.com", "password": "loadrig"}`)
		tok, _ := login["token"].(string)
		for _, ep := range []struct{ path, proto string }{
			{"/graphql", "graphql-transport-ws"},
			{"/ws/chat?token=" + tok, ""},
		} {
			if st := handshake(t, base, ep.path, "http://evil.example", ep.proto); st != http.StatusForbidden {
				t.Errorf("%s from a foreign origin: %d, want 403", ep.path, st)
			}
			if st := handshake(t, base, ep.path, "http://app.example", ep.proto); st != http.StatusSwitchingProtocols {
				t.Errorf("%s from a listed origin: %d, want 101", ep.path, st)
			}
		}
		if r, err := http.Get(base + "/graphiql"); err != nil || r.StatusCode != http.StatusNotFound {
			t.Errorf("GraphiQL without --dev: %v %v", r, err)
		}
	})
	t.Run("dev", func(t *testing.T) {
		t.Parallel()
		base := startAll(t, "--dev")
		login := postJSON(t, base+"/api/login", "", `{"email": "user1@example.com", "password": "loadrig"}`)
		tok, _ := login["token"].(string)
		for _, ep := range []struct{ path, proto string }{
			{"/graphql", "graphql-transport-ws"},
			{"/ws/chat?token=" + tok, ""},
		} {
			if st := handshake(t, base, ep.path, "http://evil.example", ep.proto); st != http.StatusSwitchingProtocols {
				t.Errorf("%s from any origin with --dev: %d, want 101", ep.path, st)
			}
		}
		if r, err := http.Get(base + "/graphiql"); err != nil || r.StatusCode != http.StatusOK {
			t.Errorf("GraphiQL with --dev: %v %v", r, err)
		}
	})
}

// TestAllHelpNamesBothTransports: serve all's help says --origins and
// --dev govern both WebSocket endpoints.
func TestAllHelpNamesBothTransports(t *testing.T) {
	cmd := NewCmdServeAll(testFactory(), func(*AllOptions) error { return nil })
	for _, name := range []string{"origins", "dev"} {
		if u := cmd.Flags().Lookup(name).Usage; !strings.Contains(u, "/graphql") || !strings.Contains(u, "/ws/") {
			t.Errorf("--%s help %q does not name both /graphql and /ws/", name, u)
		}
	}
}
