package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/wsdrv"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/ws"
)

// realtimePlan is the realtime section's shape: the ticker at each rate to
// clients subscribers over every transport for dur each, then a chat room.
type realtimePlan struct {
	clients  int
	dur      time.Duration
	rates    []float64
	chatRoom int     // members of the one chat room
	chatRate float64 // posts per second in the room
	drain    time.Duration
}

func newRealtimePlan(quick bool) realtimePlan {
	if quick {
		return realtimePlan{clients: 200, dur: 1500 * time.Millisecond, rates: []float64{1, 4, 50}, chatRoom: 100, chatRate: 10, drain: 600 * time.Millisecond}
	}
	return realtimePlan{clients: 1000, dur: 5 * time.Second, rates: []float64{1, 4, 50}, chatRoom: 100, chatRate: 10, drain: time.Second}
}

// rtTransports are the ways a client gets the ticker, in table order.
var rtTransports = []struct {
	label string
	o     func(base string) wsdrv.Options
}{
	{"poll 1s", func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, PollInterval: time.Second}
	}},
	{"poll 1s, no 304", func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, PollInterval: time.Second, NoETag: true}
	}},
	{"long-poll", func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, LongPoll: 25 * time.Second}
	}},
	{"SSE", func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events/stream?topic=ticker"}, Transport: wsdrv.TransportSSE}
	}},
	{"WebSocket", func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{"ws" + strings.TrimPrefix(b, "http") + "/ws/ticker"}, Scenario: wsdrv.ScenarioSubscribe}
	}},
}

// rtCell is one run of the realtime section.
type rtCell struct {
	label string
	rate  float64 // ticks per second; 0 for the chat row
	res   *metrics.Result
	err   error
}

// rtServer is a WebSocket server of the section on 127.0.0.1:0.
type rtServer struct {
	ws   *ws.Server
	http *http.Server
	base string
}

