package ws

// The WebSocket server benchmarks of the README's design notes. They run
// only with LOADRIG_WS_BENCH=1, as two processes: this test binary starts
// itself again as the server (TestBenchServerProcess, pinned with taskset
// when LOADRIG_WS_BENCH_CPUS is set) and drives it from here.
//
//	LOADRIG_WS_BENCH=1 go test -run TestBenchWS -v -timeout 20m ./internal/server/ws
//
// Knobs: LOADRIG_WS_BENCH_N (broadcast connection steps, default
// 1000,2000,5000,10000), LOADRIG_WS_BENCH_STEP=1 (then +1,000 a step until
// p99 passes 250 ms), LOADRIG_WS_BENCH_IDLE (idle connections, default
// 5000; 0 skips), LOADRIG_WS_BENCH_ECHO=0 (skips echo),
// LOADRIG_WS_BENCH_PPROF=DIR (server CPU profiles of the broadcasts and
// heap profiles of the idle connections).
// The driver's side is pinned by running the test under taskset:
//
//	LOADRIG_WS_BENCH=1 LOADRIG_WS_BENCH_CPUS=0 taskset -c 1 go test -run TestBenchWS -v -timeout 30m ./internal/server/ws

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/server"
)

// bareHub is the coder/websocket chat example's server shape, the
// baseline: Accept, CloseRead, a 16-message channel per subscriber, a
// writer loop with a 5 s write timeout, slow subscribers closed.
type bareHub struct {
	mu   sync.Mutex
	subs map[*bareSub]struct{}
}

type bareSub struct {
	msgs      chan []byte
	closeSlow func()
}

func (h *bareHub) subscribe(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx := c.CloseRead(context.Background())
	s := &bareSub{msgs: make(chan []byte, 16), closeSlow: func() { c.Close(websocket.StatusPolicyViolation, "slow") }}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer func() { h.mu.Lock(); delete(h.subs, s); h.mu.Unlock() }()
	for {
		select {
		case m := <-s.msgs:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, m)
			cancel()
			if err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// publish is the chat example's publish: one message to every
// subscriber, a full channel closes the subscriber. The message carries
// sts like ours.
func (h *bareHub) publish(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 8192))
	msg := AppendEnvelope(nil, &Envelope{Type: TypeMsg, Room: "bare", STS: Micros(time.Now()), Data: mustJSON(msgData{Text: string(b)})})
	h.mu.Lock()
	for s := range h.subs {
		select {
		case s.msgs <- msg:
		default:
			go s.closeSlow()
		}
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// bareEcho is the plainest coder/websocket echo server.
func bareEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, b); err != nil {
			return
		}
	}
}

// memNow is the server's heap and stack in use after a full GC, and its
// goroutines. With LOADRIG_WS_BENCH_PPROF=DIR and ?name=X it also writes
// the heap profile to DIR/heap-X.pprof (allocations sampled every 512
// bytes in the server process, so per-connection structures show).
func memNow(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if dir, name := os.Getenv("LOADRIG_WS_BENCH_PPROF"), r.URL.Query().Get("name"); dir != "" && name != "" {
		if f, err := os.Create(filepath.Join(dir, "heap-"+name+".pprof")); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	fmt.Fprintf(w, "%d %d %d", m.HeapInuse, m.StackInuse, runtime.NumGoroutine())
}

// cpuNow is the process's CPU time (user + system) in microseconds.
func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// TestBenchServerProcess is the server side: ours and the baselines on one
// listener, address on stdout, until stdin closes.
func TestBenchServerProcess(t *testing.T) {
	if os.Getenv("LOADRIG_WS_BENCH_SERVER") != "1" {
		t.Skip("the benchmark's server process")
	}
	if os.Getenv("LOADRIG_WS_BENCH_PPROF") != "" {
		runtime.MemProfileRate = 512
	}
	auth := server.NewJWT(server.JWTOptions{Key: testKey})
	// Pings every 10 min: the raw idle clients never answer them, and the
	// bare hub sends none.
	s := NewHandler(Options{Auth: auth, TickRate: -1, MaxConns: 1 << 20, PingInterval: 10 * time.Minute})
	hub := &bareHub{subs: map[*bareSub]struct{}{}}
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.HandleFunc("/bare/subscribe", hub.subscribe)
	mux.HandleFunc("/bare/echo", bareEcho)
	mux.HandleFunc("POST /bare/publish", hub.publish)
	mux.HandleFunc("/bench/mem", memNow)
	mux.HandleFunc("/bench/cpu", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, cpuNow()) })
	// LOADRIG_WS_BENCH_PPROF=DIR: a CPU profile of the broadcast rounds
	// (started and stopped by the driver) in DIR/server-N.pprof.
	var prof *os.File
	mux.HandleFunc("POST /bench/profile/{op}", func(w http.ResponseWriter, r *http.Request) {
		dir := os.Getenv("LOADRIG_WS_BENCH_PPROF")
		if dir == "" {
			return
		}
		if r.PathValue("op") == "start" {
			f, err := os.Create(filepath.Join(dir, "server-"+r.URL.Query().Get("name")+".pprof"))
			if err == nil && pprof.StartCPUProfile(f) == nil {
				prof = f
			}
			return
		}
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			prof = nil
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

type benchProc struct {
	cmd  *exec.Cmd
	addr string
	in   io.WriteCloser
}

func startBenchServer(t *testing.T) *benchProc {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestBenchServerProcess$", "-test.v=false"}
	if cpus := os.Getenv("LOADRIG_WS_BENCH_CPUS"); cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LOADRIG_WS_BENCH_SERVER=1", "GOMAXPROCS=1")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			p := &benchProc{cmd: cmd, addr: a, in: in}
			t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return p
		}
	}
	t.Fatal("server process did not start")
	return nil
}

