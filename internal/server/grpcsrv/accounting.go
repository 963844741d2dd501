package grpcsrv

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"

	"github.com/loadrig/loadrig/internal/domain"
	"github.com/loadrig/loadrig/internal/server"
)

// numCodes is the number of canonical gRPC codes (OK .. Unauthenticated).
const numCodes = 17

// methodStats counts the calls of one method.
type methodStats struct {
	calls, errors atomic.Int64
	nanos         atomic.Int64 // summed call duration
}

// accounting is the server's counters: a stats.Handler for connections,
// streams, messages and bytes, plus per-method, per-code and per-cache-status
// counts fed by the observe and cache interceptors. Every hot-path update is
// an atomic add on a counter found without locking (methods of the shop
// service are pre-registered).
type accounting struct {
	conns *server.ConnStats
	// lean: connections are counted by the listener and calls by the
	// observe interceptors; no stats.Handler is installed (Options.
	// ListenerAccounting).
	lean bool

	streamsActive, streamsTotal atomic.Int64
	msgsIn, msgsOut             atomic.Int64
	bytesIn, bytesOut           atomic.Int64
	wireIn, wireOut             atomic.Int64 // bytes read from / written to connections

	codes  [numCodes]atomic.Int64
	caches [domain.CacheBypass + 1]atomic.Int64

	known map[string]*methodStats // full method name -> stats; read-only after construction
	mu    sync.Mutex
	other map[string]*methodStats // reflection, health, unknown methods
}

func newAccounting(conns *server.ConnStats, sd grpc.ServiceDesc, lean bool) *accounting {
	a := &accounting{conns: conns, lean: lean, known: map[string]*methodStats{}, other: map[string]*methodStats{}}
	for _, m := range sd.Methods {
		a.known["/"+sd.ServiceName+"/"+m.MethodName] = new(methodStats)
	}
	for _, m := range sd.Streams {
		a.known["/"+sd.ServiceName+"/"+m.StreamName] = new(methodStats)
	}
	return a
}

func (a *accounting) method(full string) *methodStats {
	if m, ok := a.known[full]; ok {
		return m
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.other[full]
	if !ok {
		m = new(methodStats)
		a.other[full] = m
	}
	return m
}

// begin and end count a call's life when no stats.Handler does.
func (a *accounting) begin() {
	if a.lean {
		a.streamsActive.Add(1)
		a.streamsTotal.Add(1)
	}
}

func (a *accounting) end() {
	if a.lean {
		a.streamsActive.Add(-1)
	}
}

// record counts one finished call.
func (a *accounting) record(full string, c codes.Code, d time.Duration) {
	m := a.method(full)
	m.calls.Add(1)
	m.nanos.Add(int64(d))
	if c != codes.OK {
		m.errors.Add(1)
	}
	if int(c) < numCodes {
		a.codes[c].Add(1)
	}
}

func (a *accounting) cache(s domain.CacheStatus) {
	if s >= 0 && int(s) < len(a.caches) {
		a.caches[s].Add(1)
	}
}

// TagRPC implements stats.Handler.
func (a *accounting) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC implements stats.Handler: stream (call) life and payloads.
func (a *accounting) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s := s.(type) {
	case *stats.Begin:
		a.streamsActive.Add(1)
		a.streamsTotal.Add(1)
	case *stats.End:
		a.streamsActive.Add(-1)
	case *stats.InPayload:
		a.msgsIn.Add(1)
		a.bytesIn.Add(int64(s.WireLength))
	case *stats.OutPayload:
		a.msgsOut.Add(1)
		a.bytesOut.Add(int64(s.WireLength))
	}
}

// TagConn implements stats.Handler.
func (a *accounting) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler: connection open and close.
func (a *accounting) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		a.conns.Opened()
	case *stats.ConnEnd:
		a.conns.Closed()
	}
}

func methodSnapshot(m *methodStats) map[string]any {
	calls := m.calls.Load()
	mean := 0.0
	if calls > 0 {
		mean = float64(m.nanos.Load()) / float64(calls) / 1e3
	}
	return map[string]any{"calls": calls, "errors": m.errors.Load(), "mean_us": mean}
}

// Stats is the server's /stats document: connections, streams, wire bytes
// (read and written on the connections, HTTP/2 framing included), messages
// and payload bytes (stats.Handler accounting only), calls per ShopService
// method (rpcs)
// and per other method (rpcs_other), calls per status code,
// the x-cache statuses sent, and the Options.ExtraStats sections.
func (s *Server) Stats() map[string]any {
	a := s.acct
	rpcs := map[string]any{}
	for name, m := range a.known {
		rpcs[shortMethod(name)] = methodSnapshot(m)
	}
	// Other services (health, reflection, unknown methods) get a flat
	// calls count keyed by full method name: Prometheus sees it as one
	// gauge with a "key" label.
	other := map[string]any{}
	a.mu.Lock()
	for name, m := range a.other {
		other[name] = m.calls.Load()
	}
	a.mu.Unlock()
	cs := map[string]any{}
	for i := range a.codes {
		if n := a.codes[i].Load(); n > 0 {
			cs[codes.Code(i).String()] = n
		}
	}
	xc := map[string]any{}
	for i := range a.caches {
		st := domain.CacheStatus(i)
		name := st.String()
		if st == domain.CacheNone {
			name = "NONE"
		}
		xc[name] = a.caches[i].Load()
	}
	out := map[string]any{
		"server":      "grpc",
		"connections": a.conns.Snapshot(),
		"streams":     map[string]any{"active": a.streamsActive.Load(), "total": a.streamsTotal.Load()},
		"wire_bytes":  map[string]any{"received": a.wireIn.Load(), "sent": a.wireOut.Load()},
		"accounting":  map[bool]string{false: "stats_handler", true: "listener"}[a.lean],
		"rpcs":        rpcs,
		"rpcs_other":  other,
		"codes":       cs,
		"panics":      s.recov.panics.Load(),
		"x_cache":     xc,
	}
	if !a.lean {
		// Payload counts come from the stats.Handler only.
		out["messages"] = map[string]any{"received": a.msgsIn.Load(), "sent": a.msgsOut.Load()}
		out["bytes"] = map[string]any{"received": a.bytesIn.Load(), "sent": a.bytesOut.Load()}
	}
	if s.lim != nil {
		out["rate_limit_grpc"] = map[string]any{"limited": s.lim.limited.Load(), "limiter_errors": s.lim.failures.Load()}
	}
	if s.opts.ExtraStats != nil {
		for k, v := range s.opts.ExtraStats() {
			out[k] = v
		}
	}
	return out
}

// shortMethod turns "/loadrig.v1.ShopService/GetProduct" into "GetProduct".
func shortMethod(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}

// AdminHandler serves the admin endpoints for --admin-addr: GET /stats
// (JSON), GET /metrics (Prometheus text, every numeric /stats leaf as a
// loadrig_* gauge) and GET /healthz.
func (s *Server) AdminHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(server.StatsCollector("loadrig", s.Stats))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Stats())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// countingListener counts accepted connections (when lean) and the bytes
// every connection reads and writes.
type countingListener struct {
	net.Listener
	a *accounting
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.a.lean {
		l.a.conns.Opened()
	}
	return &countingConn{Conn: c, a: l.a}, nil
}

type countingConn struct {
	net.Conn
	a    *accounting
	once sync.Once
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.a.wireIn.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.a.wireOut.Add(int64(n))
	return n, err
}

func (c *countingConn) Close() error {
	if c.a.lean {
		c.once.Do(c.a.conns.Closed)
	}
	return c.Conn.Close()
}
