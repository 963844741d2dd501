package loadcmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/wsdrv"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// descriptorSlack is how many file descriptors beyond one per connection a
// session run needs (the binary, its listeners, stdio, DNS).
const descriptorSlack = 64

// WSOptions are the inputs of `loadrig load ws`, `load sse` and `load poll`.
type WSOptions struct {
	IO          *iostreams.IOStreams // injected streams
	ToolVersion string               // injected: the build, for the result file
	Runner      Runner               // injected engine; nil: load.Run
	// RaiseNoFile raises the descriptor limit; nil: wsdrv.RaiseNoFile.
	RaiseNoFile func(need uint64) (soft, hard uint64, err error)

	Load      LoadFlags       // the shared engine and output flags (-d, -o, --format, --stages, ...)
	Transport wsdrv.Transport // which command: ws, sse or poll

	URLs          []string      // the arguments: one or more URLs, round robin
	Connections   int           // --connections: connections opened and held; default 10
	Ramp          float64       // --ramp: connections opened per second; default: all within 1 s
	Scenario      string        // --scenario: echo (default), chat, subscribe or raw (ws only)
	Message       string        // --message: message template; default per scenario
	MessageRate   float64       // --message-rate: total messages/s; default 1 per connection per second (echo, raw), 10 (chat)
	Correlate     string        // --correlate: reply id field; default "id" (echo)
	Rooms         string        // --rooms: chat room names, or a count N (room-1..room-N); default lobby
	Senders       float64       // --senders: fraction of chat connections that post; default 0.1
	Reconnect     bool          // --reconnect: reopen lost connections with backoff (and resume); default false
	BackoffMin    time.Duration // --reconnect-delay: first backoff; default 1s
	BackoffMax    time.Duration // --reconnect-delay-max: backoff cap; default 5s
	BackoffJitter float64       // --reconnect-jitter: ± randomization fraction; default 0.5
	Attempts      int           // --reconnect-attempts: consecutive failed attempts allowed; default 0: unlimited
	SourceAddrs   []string      // --source-addrs: local addresses to dial from, round robin; default none
	Token         string        // --token: sent as Authorization: Bearer (also LOADRIG_TOKEN); default none
	Origin        string        // --origin: Origin header; default none
	Insecure      bool          // --insecure: skip TLS verification; default false
	DialTimeout   time.Duration // --dial-timeout: per connection attempt; default 10s
	Drain         time.Duration // --drain: wait for due replies at the end; default 1s
	Seed          uint64        // --seed: template and jitter seed; default 0
	Interval      time.Duration // --interval: poll period (poll); default 1s
	LongPoll      time.Duration // --long-poll: hold each poll up to this (poll); default 0: plain polling
	NoETag        bool          // --no-etag: plain polls without If-None-Match (poll); default false

	fs *pflag.FlagSet
}

// NewCmdWS returns `loadrig load ws URL...`.
func NewCmdWS(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	return newCmdSession(f, runF, wsdrv.TransportWS, &cobra.Command{
		Use:   "ws URL... [flags]",
		Short: "Load a WebSocket server with held connections",
		Long: `Open --connections WebSocket connections at --ramp per second (or along
--stages), round robin over the URLs, hold them for --duration, and time every
message. At the end each connection stops sending, waits --drain for what is
still due, and closes with 1000; nothing is counted as a timeout.

Scenarios (--scenario):
  echo       send --message (a JSON object template) at --message-rate in total;
             the driver sets --correlate (default "id") and "ts" on each message
             and matches replies by that field: the round trip from the intended
             send (coordinated omission corrected, as for requests).
  raw        send --message as rendered; replies matched first in, first out
             (or by --correlate when set).
  chat       join --rooms (names, or a count N: room-1..room-N); a --senders
             fraction posts at --message-rate in total; receivers time arrival −
             ts, acks are round trips; per-room seq gives delivered, dropped,
             duplicates, out of order.
  subscribe  receive events; latency is arrival − sts.

The result (protocol "ws") has connections {opened, failed, peak_open,
reconnects, closed_by_code}, connect_time_us, messages, message_latency_us,
ack_latency_us (chat), fanout and bytes counted at the socket.`,
		Example: `  loadrig load ws --connections 100 --ramp 50 --message-rate 1000 -d 30s ws://127.0.0.1:8080/ws/echo
  loadrig load ws --scenario chat --rooms 10 --connections 1000 --senders 0.05 --message-rate 200 \
    ws://127.0.0.1:8080/ws/chat ws://127.0.0.1:8081/ws/chat
  loadrig load ws --scenario subscribe --connections 5000 --reconnect ws://127.0.0.1:8080/ws/ticker`,
	})
}

