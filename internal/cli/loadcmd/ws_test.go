package loadcmd

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
)

func parseSession(t *testing.T, which string, args ...string) (*WSOptions, error) {
	t.Helper()
	var got *WSOptions
	runF := func(o *WSOptions) error { got = o; return nil }
	newCmd := map[string]func(*cmdutil.Factory, func(*WSOptions) error) *cobra.Command{
		"ws": NewCmdWS, "sse": NewCmdSSE, "poll": NewCmdPoll,
	}[which]
	cmd := newCmd(testFactory(), runF)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func wsEchoTarget(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, b) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/echo"
}

func TestWSFlags(t *testing.T) {
	o, err := parseSession(t, "ws", "--connections", "20", "--ramp", "5", "--scenario", "chat", "--rooms", "3",
		"--senders", "0.5", "--message-rate", "40", "--reconnect", "--source-addrs", "127.0.0.2,127.0.0.3",
		"--origin", "http://x", "-d", "3s", "ws://127.0.0.1:1/a", "ws://127.0.0.1:2/b")
	if err != nil {
		t.Fatal(err)
	}
	dopts, err := o.driverOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(dopts.URLs) != 2 || dopts.Connections != 20 || o.Ramp != 5 || strings.Join(dopts.Rooms, ",") != "room-1,room-2,room-3" ||
		dopts.Senders != 0.5 || !dopts.Reconnect || len(dopts.SourceAddrs) != 2 || dopts.Origin != "http://x" || dopts.MessageRate != 40 {
		t.Fatalf("options %+v", dopts)
	}
	if o, err = parseSession(t, "poll", "--long-poll", "25s", "http://127.0.0.1:1/api/events?topic=ticker"); err != nil || o.LongPoll != 25*time.Second {
		t.Fatalf("poll: %v %+v", err, o)
	}
}

// TestSessionUsageErrors: bad input is one line and a usage error (exit 2).
func TestSessionUsageErrors(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"ws", []string{"http://127.0.0.1:1/ws/echo"}, "ws:// or wss://"},
		{"ws", []string{"--scenario", "flood", "ws://127.0.0.1:1/"}, "unknown scenario"},
		{"ws", []string{"--message", "{{nope}}", "ws://127.0.0.1:1/"}, "message template"},
		{"ws", []string{"--rate", "10", "ws://127.0.0.1:1/"}, "does not apply to held connections"},
		{"ws", []string{"--source-addrs", "nope", "ws://127.0.0.1:1/"}, "not an IP address"},
		{"ws", []string{"--connections", "100000", "ws://127.0.0.1:1/"}, "--source-addrs"},
		{"sse", []string{"ws://127.0.0.1:1/"}, "http:// or https://"},
		{"poll", []string{"http://127.0.0.1:1/"}, "--interval D"},
		{"poll", []string{"--interval", "1s", "--long-poll", "2s", "http://127.0.0.1:1/"}, "exactly one"},
	} {
		_, err := parseSession(t, c.cmd, c.args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %v: %v; want a one-line usage error containing %q", c.cmd, c.args, err, c.want)
		}
	}
}

// TestWSDescriptorLimit: planned connections past the descriptor limit are
// refused before the run, naming the limit and the fix.
func TestWSDescriptorLimit(t *testing.T) {
	o, err := parseSession(t, "ws", "--connections", "5000", "ws://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	o.IO, _, _, _ = iostreams.Test()
	o.RaiseNoFile = func(need uint64) (uint64, uint64, error) { return 1024, 4096, nil }
	err = wsRun(t.Context(), o)
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "RLIMIT_NOFILE) is 1024") || !strings.Contains(err.Error(), "ulimit -n 5064") {
		t.Fatalf("descriptor limit: %v", err)
	}
}

func TestWSRunEndToEnd(t *testing.T) {
	url := wsEchoTarget(t)
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parseSession(t, "ws", "--connections", "3", "--ramp", "30", "--message-rate", "60", "-d", "1s", "-o", out, url)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO, o.ToolVersion = ios, "loadrig e2e"
	if err := wsRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Protocol != "ws" || r.Requests.OK != 3 || r.StopReason != metrics.StopDuration || r.Model.Kind != "open" {
		t.Fatalf("result: %s %+v %s %+v", r.Protocol, r.Requests, r.StopReason, r.Model)
	}
	if r.Messages == nil || r.Messages.Received == 0 || r.Messages.Received != r.Messages.Sent || r.ConnectTime == nil || r.Connections.Opened != 3 {
		t.Fatalf("messages %+v connect %+v connections %+v", r.Messages, r.ConnectTime, r.Connections)
	}
	if !strings.Contains(stdout.String(), "3 total, 3 ok, 0 errors") {
		t.Fatalf("summary:\n%s", stdout)
	}
	if r.Workload != "ws echo "+url {
		t.Fatalf("workload %q, want the transport, scenario and URL", r.Workload)
	}
}
