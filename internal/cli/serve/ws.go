package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/ws"
)

// DefaultWSAddr is where `serve ws` listens by default.
const DefaultWSAddr = "127.0.0.1:8090"

// Replay stores of --replay.
const (
	ReplayMemory = "memory"
	ReplayRedis  = "redis"
)

// WSFlags are the WebSocket server's flags beyond ServerFlags (whose
// --redis-url turns on scale-out).
type WSFlags struct {
	// RedisSharded is --redis-sharded: SPUBLISH/SSUBSCRIBE instead of
	// PUBLISH/PSUBSCRIBE. Default false.
	RedisSharded bool
	// Origins is --origins: Origin host patterns browsers may connect
	// from (comma separated, path.Match syntax). Default none: same host
	// only, others 403.
	Origins []string
	// ReadLimit is --read-limit: largest frame in bytes (1009 beyond).
	// Default 32768.
	ReadLimit int64
	// MsgRate and MsgBurst are --msg-rate and --msg-burst: frames per
	// second and burst per connection. Default 20 and 40.
	MsgRate  float64
	MsgBurst int
	// Queue is --queue: outgoing messages queued per connection before it
	// is closed as too slow (1008). Default 256.
	Queue int
	// PingInterval is --ping-interval. Default 20s.
	PingInterval time.Duration
	// TickRate is --tick-rate: /ws/ticker events per second. Default 4.
	TickRate float64
	// Replay is --replay: memory or redis. Default: redis with
	// --redis-url, else memory.
	Replay string
	// ReplaySize is --replay-size: events kept per topic. Default 1000.
	ReplaySize int
	// Dev is --dev: accept any Origin. Default false.
	Dev bool
}

func (w *WSFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&w.RedisSharded, "redis-sharded", false, "scale-out over Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE); needs --redis-url")
	fs.StringSliceVar(&w.Origins, "origins", nil, "Origin host patterns browsers may connect from, e.g. app.example.com,*.example.com (others: 403)")
	fs.Int64Var(&w.ReadLimit, "read-limit", ws.DefaultReadLimit, "largest WebSocket frame in bytes (larger: close 1009)")
	fs.Float64Var(&w.MsgRate, "msg-rate", ws.DefaultMsgRate, "frames per second per connection (excess: error rate_limited)")
	fs.IntVar(&w.MsgBurst, "msg-burst", ws.DefaultMsgBurst, "burst of --msg-rate; this many rejections in a row close with 1008")
	fs.IntVar(&w.Queue, "queue", ws.DefaultQueue, "outgoing messages queued per connection; a full queue closes it with 1008 (too slow)")
	fs.DurationVar(&w.PingInterval, "ping-interval", ws.DefaultPingInterval, "ping every connection this often; a pong missing by the next ping closes it")
	fs.Float64Var(&w.TickRate, "tick-rate", ws.DefaultTickRate, "synthetic /ws/ticker events per second (0: only real price changes)")
	fs.StringVar(&w.Replay, "replay", "", "replay store of seqs and missed events: memory or redis (default: redis with --redis-url, else memory)")
	fs.IntVar(&w.ReplaySize, "replay-size", 1000, "events kept per room or topic for resume, history and polling")
	fs.BoolVar(&w.Dev, "dev", false, "accept WebSocket handshakes from any Origin (development only)")
}

func (w *WSFlags) validate(redisURL string) error {
	switch {
	case w.ReadLimit < 256 || w.ReadLimit > 64<<20:
		return cmdutil.FlagErrorf("--read-limit must be between 256 and 67108864 bytes (got %d)", w.ReadLimit)
	case w.MsgRate <= 0:
		return cmdutil.FlagErrorf("--msg-rate must be > 0 frames per second (got %v)", w.MsgRate)
	case w.MsgBurst < 1:
		return cmdutil.FlagErrorf("--msg-burst must be >= 1 (got %d)", w.MsgBurst)
	case w.Queue < 1 || w.Queue > 1<<20:
		return cmdutil.FlagErrorf("--queue must be between 1 and 1048576 messages (got %d)", w.Queue)
	case w.PingInterval < time.Second:
		return cmdutil.FlagErrorf("--ping-interval must be at least 1s (got %v)", w.PingInterval)
	case w.TickRate < 0 || w.TickRate > 10000:
		return cmdutil.FlagErrorf("--tick-rate must be between 0 and 10000 per second (got %v)", w.TickRate)
	case w.ReplaySize < 1 || w.ReplaySize > 1_000_000:
		return cmdutil.FlagErrorf("--replay-size must be between 1 and 1000000 (got %d)", w.ReplaySize)
	case w.RedisSharded && redisURL == "":
		return cmdutil.FlagErrorf("--redis-sharded needs --redis-url (the Redis the nodes share)")
	}
	for _, o := range w.Origins {
		if o == "" || strings.Contains(o, "://") {
			return cmdutil.FlagErrorf("--origins %q: give host patterns like app.example.com, without a scheme", o)
		}
	}
	switch w.Replay {
	case "":
	case ReplayMemory:
		if redisURL != "" {
			return cmdutil.FlagErrorf("--replay memory with --redis-url would number each node's events apart; use --replay redis (the default with --redis-url)")
		}
	case ReplayRedis:
		if redisURL == "" {
			return cmdutil.FlagErrorf("--replay redis needs --redis-url (seqs outlive a restart only in a Redis the server does not own)")
		}
	default:
		return cmdutil.FlagErrorf("--replay %q: use memory or redis", w.Replay)
	}
	return nil
}