// NewCmdSSE returns `loadrig load sse URL...`.
func NewCmdSSE(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	return newCmdSession(f, runF, wsdrv.TransportSSE, &cobra.Command{
		Use:   "sse URL... [flags]",
		Short: "Subscribe over Server-Sent Events with held connections",
		Long: `Open --connections Server-Sent Events streams at --ramp per second, hold them
for --duration, and time every event as arrival − sts (the envelope's server
send time); id: is the event's seq, which gives delivered, dropped, duplicates
and out of order. --reconnect reopens a lost stream with Last-Event-ID.`,
		Example: `  loadrig load sse --connections 1000 --reconnect 'http://127.0.0.1:8080/api/events/stream?topic=ticker'`,
	})
}

// NewCmdPoll returns `loadrig load poll URL...`.
func NewCmdPoll(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	return newCmdSession(f, runF, wsdrv.TransportPoll, &cobra.Command{
		Use:   "poll URL... (--interval D | --long-poll D) [flags]",
		Short: "Subscribe by polling or long-polling",
		Long: `Run --connections pollers, arriving at --ramp per second: each GETs
URL&since=SEQ every --interval (with If-None-Match, so nothing new is a 304;
--no-etag sends full polls), or with --long-poll D as &wait=D back to back.
Every request is a message sent and every event a message received, so
requests per delivered event is messages.sent / messages.received; event latency
is arrival − sts.`,
		Example: `  loadrig load poll --interval 1s --connections 1000 'http://127.0.0.1:8080/api/events?topic=ticker'
  loadrig load poll --long-poll 25s --connections 1000 'http://127.0.0.1:8080/api/events?topic=ticker'`,
	})
}

func newCmdSession(f *cmdutil.Factory, runF func(*WSOptions) error, tr wsdrv.Transport, cmd *cobra.Command) *cobra.Command {
	opts := &WSOptions{IO: f.IOStreams, ToolVersion: f.BuildInfo.String(), Transport: tr}
	example := "ws://127.0.0.1:8080/ws/echo"
	if tr != wsdrv.TransportWS {
		example = "http://127.0.0.1:8080/api/events?topic=ticker"
	}
	cmd.Args = cmdutil.MinimumArgs(1, "the target URL, e.g. "+example)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.URLs = args
		if err := opts.validate(); err != nil {
			return err
		}
		if runF != nil {
			return runF(opts)
		}
		return wsRun(cmd.Context(), opts)
	}
	fl := cmd.Flags()
	opts.fs = fl
	opts.Load.AddFlags(fl, f.Source)
	fl.IntVar(&opts.Connections, "connections", 10, "connections opened and held for the run")
	fl.Float64Var(&opts.Ramp, "ramp", 0, "connections opened per second (default: all within the first second)")
	fl.StringSliceVar(&opts.SourceAddrs, "source-addrs", nil, "local addresses to dial from, round robin (each has its own ephemeral ports), e.g. 127.0.0.2,127.0.0.3")
	fl.StringVar(&opts.Token, "token", "", "bearer token sent as Authorization (prefer LOADRIG_TOKEN: argv is visible to other users)")
	fl.StringVar(&opts.Origin, "origin", "", "Origin header sent with each connection")
	fl.BoolVar(&opts.Insecure, "insecure", false, "skip TLS certificate verification (wss://, https://)")
	fl.DurationVar(&opts.DialTimeout, "dial-timeout", wsdrv.DefaultDialTimeout, "bound on each connection attempt (dial, TLS, handshake)")
	fl.DurationVar(&opts.Drain, "drain", wsdrv.DefaultDrain, "at the end, how long to wait for replies and events still due")
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the template and reconnect-jitter random generators")
	fl.BoolVar(&opts.Reconnect, "reconnect", false, "reopen lost connections with exponential backoff and resume from the last seq")
	fl.DurationVar(&opts.BackoffMin, "reconnect-delay", wsdrv.DefaultBackoffInitial, "first reconnect backoff (doubles per failed attempt)")
	fl.DurationVar(&opts.BackoffMax, "reconnect-delay-max", wsdrv.DefaultBackoffMax, "reconnect backoff cap")
	fl.Float64Var(&opts.BackoffJitter, "reconnect-jitter", wsdrv.DefaultBackoffRandomization, "reconnect backoff randomization: each wait ± this fraction")
	fl.IntVar(&opts.Attempts, "reconnect-attempts", 0, "failed reconnect attempts in a row before giving up (0: unlimited)")
	switch tr {
	case wsdrv.TransportWS:
		fl.StringVar(&opts.Scenario, "scenario", "echo", "echo, chat, subscribe or raw")
		fl.StringVar(&opts.Message, "message", "", "message template (echo, raw: the frame; chat: the text)")
		fl.Float64Var(&opts.MessageRate, "message-rate", 0, "messages per second in total (default: 1 per connection per second for echo and raw, 10 for chat)")
		fl.StringVar(&opts.Correlate, "correlate", "", `field carrying the message id that replies echo (echo default "id")`)
		fl.StringVar(&opts.Rooms, "rooms", "", "chat rooms: names (lobby,news) or a count N (room-1..room-N); default lobby")
		fl.Float64Var(&opts.Senders, "senders", wsdrv.DefaultSenders, "chat: fraction of connections that post")
		_ = cmd.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions([]string{"echo", "chat", "subscribe", "raw"}, cobra.ShellCompDirectiveNoFileComp))
	case wsdrv.TransportPoll:
		fl.DurationVar(&opts.Interval, "interval", 0, "poll every interval (plain polling)")
		fl.DurationVar(&opts.LongPoll, "long-poll", 0, "long-poll: each request waits up to this for an event")
		fl.BoolVar(&opts.NoETag, "no-etag", false, "plain polling without If-None-Match (every poll a full 200)")
	}
	completeLoadFlags(cmd)
	return cmd
}

