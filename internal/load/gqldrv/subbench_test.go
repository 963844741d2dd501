//go:build unix

package gqldrv

// The subscription fan-out benchmark of the README's design notes (section
// GraphQL). Opt-in, it runs only with LOADRIG_GQL_SUB_BENCH=1:
//
//	LOADRIG_GQL_SUB_BENCH=1 go test -run TestBenchGraphQLSubscriptions -v -timeout 10m ./internal/load/gqldrv
//
// N subscribers (LOADRIG_GQL_SUB_BENCH_N, default 1000) hold
// productUpdated(id: 1) while a publisher sends updateProduct at R per
// second (LOADRIG_GQL_SUB_BENCH_RATE, default 10; an open model: each
// mutation at its intended time, up to 16 in flight, so every server gets
// the same event rate) for the window (LOADRIG_GQL_SUB_BENCH_HOLD, default
// 20s), all through this package's driver, against three servers in turn,
// ROUNDS times each, alternating (LOADRIG_GQL_SUB_BENCH_ROUNDS, default 2):
//
//   - a bare coder/websocket broadcast: the chat example's hub speaking
//     just enough graphql-transport-ws (ack, subscribe, next), which
//     answers the same mutation by sending every subscriber one message of
//     the same shape and size, stamped with emittedAt when it arrives;
//   - loadrig's GraphQL server with gql.Options.NoMultiplex (gqlgen over
//     the stack: the mutation writes the store through the cache layer,
//     the broker fans the event out, gqlgen resolves and marshals it per
//     subscriber);
//   - loadrig's GraphQL server as it ships: subscribers of one operation
//     share one execution per event (mux.go in internal/server/gql).
//
// LOADRIG_GQL_SUB_BENCH_PROFILE=DIR writes a CPU profile of each round.
// Latency is each event's arrival minus its emittedAt (one clock: one
// process). Server and clients share this process and the machine's cores.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

const (
	benchSubQuery   = `subscription { productUpdated(id: 1) { kind product { id name price stock version } emittedAt } }`
	benchSubPublish = `mutation($s: Int!) { updateProduct(id: 1, input: {stock: $s}) { id } }`
)

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// bareSubHub is the coder/websocket chat example's hub (a 16-message
// channel per subscriber, a writer loop with a 5 s write timeout, a full
// channel closes the subscriber) with the graphql-transport-ws handshake.
type bareSubHub struct {
	// event is a message loadrig's server sent for this subscription; the
	// hub sends it with emittedAt restamped (the same bytes otherwise).
	before, after []byte
	mu            sync.Mutex
	subs          map[chan []byte]struct{}
	version       atomic.Int64
	slow          atomic.Int64
}

func (h *bareSubHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		h.publish(w, r)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	if _, _, err := c.Read(ctx); err != nil { // connection_init
		return
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_ack"}`)); err != nil {
		return
	}
	if _, _, err := c.Read(ctx); err != nil { // subscribe, id "1"
		return
	}
	ch := make(chan []byte, 16)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	defer func() { h.mu.Lock(); delete(h.subs, ch); h.mu.Unlock() }()
	// The reader: complete (or any message, or the close) ends the session.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		_, _, _ = c.Read(rctx)
	}()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				c.Close(websocket.StatusPolicyViolation, "slow")
				return
			}
			wctx, wcancel := context.WithTimeout(rctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, m)
			wcancel()
			if err != nil {
				return
			}
		case <-rctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

// publish encodes the event once, stamped now, and queues the same bytes
// on every subscriber.
func (h *bareSubHub) publish(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	h.version.Add(1)
	msg := append(append(append([]byte(nil), h.before...), time.Now().UTC().Format(time.RFC3339Nano)...), h.after...)
	h.mu.Lock()
	for ch := range h.subs {
		select {
		case ch <- msg:
		default:
			// The chat example closes a slow subscriber.
			delete(h.subs, ch)
			close(ch)
			h.slow.Add(1)
		}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data":{"updateProduct":{"id":"1"}}}`))
}

type benchSubServer struct {
	url   string
	token string
	close func()
	// dropped is how many subscribers the server dropped as slow.
	dropped func() int64
}

func startBenchHTTP(t *testing.T, h http.Handler) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/graphql", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}
}