func (p *benchProc) cpu(t *testing.T) int64 {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/bench/cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var us int64
	_, _ = fmt.Fscan(resp.Body, &us)
	return us
}

func (p *benchProc) profile(op, name string) {
	resp, err := http.Post("http://"+p.addr+"/bench/profile/"+op+"?name="+name, "", nil)
	if err == nil {
		resp.Body.Close()
	}
}

// mem is the server's heap and stack in use after a GC and its goroutines;
// name (optional) names the heap profile written with
// LOADRIG_WS_BENCH_PPROF.
func (p *benchProc) mem(t *testing.T, name string) (heap, stack, goroutines int64) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/bench/mem?name=" + url.QueryEscape(name))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = fmt.Fscan(resp.Body, &heap, &stack, &goroutines)
	return
}

// rawUpgrade opens a WebSocket with a hand-written handshake and holds the
// socket: the client side costs one fd and no goroutine, so the server's
// memory is what is measured.
func rawUpgrade(addr, path, token string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "101") {
		c.Close()
		return nil, fmt.Errorf("handshake: %q %v", line, err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if l == "\r\n" {
			return c, nil
		}
	}
}

func envInts(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func TestBenchWS(t *testing.T) {
	if os.Getenv("LOADRIG_WS_BENCH") != "1" {
		t.Skip("set LOADRIG_WS_BENCH=1 to run the WebSocket server benchmarks")
	}
	p := startBenchServer(t)
	tok, _ := server.NewJWT(server.JWTOptions{Key: testKey}).Issue(t.Context(), 1)

	// 1. Memory per idle connection: ours (/ws/chat, authenticated, and
	// /ws/echo) vs the bare chat-example hub, in the same server process.
	idle := 5000
	if v := envInts("LOADRIG_WS_BENCH_IDLE", nil); len(v) > 0 {
		idle = v[0]
	}
	idleCases := []struct{ name, path, token, prof string }{
		{"bare chat-example hub", "/bare/subscribe", "", "bare"},
		{"loadrig /ws/chat", "/ws/chat", tok.Value, "chat"},
		{"loadrig /ws/echo", "/ws/echo", "", "echo"},
		{"bare chat-example hub (again)", "/bare/subscribe", "", "bare2"},
	}
	if os.Getenv("LOADRIG_WS_BENCH_IDLE") == "0" {
		idleCases = nil
	}
	for _, c := range idleCases {
		h0, s0, g0 := p.mem(t, "")
		conns := make([]net.Conn, 0, idle)
		for range idle {
			cn, err := rawUpgrade(p.addr, c.path, c.token)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, cn)
		}
		time.Sleep(time.Second)
		h1, s1, g1 := p.mem(t, c.prof)
		per := func(a, b int64) float64 { return float64(b-a) / float64(idle) / 1024 }
		t.Logf("idle memory %-30s %d conns: %6.1f KiB heap+stack per connection (heap %.1f, stacks %.1f), %.1f goroutines per connection",
			c.name, idle, per(h0+s0, h1+s1), per(h0, h1), per(s0, s1), float64(g1-g0)/float64(idle))
		for _, cn := range conns {
			cn.Close()
		}
		time.Sleep(2 * time.Second)
	}

	// 2. Echo throughput: ours vs bare, 64 connections in lockstep, 64-byte
	// messages, 5 s each, twice in alternation.
	echo := func(path string) float64 {
		const conns, d = 64, 5 * time.Second
		var n atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
		defer cancel()
		cs := make([]*websocket.Conn, conns)
		for i := range cs {
			c, _, err := websocket.Dial(ctx, "ws://"+p.addr+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			cs[i] = c
		}
		msg := []byte(strings.Repeat("x", 64))
		var wg sync.WaitGroup
		start := time.Now()
		stop := start.Add(d)
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.CloseNow()
				for time.Now().Before(stop) {
					if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
						return
					}
					if _, _, err := c.Read(ctx); err != nil {
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	var ours, bare []float64
	for range 2 {
		if os.Getenv("LOADRIG_WS_BENCH_ECHO") == "0" {
			break
		}
		bare = append(bare, echo("/bare/echo"))
		ours = append(ours, echo("/ws/echo"))
	}
	if len(ours) == 2 {
		t.Logf("echo msgs/s (64 conns, 64 B, lockstep): bare %.0f %.0f, loadrig /ws/echo %.0f %.0f, ratio %.2f",
			bare[0], bare[1], ours[0], ours[1], (ours[0]+ours[1])/(bare[0]+bare[1]))
	}

	// 3. Broadcast: N connections in one room, one message a second posted
	// through REST, latency = arrival - sts.
	ns := envInts("LOADRIG_WS_BENCH_N", []int{1000, 2000, 5000, 10000})
	for _, n := range ns {
		broadcast(t, p, tok.Value, n, 10, true)
		broadcast(t, p, tok.Value, n, 10, false)
	}
	// LOADRIG_WS_BENCH_STEP=1: then +1,000 connections a step until the
	// p99 passes 250 ms or something is lost (bounded by the descriptor
	// limit: each side holds one per connection).
	if os.Getenv("LOADRIG_WS_BENCH_STEP") == "1" {
		var lim syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		for n := ns[len(ns)-1] + 1000; n+500 < int(lim.Cur); n += 1000 {
			if p99 := broadcast(t, p, tok.Value, n, 10, false); p99 > 250 {
				t.Logf("step: p99 passed 250 ms (or a message was lost) at %d connections", n)
				break
			}
		}
	}
}

var stsKey = []byte(`"sts":`)

// fieldInt reads the integer after key in b (0: absent).
func fieldInt(b, key []byte) int64 {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0
	}
	var n int64
	for _, c := range b[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// broadcast connects n clients (one room, or the bare hub), posts rounds
// messages a second apart and reports delivery, latency (arrival − sts)
// and the CPU each side spent over the rounds: CPU per broadcast is what
// a core of one's own would need, whatever the machine's load. It returns
// the p99 in ms.
func broadcast(t *testing.T, p *benchProc, token string, n, rounds int, bare bool) float64 {
	name, path, post := "loadrig /ws/chat", "/ws/chat", "/api/rooms/bench"+strconv.Itoa(n)+"/messages"
	if bare {
		name, path, post = "bare chat-example hub", "/bare/subscribe", "/bare/publish"
	}
	room := "bench" + strconv.Itoa(n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type rec struct {
		lat  []int64
		seqs int
	}
	recs := make([]rec, n)
	var ready, got sync.WaitGroup
	ready.Add(n)
	var failed atomic.Int64
	conns := make([]*websocket.Conn, n)
	for i := range n {
		c, _, err := websocket.Dial(ctx, "ws://"+p.addr+path, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
	}
	got.Add(n)
	for i, c := range conns {
		go func() {
			defer got.Done()
			joined := bare
			if bare {
				ready.Done()
			} else if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"`+room+`"}`)); err != nil {
				failed.Add(1)
				ready.Done()
				return
			}
			// The client does as little as it can, so one client core can
			// keep up with the server: a reused buffer, no context watch per
			// read (the connections are closed to end it), a byte scan
			// instead of JSON decoding.
			buf := make([]byte, 0, 512)
			for {
				b, err := readInto(c, buf)
				if err != nil {
					if !joined {
						ready.Done()
					}
					return
				}
				buf = b[:0]
				now := time.Now().UnixMicro()
				if !joined && bytes.HasPrefix(b, []byte(`{"type":"ack"`)) {
					joined = true
					ready.Done()
					continue
				}
				if !bytes.HasPrefix(b, []byte(`{"type":"msg"`)) {
					continue
				}
				if sts := fieldInt(b, stsKey); sts > 0 {
					recs[i].lat = append(recs[i].lat, now-sts)
					recs[i].seqs++
					if recs[i].seqs == rounds {
						return
					}
				}
			}
		}()
	}
	ready.Wait()
	profName := fmt.Sprintf("%s-%d", map[bool]string{true: "bare", false: "loadrig"}[bare], n)
	p.profile("start", profName)
	s0, d0 := p.cpu(t), cpuNow()
	for r := range rounds {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+post,
			strings.NewReader(`{"text":"broadcast `+strconv.Itoa(r)+`"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		time.Sleep(time.Second)
	}
	done := make(chan struct{})
	go func() { got.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
	s1, d1 := p.cpu(t), cpuNow()
	p.profile("stop", profName)
	var all []int64
	delivered := 0
	for _, c := range conns {
		c.CloseNow()
	}
	<-done // every reader has ended (CloseNow)
	for _, r := range recs {
		all = append(all, r.lat...)
		delivered += r.seqs
	}
	slices.Sort(all)
	q := func(f float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(f*float64(len(all))))]) / 1000
	}
	t.Logf("broadcast %-22s to %5d conns, %d rounds: delivered %d/%d, p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU per broadcast: server %.1f ms, driver %.1f ms",
		name, n, rounds, delivered, n*rounds, q(0.5), q(0.99), q(1),
		float64(s1-s0)/float64(rounds)/1000, float64(d1-d0)/float64(rounds)/1000)
	time.Sleep(2 * time.Second)
	if delivered < n*rounds {
		return math.Inf(1) // something lost fails the step
	}
	return q(0.99)
}

// readInto reads one message into buf (grown as needed) without a context
// watch: the caller ends reads by closing the connection.
func readInto(c *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := c.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	b := buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
