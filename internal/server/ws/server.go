package ws

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
)

// Defaults of Options.
const (
	DefaultReadLimit    = 32 << 10
	DefaultMsgRate      = 20
	DefaultMsgBurst     = 40
	DefaultQueue        = 256
	DefaultMaxConns     = 100_000
	DefaultPingInterval = 20 * time.Second
	DefaultWriteTimeout = 5 * time.Second
	DefaultTickRate     = 4
	DefaultHistory      = 50
	DefaultMaxWait      = 60 * time.Second
	DefaultSSEKeepalive = 15 * time.Second
	maxRoomsPerConn     = 32
	maxDocs             = 256 // × DefaultMaxDocChars runes: bounded memory
	typingEvery         = time.Second
	maxBatch            = 256 // events per poll response, resume or SSE catch-up
)

// Options are the WebSocket server's dependencies and settings. Zero values
// take the defaults named on each field.
type Options struct {
	// Feed is the process's one event broker (domain.Feed): chat rooms,
	// private messages, notifications and ticks travel through it, and
	// with a Relay set on it, between nodes. Default: a new Feed.
	Feed *domain.Feed
	// Node is this process's id in the Feed's relay; events whose Origin
	// is Node were published here. Default Feed.Node().
	Node string
	// Watch is called with every Feed topic before the server subscribes
	// to it, so a sharded relay can subscribe its channel
	// (rediscache.Relay.Watch). Default none.
	Watch func(topic string)
	// Log numbers and keeps recent events per topic (replay, history,
	// polling). Default NewMemoryLog(256, 4096).
	Log Log
	// Auth verifies bearer tokens at the handshake and on the REST pushes.
	// Default server.NewJWT with a random key.
	Auth server.Authenticator
	// Login, when set, mounts POST /api/login (email + password → token).
	// Default nil: not mounted (under serve all the REST server owns it).
	Login domain.Authenticator
	// Ops mounts /healthz, /stats and /metrics. Default false (serve all
	// serves them from the REST handler and merges Stats).
	Ops bool
	// ExtraStats adds sections to /stats. Default none.
	ExtraStats func() map[string]any
	// RelayErrors reports cross-node errors of the Feed's relay, added to
	// ws.redis.errors. Default none.
	RelayErrors func() int64
	// Cluster coordinates the nodes on one Redis (RedisCluster): one
	// ticker for all (a lease), presence across nodes, one revision order
	// per document. Default nil: this node alone.
	Cluster Cluster
	// LeaseTTL is the ticker lease's time to live; a dead leader is
	// replaced within it. Default DefaultLeaseTTL (3s).
	LeaseTTL time.Duration
	// PresenceTTL is how long a node's presence entries live without a
	// refresh (every PresenceTTL/3), so a dead node's users leave the
	// lists within it. Default DefaultPresenceTTL (30s).
	PresenceTTL time.Duration
	// Registry is what /metrics serves. Default: a new private registry.
	Registry *prometheus.Registry
	// Logger receives connection errors at debug level. Default: discard.
	Logger *slog.Logger

	// Origins are the Origin patterns (path.Match, host only) a browser
	// handshake may come from besides the server's own host; others get
	// 403. Default none.
	Origins []string
	// Dev skips the Origin check entirely. Default false.
	Dev bool
	// ReadLimit is the largest frame in bytes; larger closes with 1009.
	// Default DefaultReadLimit (32 KiB).
	ReadLimit int64
	// MsgRate and MsgBurst limit each connection's frames (not on
	// /ws/echo): excess frames get an error rate_limited, MsgBurst
	// rejections in a row close with 1008. Default 20/s, burst 40.
	MsgRate  float64
	MsgBurst int
	// Queue is each connection's outgoing queue in messages; a connection
	// whose queue is full is closed with 1008 (too slow). Default 256.
	Queue int
	// MaxConns caps open WebSocket connections, and separately open SSE
	// streams plus held long polls; beyond it the request gets 503.
	// Default DefaultMaxConns.
	MaxConns int
	// PingInterval is how often each connection is pinged; a pong missing
	// by the next ping closes it. Default 20s.
	PingInterval time.Duration
	// WriteTimeout bounds one frame write. Default 5s.
	WriteTimeout time.Duration
	// TickRate is /ws/ticker's synthetic ticks per second (0: none; price
	// changes from writes are always sent). Default DefaultTickRate (4).
	TickRate float64
	// History is how many past messages a chat join sends. Default 50.
	History int
	// MaxWait caps a long-poll's wait. Default 60s.
	MaxWait time.Duration
	// SSEKeepalive is the interval of SSE comment lines. Default 15s.
	SSEKeepalive time.Duration
	// Seed seeds the synthetic ticker. Default 0.
	Seed uint64
}