func startLoadrigSubServer(t *testing.T) benchSubServer { return startLoadrigSub(t, false) }

// startLoadrigSub starts loadrig's GraphQL server; noMux runs every
// subscription on its own execution (gql.Options.NoMultiplex).
func startLoadrigSub(t *testing.T, noMux bool) benchSubServer {
	t.Helper()
	st, err := stack.New(context.Background(), stack.Config{Cache: "lru"})
	if err != nil {
		t.Fatal(err)
	}
	h := gql.NewHandler(gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Stats: st.Stats, Options: gql.Options{DataLoader: true, NoMultiplex: noMux}})
	tok, err := st.Auth.Issue(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := startBenchHTTP(t, h)
	return benchSubServer{url: url, token: tok.Value, close: func() { stop(); _ = st.Close(context.Background()) },
		dropped: func() int64 {
			n, _ := h.GraphQLStats()["subscriptions"].(map[string]any)["dropped"].(int64)
			return n
		}}
}

func startBareSubServer(t *testing.T, event []byte) benchSubServer {
	t.Helper()
	key := []byte(`"emittedAt":"`)
	i := bytes.Index(event, key)
	if i < 0 {
		t.Fatalf("event without emittedAt: %s", event)
	}
	i += len(key)
	j := bytes.IndexByte(event[i:], '"')
	if j < 0 {
		t.Fatalf("event: %s", event)
	}
	h := &bareSubHub{subs: map[chan []byte]struct{}{}, before: event[:i], after: event[i+j:]}
	url, stop := startBenchHTTP(t, h)
	return benchSubServer{url: url, token: "bare", close: stop, dropped: h.slow.Load}
}