// validate checks the flags without touching the network.
func (o *WSOptions) validate() error {
	for _, name := range []string{"rate", "concurrency", "requests", "warmup", "max-inflight", "think-time"} {
		if o.Load.set(name) {
			return cmdutil.FlagErrorf("--%s does not apply to held connections: use --connections N, --ramp R (or --stages) and --duration", name)
		}
	}
	if err := o.Load.Validate(); err != nil {
		return err
	}
	switch {
	case o.Connections < 1:
		return cmdutil.FlagErrorf("--connections must be at least 1, got %d", o.Connections)
	case o.Ramp < 0 || o.Ramp != o.Ramp:
		return cmdutil.FlagErrorf("--ramp must be > 0 connections per second, got %v", o.Ramp)
	case o.fs.Changed("ramp") && o.Load.set("stages"):
		return cmdutil.FlagErrorf("--ramp and --stages both set the arrival rate; give one")
	case o.Load.Duration == 0 && !o.Load.set("stages"):
		return cmdutil.FlagErrorf("held connections need a --duration, e.g. -d 30s")
	case o.BackoffMin <= 0 || o.BackoffMax < o.BackoffMin:
		return cmdutil.FlagErrorf("--reconnect-delay must be > 0 and --reconnect-delay-max at least as long")
	case o.BackoffJitter < 0 || o.BackoffJitter > 1:
		return cmdutil.FlagErrorf("--reconnect-jitter is a fraction 0..1, got %v", o.BackoffJitter)
	case o.Attempts < 0:
		return cmdutil.FlagErrorf("--reconnect-attempts must not be negative")
	case o.Transport == wsdrv.TransportPoll && (o.Interval > 0) == (o.LongPoll > 0):
		return cmdutil.FlagErrorf("load poll needs exactly one of --interval D (plain polling) or --long-poll D")
	case o.Interval < 0 || o.LongPoll < 0:
		return cmdutil.FlagErrorf("--interval and --long-poll must be positive durations")
	}
	if _, err := o.sourceAddrs(); err != nil {
		return err
	}
	if _, err := o.driverOptions(); err != nil {
		return err
	}
	perAddr := o.Connections / len(o.URLs)
	if n := len(o.SourceAddrs); n > 0 {
		perAddr = (perAddr + n - 1) / n
	}
	if ports := wsdrv.EphemeralPorts(); perAddr > ports {
		return cmdutil.FlagErrorf("--connections %d puts ~%d connections from one source address on one target, but the ephemeral port range holds %d: add --source-addrs (e.g. 127.0.0.2,127.0.0.3 on loopback) or more target URLs",
			o.Connections, perAddr, ports)
	}
	return nil
}

