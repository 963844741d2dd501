package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
)

// hangGuard bounds every wait of the two-process test. It is no speed
// assertion: on a healthy machine each wait ends in milliseconds.
const hangGuard = 20 * time.Second

// TestWSTwoProcessesShareRedis runs two real `loadrig serve ws` processes
// on one real redis-server, one LOADRIG_JWT_SECRET in their environment,
// and talks to them with real coder/websocket clients: rooms, private
// messages, presence and notifications cross the nodes, a token from one
// node's login is accepted by the other, resume on the other node gives
// exactly the missed seqs, and two senders on different nodes reach
// receivers on both nodes in one strictly increasing seq order. Then the
// redis-server is killed: both nodes keep delivering locally (no 5xx, no
// crash) and count ws.redis.errors; restarted on the same socket, delivery
// crosses again. Once over PUBLISH/PSUBSCRIBE, once with --redis-sharded.
func TestWSTwoProcessesShareRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the loadrig binary")
	}
	redistest.Require(t, "redis-server")
	loadrigBinary(t) // built once, outside the subtests' clocks
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) { testTwoProcesses(t, sharded) })
	}
}

func testTwoProcesses(t *testing.T, sharded bool) {
	start := time.Now()
	rin, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rin.Close()
	redistest.RequireSpawned(t, rin)

	var key [32]byte
	_, _ = rand.Read(key[:])
	env := []string{"LOADRIG_JWT_SECRET=" + hex.EncodeToString(key[:])}
	args := []string{"serve", "ws", "--addr", "127.0.0.1:0", "--redis-url", rin.URL(),
		"--tick-rate", "0", "--msg-rate", "10000", "--msg-burst", "10000"}
	if sharded {
		args = append(args, "--redis-sharded")
	}
	na := startProcEnv(t, env, args...)
	nb := startProcEnv(t, env, args...)
	for _, p := range []*proc{na, nb} {
		waitHealthy(t, p)
	}
	t.Logf("%v: both nodes healthy", time.Since(start))

	// Every token comes from node A's login; node B accepts them.
	tok := map[int64]string{}
	for u := int64(1); u <= 5; u++ {
		tok[u] = loginUser(t, na.url, u)
	}
	if code, _, body := call(t, "POST", nb.url+"/api/notifications", tok[1], map[string]any{"user_id": 5, "text": "probe"}); code != http.StatusAccepted {
		t.Fatalf("node B refused node A's token: %d %s", code, body)
	}

	// ---- a room across nodes, private messages, presence ----
	a1 := dialWS(t, na, "/ws/chat", tok[1], "a1") // user 1 on A
	b1 := dialWS(t, nb, "/ws/chat", tok[1], "b1") // user 1 on B too
	b2 := dialWS(t, nb, "/ws/chat", tok[2], "b2") // user 2 on B
	a3 := dialWS(t, na, "/ws/chat", tok[3], "a3") // user 3 on A
	a1.join("r")
	b1.join("r")
	// A joiner on B is told who is in the room on either node.
	b2.send(map[string]any{"type": "join", "room": "r"})
	online := map[int64]bool{}
	for e := b2.next(); e.Type != "ack"; e = b2.next() {
		if u, st := presenceOf(t, e); st == "online" {
			online[u] = true
		}
	}
	if !online[1] || len(online) != 1 {
		t.Fatalf("node B joiner's presence list %v, want user 1 (on both nodes)", online)
	}
	a1.waitPresence(2, "online") // node B's join reaches node A
	a3.join("r")
	b2.waitPresence(3, "online")

	// A room message posted on A reaches B's members with its seq; the
	// sender's ack carries the same seq.
	a1.send(map[string]any{"type": "msg", "id": 1, "room": "r", "data": map[string]string{"text": "hello"}})
	ack := a1.expect("ack")
	if ack.Seq <= 0 {
		t.Fatalf("ack without a seq: %+v", ack)
	}
	for _, c := range []*wsClient{b1, b2, a3} {
		if e := c.expect("msg"); e.Seq != ack.Seq || textOf(e) != "hello" {
			t.Fatalf("%s got %+v, want seq %d hello", c.name, e, ack.Seq)
		}
	}

	// A private message reaches every connection of its recipient, on
	// both nodes.
	b2.send(map[string]any{"type": "pm", "to": 1, "data": map[string]string{"text": "psst"}})
	b2.expect("ack")
	for _, c := range []*wsClient{a1, b1} {
		if e := c.expect("pm"); textOf(e) != "psst" || e.To != 1 {
			t.Fatalf("%s pm %+v", c.name, e)
		}
	}
	a3.quiet(200 * time.Millisecond) // nobody else gets it

	// ---- notifications pushed on A reach B; resume on B ----
	n4 := dialWS(t, nb, "/ws/notifications", tok[4], "n4")
	n4.listening()
	var last int64
	for i := range 2 {
		code, _, body := call(t, "POST", na.url+"/api/notifications", tok[1], map[string]any{"user_id": 4, "text": fmt.Sprint("n", i)})
		if code != http.StatusAccepted {
			t.Fatalf("POST /api/notifications on A: %d %s", code, body)
		}
		e := n4.expect("notification")
		if textOf(e) != fmt.Sprint("n", i) || e.Seq <= last {
			t.Fatalf("notification on B %+v after seq %d", e, last)
		}
		last = e.Seq
	}
	n4.close()
	var missed []int64
	for i := range 3 {
		code, body := postSeq(t, na.url+"/api/notifications", tok[1], map[string]any{"user_id": 4, "text": fmt.Sprint("missed", i)})
		if code != http.StatusAccepted || body <= 0 {
			t.Fatalf("POST /api/notifications on A: %d seq %d", code, body)
		}
		missed = append(missed, body)
	}
	n4 = dialWS(t, nb, "/ws/notifications", tok[4], "n4 again")
	n4.listening()
	n4.send(map[string]any{"type": "resume", "seq": last})
	for i, want := range missed {
		if e := n4.expect("notification"); e.Seq != want || textOf(e) != fmt.Sprint("missed", i) {
			t.Fatalf("resume on B gave %+v, want seq %d", e, want)
		}
	}
	n4.quiet(200 * time.Millisecond) // exactly the missed ones

	// Chat resume on B: b2 leaves with the last seq it saw, misses three
	// messages from A, and a new connection on B resumes from there.
	lastB2 := ack.Seq
	b2.close()
	var sent []int64
	for i := range 3 {
		a1.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": fmt.Sprint("while away ", i)}})
		sent = append(sent, a1.expect("ack").Seq)
		if e := a3.expect("msg"); e.Seq != sent[i] {
			t.Fatalf("a3 got %+v, want seq %d", e, sent[i])
		}
	}
	b2 = dialWS(t, nb, "/ws/chat", tok[2], "b2 again")
	b2.join("r") // history: every message so far
	for e := b2.expect("msg"); e.Seq != sent[2]; e = b2.expect("msg") {
	}
	b2.send(map[string]any{"type": "resume", "room": "r", "seq": lastB2})
	for _, want := range sent {
		if e := b2.expect("msg"); e.Seq != want {
			t.Fatalf("chat resume on B gave seq %d, want %d", e.Seq, want)
		}
	}
	b2.quiet(200 * time.Millisecond)

	t.Logf("%v: rooms, pm, presence, notifications, resume done", time.Since(start))
	// ---- cross-node order: one sender per node, receivers on both ----
	testCrossNodeOrder(t, na, nb, tok)

	// ---- presence: offline only when the last connection anywhere leaves ----
	b1.close()
	a3.quiet(300 * time.Millisecond) // user 1 is still on A: no offline
	a1.close()
	b2.waitPresence(1, "offline")
	a3.waitPresence(1, "offline")

	t.Logf("%v: cross-node order, offline done", time.Since(start))
	// ---- Redis killed mid-test ----
	a1 = dialWS(t, na, "/ws/chat", tok[1], "a1 again")
	a1.join("r")
	for e := a1.expect("msg"); e.Seq != sent[2]; e = a1.expect("msg") { // history
	}
	a3.waitPresence(1, "online")
	b2.waitPresence(1, "online")
	n4a := dialWS(t, na, "/ws/notifications", tok[4], "n4 on A")
	n4a.listening()
	errsBefore := redisErrors(t, na) + redisErrors(t, nb)
	rin.Kill()
	for i := range 3 {
		a1.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": fmt.Sprint("down a", i)}})
		if e := a1.expect("ack"); e.Seq != 0 {
			t.Fatalf("seq %d with Redis down", e.Seq)
		}
		if e := a3.expect("msg"); textOf(e) != fmt.Sprint("down a", i) {
			t.Fatalf("local delivery on A with Redis down: %+v", e)
		}
		b2.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": fmt.Sprint("down b", i)}})
		b2.expect("ack")
		code, seq := postSeq(t, na.url+"/api/notifications", tok[1], map[string]any{"user_id": 4, "text": fmt.Sprint("down", i)})
		if code != http.StatusAccepted || seq != 0 {
			t.Fatalf("POST /api/notifications with Redis down: %d seq %d, want 202 without a seq", code, seq)
		}
		if e := n4a.expect("notification"); textOf(e) != fmt.Sprint("down", i) {
			t.Fatalf("local notification with Redis down: %+v", e)
		}
	}
	for _, p := range []*proc{na, nb} {
		if code, _, body := call(t, "GET", p.url+"/healthz", "", nil); code != http.StatusOK {
			t.Fatalf("/healthz with Redis down: %d %s", code, body)
		}
	}
	if after := redisErrors(t, na) + redisErrors(t, nb); after <= errsBefore {
		t.Fatalf("ws.redis.errors %d -> %d while Redis was down", errsBefore, after)
	}

	t.Logf("%v: Redis killed, local delivery checked", time.Since(start))
	if err := rin.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Cross-node delivery resumes once the relays have subscribed again.
	deadline := time.Now().Add(hangGuard)
	for i := 0; ; i++ {
		want := fmt.Sprint("up", i)
		a1.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": want}})
		a1.expect("ack")
		if b2.waitText(want, 300*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cross-node delivery %v after Redis came back; node A:\n%s\nnode B:\n%s", hangGuard, na.log(), nb.log())
		}
	}
	for _, p := range []*proc{na, nb} {
		if p.cmd.ProcessState != nil {
			t.Fatalf("%s exited: %s", p.url, p.log())
		}
	}
}