// benchSubRun holds n subscribers for hold while the publisher sends at
// rate, as `loadrig load graphql --subscribers n --ramp … --publish …` does.
func benchSubRun(t *testing.T, s benchSubServer, n, rate int, hold time.Duration) *metrics.Result {
	t.Helper()
	d, err := New(Options{
		URL: s.url, Query: benchSubQuery, Subscribers: n, Ramp: 1000, Hold: hold,
		Publish: benchSubPublish, PublishVariables: `{"s": {{randInt 1 1000}}}`, PublishRate: float64(rate),
		HTTP: httpdrv.Options{Headers: []string{"Authorization: Bearer " + s.token}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := load.Run(t.Context(), d, load.Config{Rate: 1000, Arrivals: int64(n), MaxInflight: n, Duration: hold, Timeout: 10 * time.Second, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// captureEvent subscribes once to loadrig's server, publishes once and
// returns the event message as it came over the wire.
func captureEvent(t *testing.T) []byte {
	t.Helper()
	s := startLoadrigSubServer(t)
	defer s.close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": benchSubQuery}})
	for _, m := range [][]byte{[]byte(`{"type":"connection_init"}`), nil, sub} {
		if m == nil {
			if _, _, err := c.Read(ctx); err != nil { // connection_ack
				t.Fatal(err)
			}
			continue
		}
		if err := c.Write(ctx, websocket.MessageText, m); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		// Publish until the event arrives (the subscription registers
		// asynchronously).
		for ctx.Err() == nil {
			body := strings.NewReader(`{"query": "mutation { updateProduct(id: 1, input: {stock: 7}) { id } }"}`)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"next"`)) {
			return b
		}
	}
}

// benchCPU is the process's user+system CPU time so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestBenchGraphQLSubscriptions(t *testing.T) {
	if os.Getenv("LOADRIG_GQL_SUB_BENCH") != "1" {
		t.Skip("set LOADRIG_GQL_SUB_BENCH=1 to run the subscription fan-out benchmark")
	}
	n := benchEnv("LOADRIG_GQL_SUB_BENCH_N", 1000)
	rate := benchEnv("LOADRIG_GQL_SUB_BENCH_RATE", 10)
	hold := time.Duration(benchEnv("LOADRIG_GQL_SUB_BENCH_HOLD", 20)) * time.Second
	rounds := benchEnv("LOADRIG_GQL_SUB_BENCH_ROUNDS", 2)
	t.Logf("%d subscribers, %d events/s, %v window, %d rounds per server, alternating", n, rate, hold, rounds)

	type side struct {
		name  string
		start func(*testing.T) benchSubServer
		p99s  []int64
	}
	event := captureEvent(t)
	t.Logf("one event as loadrig's server sends it (%d bytes; the bare hub sends it restamped): %s", len(event), event)
	sides := []*side{
		{name: "bare coder/websocket", start: func(t *testing.T) benchSubServer { return startBareSubServer(t, event) }},
		{name: "loadrig, per subscriber", start: func(t *testing.T) benchSubServer { return startLoadrigSub(t, true) }},
		{name: "loadrig, multiplexed", start: startLoadrigSubServer},
	}
	pubs := make([][]int64, len(sides))
	profDir := os.Getenv("LOADRIG_GQL_SUB_BENCH_PROFILE")
	for r := range rounds {
		for si, sd := range sides {
			s := sd.start(t)
			if profDir != "" {
				f, err := os.Create(filepath.Join(profDir, fmt.Sprintf("%s-%d.cpu", strings.NewReplacer(" ", "-", "/", "-").Replace(sd.name), r+1)))
				if err != nil {
					t.Fatal(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					t.Fatal(err)
				}
				defer f.Close()
			}
			cpu0 := benchCPU()
			res := benchSubRun(t, s, n, rate, hold)
			cpu := benchCPU() - cpu0
			if profDir != "" {
				pprof.StopCPUProfile()
			}
			dropped := s.dropped()
			s.close()
			sub, ml := res.Subscriptions, res.MessageLatency
			if sub == nil || ml == nil || res.Messages == nil || res.Messages.Received == 0 {
				t.Fatalf("%s round %d: no events: requests %+v subscriptions %+v", sd.name, r+1, res.Requests, sub)
			}
			perMsg := 0.0
			if res.Bytes != nil {
				perMsg = float64(res.Bytes.Received) / float64(res.Messages.Received)
			}
			t.Logf("round %d %-22s subscribed %d, published %d (%d sent late), expected %d, received %d (%.4f; %.4f of published × subscribed), not received %d, subscribers the server dropped as slow %d, latency p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms, %.0f B received per event, process CPU %.1fs (%.0f µs per delivered event, clients and server), handshake through ack p50 %.1fms p99 %.1fms, session errors %v",
				r+1, sd.name, sub.Subscribers, sub.Published, sub.PublishLate, sub.Expected, sub.Received, sub.DeliveryRatio, float64(sub.Received)/float64(max(sub.Published*sub.Subscribers, 1)), sub.Drops, dropped,
				float64(ml.P50)/1e3, float64(ml.P90)/1e3, float64(ml.P99)/1e3, float64(ml.Max)/1e3, perMsg,
				cpu.Seconds(), float64(cpu.Microseconds())/float64(res.Messages.Received),
				float64(res.Phases["handshake"].P50)/1e3, float64(res.Phases["handshake"].P99)/1e3, res.Requests.ErrorsByKind)
			sd.p99s = append(sd.p99s, ml.P99)
			pubs[si] = append(pubs[si], sub.Published)
		}
	}
	for si := 1; si < len(sides); si++ {
		var line []string
		for i := range sides[0].p99s {
			line = append(line, fmt.Sprintf("%.2f× (published %d vs %d)", float64(sides[si].p99s[i])/float64(max(sides[0].p99s[i], 1)), pubs[si][i], pubs[0][i]))
		}
		t.Logf("p99 %s ÷ bare, per round: %s", sides[si].name, strings.Join(line, ", "))
	}
}