func (o *WSOptions) sourceAddrs() ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range o.SourceAddrs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, cmdutil.FlagErrorf("--source-addrs: %q is not an IP address", s)
		}
		out = append(out, a)
	}
	return out, nil
}

// rooms reads --rooms: names, or a count N for room-1..room-N.
func (o *WSOptions) rooms() ([]string, error) {
	if o.Rooms == "" {
		return nil, nil
	}
	if n, err := strconv.Atoi(o.Rooms); err == nil {
		if n < 1 || n > 100000 {
			return nil, cmdutil.FlagErrorf("--rooms %d: a count must be 1..100000", n)
		}
		r := make([]string, n)
		for i := range r {
			r[i] = "room-" + strconv.Itoa(i+1)
		}
		return r, nil
	}
	var r []string
	for _, s := range strings.Split(o.Rooms, ",") {
		if s = strings.TrimSpace(s); s != "" {
			r = append(r, s)
		}
	}
	return r, nil
}

func (o *WSOptions) driverOptions() (wsdrv.Options, error) {
	addrs, err := o.sourceAddrs()
	if err != nil {
		return wsdrv.Options{}, err
	}
	rooms, err := o.rooms()
	if err != nil {
		return wsdrv.Options{}, err
	}
	dopts := wsdrv.Options{
		URLs: o.URLs, Transport: o.Transport, Scenario: wsdrv.Scenario(o.Scenario), Connections: o.Connections,
		Message: o.Message, Seed: o.Seed, MessageRate: o.MessageRate, Correlate: o.Correlate, Rooms: rooms,
		Senders: o.Senders, Reconnect: o.Reconnect, SourceAddrs: addrs, Token: o.Token, Origin: o.Origin,
		Backoff:     wsdrv.Backoff{Initial: o.BackoffMin, Max: o.BackoffMax, Randomization: o.BackoffJitter, Attempts: o.Attempts},
		DialTimeout: o.DialTimeout, Drain: o.Drain, PollInterval: o.Interval, LongPoll: o.LongPoll, NoETag: o.NoETag,
		UserAgent: "loadrig/" + o.ToolVersion,
	}
	if o.BackoffJitter == 0 {
		dopts.Backoff.Randomization = -1 // none, as asked
	}
	if o.Insecure {
		dopts.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure is the user's explicit choice
	}
	d, err := wsdrv.New(dopts)
	if err != nil {
		if errors.Is(err, wsdrv.ErrUsage) {
			return dopts, cmdutil.FlagErrorf("%s", strings.TrimPrefix(err.Error(), "usage: "))
		}
		return dopts, err
	}
	d.Close()
	return dopts, nil
}

func wsRun(ctx context.Context, o *WSOptions) error {
	raise := o.RaiseNoFile
	if raise == nil {
		raise = wsdrv.RaiseNoFile
	}
	need := uint64(o.Connections + descriptorSlack)
	soft, hard, err := raise(need)
	if err == nil && soft < need {
		return cmdutil.FlagErrorf("--connections %d needs about %d file descriptors but the open-file limit (RLIMIT_NOFILE) is %d (hard %d): raise it (ulimit -n %d, or LimitNOFILE= for a service) or lower --connections",
			o.Connections, need, soft, hard, need)
	}
	dopts, err := o.driverOptions()
	if err != nil {
		return err
	}
	drv, err := wsdrv.New(dopts)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	n := o.Connections
	ramp := o.Ramp
	if ramp == 0 {
		ramp = float64(n)
	}
	adjust := func(cfg *load.Config) {
		cfg.Concurrency = 0
		if len(cfg.Stages) == 0 {
			cfg.Rate = ramp
		}
		cfg.Arrivals = int64(n)
		cfg.MaxInflight = n
	}
	runErr := Execute(ctx, Run{IO: o.IO, Flags: &o.Load, Driver: drv, ToolVersion: o.ToolVersion, Runner: o.Runner, Adjust: adjust,
		Workload: o.workloadName()})
	if cerr := drv.Close(); cerr != nil && runErr == nil {
		return fmt.Errorf("close driver: %w", cerr)
	}
	return runErr
}

// workloadName names a run without --name: the transport (with the
// scenario for ws) and the URLs, e.g. "ws chat ws://127.0.0.1:8083/ws".
func (o *WSOptions) workloadName() string {
	kind := string(o.Transport)
	if o.Transport == wsdrv.TransportWS {
		kind += " " + o.Scenario
	}
	return kind + " " + strings.Join(o.URLs, ",")
}