// WSOptions are the inputs of `loadrig serve ws`.
type WSOptions struct {
	// IO are the injected streams: the bound address goes to Out, logs to
	// ErrOut.
	IO *iostreams.IOStreams
	// Addr is --addr. Default DefaultWSAddr.
	Addr string
	// WSFlags are the WebSocket flags.
	WSFlags
	// ServerFlags are the shared server flags.
	ServerFlags
	// Ready, when set, is called with the base URL once listening.
	Ready func(url string)
}

// NewCmdServeWS returns `loadrig serve ws`. runF replaces the run function
// in tests; nil runs WSRun.
func NewCmdServeWS(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	opts := &WSOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "ws",
		Short: "Run the WebSocket reference server (chat, notifications, ticker, docs, echo; SSE and polling)",
		Long: `Run the WebSocket reference server. One JSON envelope on text frames:
{"type","id","room","to","seq","ts","sts","data"} (ts: client send time, sts:
server send time, Unix microseconds; seq per room or topic).

  /ws/chat           join, leave, msg (ack with seq to the sender), pm, typing, resume
  /ws/notifications  the caller's own notifications (POST /api/notifications)
  /ws/ticker         --tick-rate ticks plus real price changes (anonymous allowed)
  /ws/docs/{id}      collaborative plain text: snapshot, op (transformed), ack
  /ws/echo           every frame back (anonymous, no rate limit)
  GET /api/events?topic=ticker|notifications|room:NAME&since=SEQ[&wait=25s]
  GET /api/events/stream?topic=...   Server-Sent Events, Last-Event-ID resume
  POST /api/notifications {"user_id":7,"text":"..."}, POST /api/rooms/{room}/messages {"text":"..."}
  POST /api/login, /healthz, /stats, /metrics

Connections need a token (Authorization: Bearer, or ?token=) except ticker
and echo. With --redis-url, several serve ws processes share rooms, private
messages, presence, notifications, seqs and documents through Redis, and one
of them (a lease) runs the ticker for all; give them the same
LOADRIG_JWT_SECRET so each accepts the others' tokens.`,
		Example: `  loadrig serve ws --dev
  # two nodes sharing rooms through Redis
  export LOADRIG_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
  loadrig serve ws --addr 127.0.0.1:8090 --redis-url redis://127.0.0.1:6379
  loadrig serve ws --addr 127.0.0.1:8091 --redis-url redis://127.0.0.1:6379`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateFlags(&opts.ServerFlags, nil, addrFlag{"--addr", opts.Addr}); err != nil {
				return err
			}
			if err := opts.WSFlags.validate(opts.Stack.RedisURL); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return WSRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Addr, "addr", DefaultWSAddr, "HOST:PORT to listen on (port 0: any free port; the bound address is printed)")
	opts.WSFlags.addFlags(cmd.Flags())
	opts.ServerFlags.AddFlags(cmd.Flags())
	opts.ServerFlags.Getenv = f.Getenv
	return cmd
}

// wsNode is the WebSocket server with its scale-out and replay wiring.
type wsNode struct {
	h     *ws.Server
	rb    *rediscache.Backend // nil without --redis-url
	relay *rediscache.Relay
}