// testCrossNodeOrder: a sender on each node posts into one room at once;
// receivers on both nodes must see every message once, in strictly
// increasing seq order, and each sender's acks increase too.
func testCrossNodeOrder(t *testing.T, na, nb *proc, tok map[int64]string) {
	t.Helper()
	const perSender = 150
	sa := dialWS(t, na, "/ws/chat", tok[1], "sender A")
	sb := dialWS(t, nb, "/ws/chat", tok[2], "sender B")
	ra := dialWS(t, na, "/ws/chat", tok[3], "receiver A")
	rb := dialWS(t, nb, "/ws/chat", tok[4], "receiver B")
	for _, c := range []*wsClient{sa, sb, ra, rb} {
		c.join("o")
	}
	// Every join is known on both nodes before the senders start (the
	// last joiner's presence has crossed).
	ra.waitPresence(4, "online")
	var wg sync.WaitGroup
	for _, s := range []*wsClient{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				s.send(map[string]any{"type": "msg", "id": i, "room": "o", "data": map[string]string{"text": s.name}})
			}
		}()
	}
	wg.Wait()
	for _, s := range []*wsClient{sa, sb} {
		prev := int64(0)
		for range perSender {
			e := s.expectSkipping("ack", "msg")
			if e.Seq <= prev {
				t.Fatalf("%s: ack seq %d after %d", s.name, e.Seq, prev)
			}
			prev = e.Seq
		}
	}
	for _, r := range []*wsClient{ra, rb} {
		prev := int64(0)
		for i := range 2 * perSender {
			e := r.expect("msg")
			if e.Seq <= prev {
				t.Fatalf("%s: message %d has seq %d after seq %d: two nodes' messages in one room reached it out of seq order", r.name, i, e.Seq, prev)
			}
			prev = e.Seq
		}
		r.quiet(200 * time.Millisecond)
	}
	for _, c := range []*wsClient{sa, sb, ra, rb} {
		c.close()
	}
}

