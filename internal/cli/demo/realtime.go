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
	"sync"
	"text/tabwriter"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/wsdrv"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/ws"
)

// realtimePlan is the realtime section's shape: the ticker at each rate to
// clients subscribers over every transport, then a chat room. Each cell's
// clients connect at once, get connect to do so, and are held for dur
// after that (the two polling rows: pollDur, which gives most pollers a
// poll on their schedule after the first, which only learns where the
// topic is).
type realtimePlan struct {
	clients  int
	connect  time.Duration
	dur      time.Duration
	pollDur  time.Duration
	rates    []float64
	chatRoom int     // members of the one chat room
	chatRate float64 // posts per second in the room
	// drain caps a subscriber's wait for the events due at the end (it
	// stops once it has them all); chatDrain is the chat row's whole wait
	// (a receiver cannot tell when a room's last message is in).
	drain, chatDrain time.Duration
	// noFile raises and reports the open-file limit; nil is
	// wsdrv.RaiseNoFile (tests pretend a low limit).
	noFile func(need uint64) (soft, hard uint64, err error)
}

// newRealtimePlan maps the profile's realtime section onto the section's
// plan.
func newRealtimePlan(r *profile.RealtimePlan) realtimePlan {
	return realtimePlan{clients: r.Clients, connect: r.Connect, dur: r.Duration, pollDur: r.PollDuration,
		rates: append([]float64(nil), r.Rates...), chatRoom: r.ChatMembers, chatRate: r.ChatRate, drain: r.Drain, chatDrain: r.ChatDrain}
}

// holdFor is how long a push transport's clients are held at rate: dur,
// but at least two ticks (at 1/s a shorter cell may see none: a tick
// published while the clients were still connecting is not theirs).
func (p realtimePlan) holdFor(rate float64) time.Duration {
	return max(p.dur, time.Duration(2/rate*float64(time.Second)))
}

// fdNeed is about how many descriptors the section holds at its peak: the
// two polling rows' clients side by side, each connection counted at both
// ends (the server is in process), with headroom for a poll's second
// connection while another closes.
func (p realtimePlan) fdNeed() uint64 {
	return uint64(6*max(p.clients, p.chatRoom) + 256)
}

// fits raises the open-file limit and says why the section cannot run
// when it stays too low ("" when it fits).
func (p realtimePlan) fits(quick bool) string {
	need := p.fdNeed()
	raise := p.noFile
	if raise == nil {
		raise = wsdrv.RaiseNoFile
	}
	soft, hard, err := raise(need)
	if err != nil || soft >= need {
		return ""
	}
	fix := ""
	if !quick {
		fix = " or use --quick"
	}
	return fmt.Sprintf("it needs about %d file descriptors but the open-file limit is %d (hard limit %d); raise it (ulimit -n %d)%s",
		need, soft, hard, need, fix)
}