// wsTransport is the WebSocket server (and its polling, SSE and push
// routes) on the HTTP listener's spine. login mounts POST /api/login
// (serve ws; under serve all REST answers it). Its runner closes every
// connection with 1001 when the command stops.
func wsTransport(sf *ServerFlags, wf *WSFlags, login bool) transport {
	var n *wsNode
	return transport{
		name:  "ws",
		limit: []string{"/ws/", "/api/events", "/api/notifications", "/api/rooms/"},
		mount: func(sp *server.Spine, d server.Deps) error {
			var err error
			n, err = mountWS(sp, d, wf, sf, login)
			return err
		},
		start: func(context.Context, printer, server.Deps) (server.Runner, error) {
			return server.RunFunc(func(ctx context.Context, grace time.Duration) error {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
				defer cancel()
				err := n.shutdown(sctx)
				if errors.Is(err, context.DeadlineExceeded) {
					// Peers that never answered the close handshake were
					// cut at the deadline: the designed end of a drain.
					err = nil
				}
				return err
			}), nil
		},
	}
}

// mountWS builds the WebSocket server over d on sp: the relay and replay
// log on Redis when --redis-url is set.
func mountWS(sp *server.Spine, d server.Deps, wf *WSFlags, sf *ServerFlags, login bool) (*wsNode, error) {
	n := &wsNode{}
	log := d.Logger
	// One --max-conns: the listener's cap counts every WebSocket
	// connection and SSE stream until it closes, so it binds first; the
	// hub's own cap gets the same value and only backs it up (ws.Server
	// can be mounted on a listener without a cap).
	o := ws.Options{
		Logger:  log.With("server", "ws"),
		Origins: wf.Origins, Dev: wf.Dev, ReadLimit: wf.ReadLimit, MsgRate: wf.MsgRate, MsgBurst: wf.MsgBurst,
		Queue: wf.Queue, MaxConns: sf.MaxConns, PingInterval: wf.PingInterval, TickRate: wf.TickRate,
		Seed: uint64(sf.Stack.Seed), Log: ws.NewMemoryLog(wf.ReplaySize, 4096),
	}
	if login {
		o.Login = d.Login
		if o.Login == nil {
			o.Login, _ = d.Catalog.(domain.Authenticator)
		}
	}
	if url := sf.Stack.RedisURL; url != "" && d.Feed != nil {
		rb, err := rediscache.Open(rediscache.Options{URL: url})
		if err != nil {
			return nil, fmt.Errorf("--redis-url: %w", err)
		}
		var id [6]byte
		_, _ = rand.Read(id[:])
		o.Node = "ws-" + hex.EncodeToString(id[:])
		prefix := sf.Stack.KeyPrefix
		if prefix == "" {
			prefix = "loadrig:"
		}
		n.rb = rb
		n.relay = rediscache.NewRelay(rb, rediscache.RelayOptions{Prefix: prefix, Sharded: wf.RedisSharded, Deliver: d.Feed.Receive, Logger: log})
		d.Feed.SetRelay(o.Node, n.relay)
		o.Watch, o.RelayErrors = n.relay.Watch, n.relay.Errors
		o.Log = ws.RedisLog{L: rediscache.NewEventLog(rb, prefix, int64(wf.ReplaySize)).WithRelay(n.relay)}
		o.Cluster = ws.RedisCluster{C: rediscache.NewCoord(rb, prefix, 0)}
		sp.AddStats(func(out map[string]any) { out["ws_relay"] = n.relay.Stats() })
		log.Info("ws scale-out over redis", "node", o.Node, "sharded", wf.RedisSharded, "replay", ReplayRedis)
	}
	n.h = ws.New(sp, d, o)
	return n, nil
}

// shutdown closes every WebSocket with 1001 within ctx, then the relay.
func (n *wsNode) shutdown(ctx context.Context) error {
	if n == nil || n.h == nil {
		return nil
	}
	err := n.h.Shutdown(ctx)
	if n.relay != nil {
		_ = n.relay.Close()
	}
	if n.rb != nil {
		_ = n.rb.Close()
	}
	return err
}

// WSRun runs the WebSocket server until ctx is canceled, then closes every
// connection with 1001 (going away), drains HTTP requests and the stack.
func WSRun(ctx context.Context, opts *WSOptions) error {
	return serveTransports(ctx, serveSpec{
		flags: &opts.ServerFlags, io: opts.IO, addr: opts.Addr,
		transports: []transport{wsTransport(&opts.ServerFlags, &opts.WSFlags, true)},
		ready: func(url string) {
			if opts.Ready != nil {
				opts.Ready(url)
			}
		},
	})
}