// waitHealthy polls /healthz until it answers 200.
func waitHealthy(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		code, _, _ := call(t, "GET", p.url+"/healthz", "", nil)
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz never answered 200: %s", p.url, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loginUser(t *testing.T, base string, user int64) string {
	t.Helper()
	code, _, b := call(t, "POST", base+"/api/login", "", map[string]string{"email": fmt.Sprintf("user%d@example.com", user), "password": "loadrig"})
	var out struct {
		Token  string `json:"token"`
		UserID int64  `json:"user_id"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Token == "" || out.UserID != user {
		t.Fatalf("login user %d: %d %s", user, code, b)
	}
	return out.Token
}

// postSeq POSTs body and returns the status and the reply's seq.
func postSeq(t *testing.T, url, token string, body any) (int, int64) {
	t.Helper()
	code, _, b := call(t, "POST", url, token, body)
	var out struct {
		Seq int64 `json:"seq"`
	}
	_ = json.Unmarshal(b, &out)
	return code, out.Seq
}

func redisErrors(t *testing.T, p *proc) int64 {
	t.Helper()
	code, _, b := call(t, "GET", p.url+"/stats", "", nil)
	var st struct {
		WS struct {
			Redis struct {
				Errors int64 `json:"errors"`
			} `json:"redis"`
		} `json:"ws"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &st) != nil {
		t.Fatalf("%s/stats: %d %s", p.url, code, b)
	}
	return st.WS.Redis.Errors
}