func (d *Options) defaults() {
	if d.Feed == nil {
		d.Feed = domain.NewFeed()
	}
	if d.Node == "" {
		d.Node = d.Feed.Node()
	}
	if d.Log == nil {
		d.Log = NewMemoryLog(256, 4096)
	}
	if d.Auth == nil {
		d.Auth = server.NewJWT(server.JWTOptions{})
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ReadLimit <= 0 {
		d.ReadLimit = DefaultReadLimit
	}
	if d.MsgRate <= 0 {
		d.MsgRate = DefaultMsgRate
	}
	if d.MsgBurst <= 0 {
		d.MsgBurst = DefaultMsgBurst
	}
	if d.Queue <= 0 {
		d.Queue = DefaultQueue
	}
	if d.MaxConns <= 0 {
		d.MaxConns = DefaultMaxConns
	}
	if d.PingInterval <= 0 {
		d.PingInterval = DefaultPingInterval
	}
	if d.WriteTimeout <= 0 {
		d.WriteTimeout = DefaultWriteTimeout
	}
	if d.TickRate < 0 {
		d.TickRate = 0
	}
	if d.History <= 0 {
		d.History = DefaultHistory
	}
	if d.MaxWait <= 0 {
		d.MaxWait = DefaultMaxWait
	}
	if d.SSEKeepalive <= 0 {
		d.SSEKeepalive = DefaultSSEKeepalive
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = DefaultLeaseTTL
	}
	if d.PresenceTTL <= 0 {
		d.PresenceTTL = DefaultPresenceTTL
	}
}

// Stats are the server's counters, reported under "ws" in /stats.
type Stats struct {
	active, peak, total                        atomic.Int64
	in, out, drops, kicked, limited, logErrors atomic.Int64
	rejected                                   atomic.Int64 // handshakes refused (401, 403, 503)
	streams                                    atomic.Int64 // open SSE streams and long polls
	writeTimeouts                              atomic.Int64 // connections closed because a write took WriteTimeout
	clusterErrors                              atomic.Int64 // Cluster calls that failed (Redis away)
	ticks                                      atomic.Int64 // synthetic ticks this node published
}

// Server is the WebSocket server's http.Handler: the /ws/ paths, the
// polling and SSE endpoints over the same events, the REST pushes, and (with
// Options.Ops) the operations endpoints.
type Server struct {
	d     Options
	mux   *http.ServeMux
	hub   *hub
	docs  *docs
	stats Stats
	order *orderLocks // a log topic's seq and publish in one turn (broadcast)
	// observe is d.Log when it learns other nodes' seqs (RedisLog).
	observe observer

	ids      atomic.Int64 // connection ids
	leader   atomic.Bool  // holds the ticker lease (Cluster only)
	bgCtx    context.Context
	closing  atomic.Bool
	done     chan struct{} // closed by Shutdown: long polls and SSE end
	bg       context.CancelFunc
	bgWG     sync.WaitGroup
	connsMu  sync.Mutex
	conns    [pingSlots]map[*conn]struct{} // open connections by ping wheel slot
	pingTick int                           // the wheel's turns so far (under connsMu)
	connsWG  sync.WaitGroup
	shutOnce sync.Once
}

// NewHandler returns the WebSocket server as a handler of its own (tests,
// benchmarks; with Options.Ops its own /healthz, /stats and /metrics) and
// starts its background work (the ticker, the order watcher); Shutdown
// stops it.
func NewHandler(d Options) *Server {
	d.defaults()
	s := newServer(d)
	s.routes(s.mux.Handle)
	d.Registry.MustRegister(server.StatsCollector("loadrig", s.Stats))
	s.start()
	return s
}

// New mounts the WebSocket server on sp, the HTTP spine it shares with the
// other transports of the listener (request ids, recovery, counts, rate
// limit, /healthz, /stats with a "ws" section, /metrics), over the
// process's dependency set: its broker, credentials and login. o carries
// the WebSocket settings; o.Feed, o.Auth and o.Logger default to d's.
// POST /api/login is mounted only when o.Login is set (serve all leaves
// it to REST).
func New(sp *server.Spine, d server.Deps, o Options) *Server {
	d = d.WithDefaults()
	if o.Feed == nil {
		o.Feed = d.Feed
	}
	if o.Auth == nil {
		o.Auth = d.Auth
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	o.Ops = false
	o.defaults()
	s := newServer(o)
	s.routes(sp.Handle)
	sp.AddStats(func(out map[string]any) {
		for k, v := range s.Stats() {
			out[k] = v
		}
	})
	s.start()
	return s
}

func newServer(d Options) *Server {
	s := &Server{d: d, mux: http.NewServeMux(), done: make(chan struct{}), order: newOrderLocks()}
	for i := range s.conns {
		s.conns[i] = map[*conn]struct{}{}
	}
	s.hub = newHub(s)
	s.docs = newDocs(s)
	s.observe, _ = d.Log.(observer)
	return s
}

func (s *Server) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.bg, s.bgCtx = cancel, ctx
	s.bgWG.Add(2)
	go func() { defer s.bgWG.Done(); s.runTicker(ctx) }()
	go func() { defer s.bgWG.Done(); s.runPings(ctx) }()
	if s.d.Cluster != nil {
		s.bgWG.Add(2)
		go func() { defer s.bgWG.Done(); s.runLease(ctx) }()
		go func() { defer s.bgWG.Done(); s.runPresence(ctx) }()
	}
}

// pingSlots is the ping wheel's size: a connection is pinged every
// PingInterval, within PingInterval/pingSlots of its turn.
const pingSlots = 16

// runPings is the ping wheel: one goroutine and one ticker for all
// connections rather than a timer each. Every PingInterval/pingSlots it
// visits the connections of the next slot (heartbeat), so each is visited
// once per PingInterval.
func (s *Server) runPings(ctx context.Context) {
	t := time.NewTicker(max(s.d.PingInterval/pingSlots, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.connsMu.Lock()
			s.pingTick++
			for c := range s.conns[s.pingTick%pingSlots] {
				c.heartbeat()
			}
			s.connsMu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns the /stats document: "ws" with the contract's counters,
// plus Options.ExtraStats.
func (s *Server) Stats() map[string]any {
	st := &s.stats
	var redisErrs int64
	if _, ok := s.d.Log.(RedisLog); ok {
		redisErrs = st.logErrors.Load()
	}
	if s.d.RelayErrors != nil {
		redisErrs += s.d.RelayErrors()
	}
	redisErrs += st.clusterErrors.Load()
	out := map[string]any{
		"ws": map[string]any{
			"connections":    map[string]any{"active": st.active.Load(), "peak": st.peak.Load(), "total": st.total.Load(), "rejected": st.rejected.Load()},
			"messages":       map[string]any{"in": st.in.Load(), "out": st.out.Load()},
			"drops":          st.drops.Load(),
			"kicked_slow":    st.kicked.Load(),
			"rate_limited":   st.limited.Load(),
			"redis":          map[string]any{"errors": redisErrs},
			"write_timeouts": st.writeTimeouts.Load(),
			"streams":        st.streams.Load(),
			"log_errors":     st.logErrors.Load(),
			"ticks":          st.ticks.Load(),
		},
	}
	if s.d.ExtraStats != nil {
		for k, v := range s.d.ExtraStats() {
			out[k] = v
		}
	}
	return out
}

// Shutdown stops accepting WebSocket handshakes, ends long polls and SSE
// streams, closes every connection with 1001 (going away) and waits for
// their handlers within ctx. Call it before the HTTP server's Shutdown
// (which does not wait for hijacked connections).
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.closing.Store(true)
		close(s.done)
		s.bg()
	})
	s.connsMu.Lock()
	for _, slot := range s.conns {
		for c := range slot {
			go c.close(1001, "server shutting down")
		}
	}
	s.connsMu.Unlock()
	wait := make(chan struct{})
	go func() { s.connsWG.Wait(); s.bgWG.Wait(); close(wait) }()
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bearerToken is the handshake's credential: Authorization: Bearer, or
// ?token= for browsers (which cannot set headers on a WebSocket).
func bearerToken(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return r.URL.Query().Get("token")
}

// authenticate returns the caller's user id: 0 when no credential was
// sent, an error when one was sent and is not valid.
func (s *Server) authenticate(r *http.Request) (int64, error) {
	tok := bearerToken(r)
	if tok == "" {
		return 0, nil
	}
	return s.d.Auth.Verify(r.Context(), tok)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// httpError writes the problem+json the REST server writes.
func httpError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loadrig"`)
	}
	b, _ := json.Marshal(map[string]any{"title": http.StatusText(status), "status": status, "detail": msg})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