func startRealtimeServer(o ws.Options, log *slog.Logger) (*rtServer, error) {
	o.Dev, o.Logger = true, log
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := ws.NewHandler(o)
	s := &rtServer{ws: h, http: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, base: "http://" + ln.Addr().String()}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

func (s *rtServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.ws.Shutdown(ctx)
	_ = s.http.Shutdown(ctx)
}

// runRealtime runs the realtime section: for each tick rate a fresh server,
// every transport in turn with the plan's clients, then the chat room.
func runRealtime(ctx context.Context, opts *Options, p realtimePlan, log *slog.Logger) ([]rtCell, error) {
	// Clients and the in-process server hold a descriptor each per connection.
	need := uint64(2*max(p.clients, p.chatRoom) + 256)
	if soft, hard, err := wsdrv.RaiseNoFile(need); err == nil && soft < need {
		return nil, cmdutil.FlagErrorf("the realtime section needs about %d file descriptors but the open-file limit is %d (hard %d): raise it (ulimit -n %d) or use --quick",
			need, soft, hard, need)
	}
	var cells []rtCell
	for _, rate := range p.rates {
		srv, err := startRealtimeServer(ws.Options{TickRate: rate}, log)
		if err != nil {
			return cells, err
		}
		for _, tr := range rtTransports {
			o := tr.o(srv.base)
			c := rtCell{label: tr.label, rate: rate}
			c.res, c.err = runRealtimeCell(ctx, o, p.clients, p.dur, p.drain)
			fmt.Fprintf(opts.IO.ErrOut, "  %-16s %5g/s  %s\n", tr.label, rate, c.brief())
			if err := writeRealtimeResult(opts, fmt.Sprintf("realtime-%g-%s", rate, tr.label), c.res); err != nil {
				srv.close()
				return cells, err
			}
			cells = append(cells, c)
			if ctx.Err() != nil {
				srv.close()
				return cells, nil
			}
		}
		srv.close()
	}
	c := runChat(ctx, p, log)
	fmt.Fprintf(opts.IO.ErrOut, "  %-16s %s\n", c.label, c.brief())
	if err := writeRealtimeResult(opts, "realtime-chat", c.res); err != nil {
		return cells, err
	}
	return append(cells, c), nil
}

// runChat is the chat row: one room of chatRoom members, a tenth of them
// posting chatRate messages per second in all.
func runChat(ctx context.Context, p realtimePlan, log *slog.Logger) rtCell {
	c := rtCell{label: fmt.Sprintf("chat (room of %d, %g msg/s)", p.chatRoom, p.chatRate)}
	auth := server.NewJWT(server.JWTOptions{Key: []byte(fmt.Sprintf("demo-realtime-%d-0123456789abcdef", time.Now().UnixNano()))})
	srv, err := startRealtimeServer(ws.Options{Auth: auth, TickRate: -1}, log)
	if err != nil {
		c.err = err
		return c
	}
	defer srv.close()
	tok, err := auth.Issue(ctx, 1)
	if err != nil {
		c.err = err
		return c
	}
	o := wsdrv.Options{URLs: []string{"ws" + strings.TrimPrefix(srv.base, "http") + "/ws/chat"}, Scenario: wsdrv.ScenarioChat,
		Rooms: []string{"demo"}, Senders: 0.1, MessageRate: p.chatRate, Token: tok.Value}
	c.res, c.err = runRealtimeCell(ctx, o, p.chatRoom, p.dur, p.drain)
	return c
}

// runRealtimeCell holds clients connections for dur after they arrived
// (within a quarter second) and returns the result; drain is how long the
// end waits for events still due (a poller's last poll).
func runRealtimeCell(ctx context.Context, o wsdrv.Options, clients int, dur, drain time.Duration) (*metrics.Result, error) {
	o.Connections = clients
	o.Drain = drain
	d, err := wsdrv.New(o)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	res, err := load.Run(ctx, d, load.Config{Rate: float64(4 * clients), Arrivals: int64(clients), MaxInflight: clients,
		Duration: dur + 250*time.Millisecond, Grace: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	if res.Requests.OK == 0 {
		return res, fmt.Errorf("no session held to the end (%v)", res.Requests.ErrorsByKind)
	}
	return res, nil
}

func writeRealtimeResult(opts *Options, name string, res *metrics.Result) error {
	if opts.OutDir == "" || res == nil {
		return nil
	}
	res.Name = name
	name = strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "", "/", "-").Replace(name)
	return cmdutil.WriteFile(filepath.Join(opts.OutDir, name+".json"), res.Write)
}

// Figures of a cell (0 when unknown).
func (c rtCell) received() int64 {
	if c.res == nil || c.res.Messages == nil {
		return 0
	}
	return c.res.Messages.Received
}

// requestsPerEvent: polls (and handshakes) per delivered event.
func (c rtCell) requestsPerEvent() float64 {
	n := c.received()
	if n == 0 {
		return 0
	}
	reqs := c.res.Connections.Opened // every handshake or stream is a request
	if c.res.Protocol == string(wsdrv.TransportPoll) {
		reqs = c.res.Messages.Sent
	}
	return float64(reqs) / float64(n)
}

func (c rtCell) bytesPerEvent() float64 {
	n := c.received()
	if n == 0 || c.res.Bytes == nil {
		return 0
	}
	return float64(c.res.Bytes.Sent+c.res.Bytes.Received) / float64(n)
}

func (c rtCell) brief() string {
	if c.err != nil {
		return "failed: " + c.err.Error()
	}
	ml := c.res.MessageLatency
	if ml == nil {
		return "no events"
	}
	return fmt.Sprintf("%d events, p50 %s p99 %s", c.received(), fmtUS(ml.P50), fmtUS(ml.P99))
}

func fmtUS(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", us)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(us)/1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// writeRealtimeTable prints the section's comparison.
func writeRealtimeTable(w io.Writer, p realtimePlan, cells []rtCell) error {
	fmt.Fprintf(w, "Realtime: the ticker to %d clients per transport (%s each; latency = arrival − the server's send time)\n\n", p.clients, p.dur)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ticks/s\ttransport\tp50\tp99\trequests/event\tbytes/event\topen conns\tdelivered\t")
	for _, c := range cells {
		rate := "-"
		if c.rate > 0 {
			rate = fmt.Sprintf("%g", c.rate)
		}
		if c.err != nil || c.res == nil || c.res.MessageLatency == nil {
			msg := "no events"
			if c.err != nil {
				msg = "failed: " + c.err.Error()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\n", rate, c.label, msg)
			continue
		}
		ml := c.res.MessageLatency
		deliv := "-"
		if f := c.res.Fanout; f != nil {
			deliv = fmt.Sprintf("%.1f%%", 100*f.DeliveryRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%.0f\t%d\t%s\t\n", rate, c.label, fmtUS(ml.P50), fmtUS(ml.P99),
			c.requestsPerEvent(), c.bytesPerEvent(), c.res.Connections.PeakOpen, deliv)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\npolling waits for its next poll (≈ interval/2 on average); 304s save bytes, not requests;")
	fmt.Fprintln(w, "long-polling, SSE and WebSocket deliver at once, at one request per event, one held stream, one held socket.")
	return nil
}