// wsEnv is the part of the envelope the test reads.
type wsEnv struct {
	Type string          `json:"type"`
	Room string          `json:"room"`
	To   int64           `json:"to"`
	Seq  int64           `json:"seq"`
	Data json.RawMessage `json:"data"`
}

func textOf(e wsEnv) string {
	var d struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.Text
}

func presenceOf(t *testing.T, e wsEnv) (int64, string) {
	t.Helper()
	if e.Type != "presence" {
		return 0, ""
	}
	var d struct {
		UserID int64  `json:"user_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("presence %s: %v", e.Data, err)
	}
	return d.UserID, d.Status
}

// wsClient is a real coder/websocket client; a goroutine reads every frame
// into in.
type wsClient struct {
	t    *testing.T
	name string
	c    *websocket.Conn
	in   chan wsEnv
	wmu  sync.Mutex
}

func dialWS(t *testing.T, p *proc, path, token, name string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	u := "ws" + strings.TrimPrefix(p.url, "http") + path
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, u, err, code)
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{t: t, name: name, c: c, in: make(chan wsEnv, 4096)}
	t.Cleanup(func() { _ = c.CloseNow() })
	go func() {
		defer close(w.in)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var e wsEnv
			if json.Unmarshal(b, &e) != nil {
				e.Type = "undecodable: " + string(b)
			}
			w.in <- e
		}
	}()
	return w
}

func (w *wsClient) send(v any) {
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Errorf("%s: write: %v", w.name, err)
	}
}

func (w *wsClient) close() { _ = w.c.Close(websocket.StatusNormalClosure, "") }

// next is the next frame (hang guard).
func (w *wsClient) next() wsEnv {
	w.t.Helper()
	select {
	case e, ok := <-w.in:
		if !ok {
			w.t.Fatalf("%s: connection closed", w.name)
		}
		return e
	case <-time.After(hangGuard):
		w.t.Fatalf("%s: nothing received in %v", w.name, hangGuard)
		return wsEnv{}
	}
}

// expect is the next frame other than presence, which must be typ.
func (w *wsClient) expect(typ string) wsEnv { w.t.Helper(); return w.expectSkipping(typ) }

// expectSkipping is the next frame of type typ, skipping presence and the
// types in skip.
func (w *wsClient) expectSkipping(typ string, skip ...string) wsEnv {
	w.t.Helper()
	for {
		e := w.next()
		if e.Type == typ {
			return e
		}
		if e.Type == "presence" || slices.Contains(skip, e.Type) {
			continue
		}
		w.t.Fatalf("%s: got %s %+v (%s), want %s", w.name, e.Type, e, e.Data, typ)
	}
}

// listening returns once a /ws/notifications connection is subscribed:
// its read loop, which starts after the subscription, answers a frame it
// does not take with an error.
func (w *wsClient) listening() {
	w.t.Helper()
	w.send(map[string]any{"type": "join", "room": "x"})
	w.expect("error")
}

// join joins room and reads up to its ack (presence before it is skipped).
func (w *wsClient) join(room string) {
	w.t.Helper()
	w.send(map[string]any{"type": "join", "room": room})
	w.expect("ack")
}

// waitPresence reads until user's presence status arrives, skipping
// everything else.
func (w *wsClient) waitPresence(user int64, status string) {
	w.t.Helper()
	for {
		if u, st := presenceOf(w.t, w.next()); u == user && st == status {
			return
		}
	}
}

// waitText reads for up to d until a msg with text arrives.
func (w *wsClient) waitText(text string, d time.Duration) bool {
	w.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-w.in:
			if !ok {
				w.t.Fatalf("%s: connection closed", w.name)
			}
			if e.Type == "msg" && textOf(e) == text {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// quiet fails if anything but presence arrives within d.
func (w *wsClient) quiet(d time.Duration) {
	w.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-w.in:
			if ok && e.Type != "presence" {
				w.t.Fatalf("%s: unexpected %s %+v (%s)", w.name, e.Type, e, e.Data)
			}
		case <-timeout:
			return
		}
	}
}