// rtTransports are the ways a client gets the ticker, in table order. A
// transport marked alongside runs at the same time as the one before it,
// on the same server (the two polling rows: their latency is the poll
// interval's, and their requests cost the server little).
var rtTransports = []struct {
	label     string
	alongside bool
	o         func(base string) wsdrv.Options
}{
	{"poll 1s", false, func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, PollInterval: time.Second}
	}},
	{"poll 1s, no 304", true, func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, PollInterval: time.Second, NoETag: true}
	}},
	{"long-poll", false, func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events?topic=ticker"}, Transport: wsdrv.TransportPoll, LongPoll: 25 * time.Second}
	}},
	{"SSE", false, func(b string) wsdrv.Options {
		return wsdrv.Options{URLs: []string{b + "/api/events/stream?topic=ticker"}, Transport: wsdrv.TransportSSE}
	}},
	{"WebSocket", false, func(b string) wsdrv.Options {
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

// realtimeSection runs the section inside DemoRun: the plan (tuned by
// opts.tuneRealtime), its table on Out, its page section and result files.
// A box whose open-file limit cannot hold the section skips it with a note
// (an error only when it is the one section asked for). failed names the
// cells that failed; err is a failure to write.
func realtimeSection(ctx context.Context, opts *Options, r *profile.RealtimePlan, log *slog.Logger, after bool) (sec *report.HTMLSection, written bool, failed string, err error) {
	p := newRealtimePlan(r)
	if opts.tuneRealtime != nil {
		opts.tuneRealtime(&p)
	}
	if why := p.fits(opts.Quick); why != "" {
		if opts.Section == SectionRealtime {
			return nil, false, "", cmdutil.FlagErrorf("--section realtime: %s", why)
		}
		fmt.Fprintf(opts.IO.ErrOut, "loadrig demo realtime: skipped: %s\n", why)
		if after {
			fmt.Fprintln(opts.IO.Out)
		}
		fmt.Fprintf(opts.IO.Out, "Realtime: skipped: %s\n", why)
		return nil, false, "", nil
	}
	if after {
		fmt.Fprintln(opts.IO.Out)
	}
	fmt.Fprintf(opts.IO.ErrOut, "loadrig demo realtime: ticker at %v/s to %d clients over 5 transports (polling %s, the rest %s or two ticks), then a chat room of %d\n",
		p.rates, p.clients, p.pollDur, p.dur, p.chatRoom)
	cells, err := runRealtime(ctx, opts, p, log)
	var results []*metrics.Result
	for _, c := range cells {
		if c.res != nil {
			results = append(results, c.res)
		}
	}
	if len(results) > 0 {
		sec = &report.HTMLSection{Title: fmt.Sprintf("Realtime: the ticker to %d clients over polling, long-polling, SSE and WebSocket; a chat room", p.clients), Results: results}
	}
	if len(cells) > 0 {
		written = opts.OutDir != ""
		if werr := writeRealtimeTable(opts.IO.Out, p, cells); werr != nil {
			return sec, written, "", werr
		}
	}
	if err != nil {
		return sec, written, "", err
	}
	var bad []string
	for _, c := range cells {
		if c.err != nil {
			bad = append(bad, fmt.Sprintf("%s at %g/s (%v)", c.label, c.rate, c.err))
		}
	}
	if len(bad) > 0 {
		failed = fmt.Sprintf("%d realtime cells failed: %s", len(bad), strings.Join(bad, "; "))
	}
	return sec, written, failed, nil
}

// runRealtime runs the realtime section: for each tick rate a fresh server,
// every transport in turn (a transport marked alongside at once with the
// one before it) with the plan's clients; then the chat room.
func runRealtime(ctx context.Context, opts *Options, p realtimePlan, log *slog.Logger) ([]rtCell, error) {
	var cells []rtCell
	for _, rate := range p.rates {
		srv, err := startRealtimeServer(ws.Options{TickRate: rate}, log)
		if err != nil {
			return cells, err
		}
		for i := 0; i < len(rtTransports); {
			n := 1
			for i+n < len(rtTransports) && rtTransports[i+n].alongside {
				n++
			}
			group := runRealtimeGroup(ctx, p, srv, rate, i, n)
			i += n
			for _, c := range group {
				fmt.Fprintf(opts.IO.ErrOut, "  %-16s %5g/s  %s\n", c.label, rate, c.brief())
				if err := writeRealtimeResult(opts, fmt.Sprintf("realtime-%g-%s", rate, c.label), c.res); err != nil {
					srv.close()
					return cells, err
				}
				cells = append(cells, c)
			}
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

// runRealtimeGroup runs transports first..first+n-1 at once against srv.
func runRealtimeGroup(ctx context.Context, p realtimePlan, srv *rtServer, rate float64, first, n int) []rtCell {
	group := make([]rtCell, n)
	var wg sync.WaitGroup
	for j := range group {
		tr := rtTransports[first+j]
		o, dur := tr.o(srv.base), p.holdFor(rate)
		if o.Transport == wsdrv.TransportPoll && o.LongPoll == 0 {
			dur = p.pollDur
		}
		group[j] = rtCell{label: tr.label, rate: rate}
		wg.Add(1)
		go func(c *rtCell) {
			defer wg.Done()
			c.res, c.err = runRealtimeCell(ctx, o, p.clients, p.connect, dur, p.drain)
		}(&group[j])
	}
	wg.Wait()
	return group
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
	c.res, c.err = runRealtimeCell(ctx, o, p.chatRoom, p.connect, p.dur, p.chatDrain)
	return c
}

// runRealtimeCell opens clients connections at once (the closed model, a
// worker per connection: an open model's arrivals, dispatched one by one,
// fall seconds behind on a busy machine), holds them for connect + dur and
// returns the result; drain bounds how long the end waits for events
// still due.
func runRealtimeCell(ctx context.Context, o wsdrv.Options, clients int, connect, dur, drain time.Duration) (*metrics.Result, error) {
	o.Connections = clients
	o.Drain = drain
	d, err := wsdrv.New(o)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	res, err := load.Run(ctx, d, load.Config{Concurrency: clients, Duration: connect + dur, Grace: drain + 2*time.Second})
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

// requestsPerEvent: polls (or handshakes and streams) per delivered event,
// after each session's first request (its connect, or the poll that learns
// where the topic is): what staying subscribed costs, not how long the run
// was.
func (c rtCell) requestsPerEvent() float64 {
	n := c.received()
	if n == 0 {
		return 0
	}
	reqs := c.res.Connections.Opened // every handshake or stream is a request
	if c.res.Protocol == string(wsdrv.TransportPoll) {
		reqs = c.res.Messages.Sent
	}
	return float64(max(reqs-c.res.Requests.Total, 0)) / float64(n)
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
	fmt.Fprintf(w, "Realtime: the ticker to %d clients per transport, held %s or two ticks if longer (polling %s); latency = arrival − the server's send time\n\n", p.clients, p.dur, p.pollDur)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ticks/s\ttransport\tp50\tp99\trequests/event\tbytes/event\topen conns\tdelivered\t")
	short := false
	for _, c := range cells {
		rate := "-"
		planned := p.chatRoom
		if c.rate > 0 {
			rate, planned = fmt.Sprintf("%g", c.rate), p.clients
		}
		mark := ""
		if c.res != nil && c.res.Requests.Total < int64(planned) {
			mark, short = "*", true
		}
		if c.err != nil || c.res == nil || c.res.MessageLatency == nil {
			msg := "no events" + mark
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%.0f\t%d%s\t%s\t\n", rate, c.label, fmtUS(ml.P50), fmtUS(ml.P99),
			c.requestsPerEvent(), c.bytesPerEvent(), c.res.Connections.PeakOpen, mark, deliv)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\npolling waits for its next poll (≈ interval/2 on average); 304s save bytes, not requests; the two polling rows")
	fmt.Fprintln(w, "run side by side on one server; requests/event leaves out each client's first request (its connect, or the poll")
	fmt.Fprintln(w, "that learns where the topic is); bytes/event counts everything on the wire, connects included;")
	fmt.Fprintln(w, "long-polling, SSE and WebSocket deliver at once, at one request per event, one held stream, one held socket.")
	if short {
		fmt.Fprintln(w, "* fewer clients than planned began before the cell ended (a busy machine); the row covers those that did.")
	}
	return nil
}
