package ws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/domain"
)

func TestChat(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	a := ts.dial(t, "/ws/chat", 1)
	a2 := ts.dial(t, "/ws/chat", 1) // a second connection of user 1
	b := ts.dial(t, "/ws/chat", 2)

	for _, c := range []*client{a, a2, b} {
		c.send(map[string]any{"type": "join", "id": "j", "room": "lobby"})
		if e := c.expect(TypeAck); string(e.ID) != `"j"` || e.Room != "lobby" {
			t.Fatalf("join ack %+v", e)
		}
	}
	// b's join is announced to the room.
	for {
		e := a.next()
		if e.Type == TypePresence && strings.Contains(string(e.Data), `"user_id":2`) && strings.Contains(string(e.Data), "online") {
			break
		}
	}

	// msg: everyone but the sender; the sender gets an ack with the seq.
	a.send(map[string]any{"type": "msg", "id": 7, "room": "lobby", "ts": 123, "data": map[string]string{"text": "hello"}})
	ack := a.expect(TypeAck)
	if string(ack.ID) != "7" || ack.Seq != 1 || ack.TS != 123 {
		t.Fatalf("msg ack %+v", ack)
	}
	for _, c := range []*client{b, a2} {
		m := c.expect(TypeMsg)
		if m.Seq != 1 || m.Room != "lobby" || text(m) != "hello" || m.TS != 123 || m.STS == 0 {
			t.Fatalf("msg %+v", m)
		}
	}
	a.quiet(100 * time.Millisecond) // the sender does not get its own message

	// pm: every connection of the recipient.
	b.send(map[string]any{"type": "pm", "id": "p", "to": 1, "data": map[string]string{"text": "psst"}})
	if e := b.expect(TypeAck); string(e.ID) != `"p"` {
		t.Fatalf("pm ack %+v", e)
	}
	for _, c := range []*client{a, a2} {
		if e := c.expect(TypePM); text(e) != "psst" || e.To != 1 || !strings.Contains(string(e.Data), `"from":2`) {
			t.Fatalf("pm %+v", e)
		}
	}

	// typing: throttled, never stored.
	b.send(map[string]any{"type": "typing", "room": "lobby"})
	b.send(map[string]any{"type": "typing", "room": "lobby"})
	if e := a.next(); e.Type != TypeTyping || e.Seq != 0 {
		t.Fatalf("typing %+v", e)
	}
	a.quiet(100 * time.Millisecond)

	// errors carry the request id and a code.
	for _, c := range []struct {
		frame string
		code  string
	}{
		{`{"type":"msg","id":"x","room":"other","data":{"text":"hi"}}`, CodeNotFound},
		{`{"type":"msg","id":"x","room":"lobby"}`, CodeInvalid},
		{`{"type":"fly","id":"x"}`, CodeInvalid},
		{`not json`, CodeInvalid},
		{`{"type":"join","id":"x","room":"bad room!"}`, CodeInvalid},
		{`{"type":"op","id":"x"}`, CodeInvalid},
		{`{"type":"leave","id":"x","room":"nowhere"}`, CodeNotFound},
	} {
		var raw any = json.RawMessage(c.frame)
		if !json.Valid([]byte(c.frame)) {
			ctx := t.Context()
			_ = b.c.Write(ctx, websocket.MessageText, []byte(c.frame))
		} else {
			b.send(raw)
		}
		e := b.expect(TypeError)
		if errCode(e) != c.code || (json.Valid([]byte(c.frame)) && c.frame[1:7] == `"type"` && string(e.ID) != `"x"` && c.code != CodeInvalid) {
			t.Fatalf("%s: %+v", c.frame, e)
		}
	}

	// leave: presence offline once the user's last connection leaves.
	a.send(map[string]any{"type": "leave", "id": "l", "room": "lobby"})
	a.expect(TypeAck)
	b.quiet(100 * time.Millisecond) // user 1 is still in the room (a2)
	a2.send(map[string]any{"type": "leave", "id": "l", "room": "lobby"})
	a2.expect(TypeAck)
	for {
		e := b.next()
		if e.Type == TypePresence && strings.Contains(string(e.Data), `"user_id":1,"status":"offline"`) {
			break
		}
	}
}

func TestChatHistoryAndResume(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.History = 3 })
	a := ts.dial(t, "/ws/chat", 1)
	a.send(map[string]any{"type": "join", "room": "r"})
	a.expect(TypeAck)
	for i := 1; i <= 5; i++ {
		a.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": fmt.Sprint(i)}})
		if e := a.expect(TypeAck); e.Seq != int64(i) {
			t.Fatalf("ack seq %d, want %d", e.Seq, i)
		}
	}
	b := ts.dial(t, "/ws/chat", 2)
	b.send(map[string]any{"type": "join", "room": "r"})
	b.expect(TypeAck)
	for want := int64(3); want <= 5; want++ { // the last 3
		if e := b.expect(TypeMsg); e.Seq != want {
			t.Fatalf("history seq %d, want %d", e.Seq, want)
		}
	}
	b.send(map[string]any{"type": "resume", "room": "r", "seq": 1})
	for want := int64(2); want <= 5; want++ { // exactly what follows seq 1
		if e := b.expect(TypeMsg); e.Seq != want {
			t.Fatalf("resume seq %d, want %d", e.Seq, want)
		}
	}
	// Live delivery continues after a resume, without duplicates.
	a.send(map[string]any{"type": "msg", "room": "r", "data": map[string]string{"text": "6"}})
	if e := b.expect(TypeMsg); e.Seq != 6 {
		t.Fatalf("live seq %d, want 6", e.Seq)
	}
	b.quiet(100 * time.Millisecond)
}

func TestNotificationsPushAndREST(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	n7 := ts.dial(t, "/ws/notifications", 7)
	n8 := ts.dial(t, "/ws/notifications", 8)
	tok := ts.token(t, 1)
	if r := post(t, ts.URL+"/api/notifications", "", `{"user_id":7,"text":"x"}`); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := post(t, ts.URL+"/api/notifications", tok, `{"user_id":7}`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("no text: %d", r.StatusCode)
	}
	for i := 1; i <= 3; i++ {
		if r := post(t, ts.URL+"/api/notifications", tok, fmt.Sprintf(`{"user_id":7,"text":"n%d"}`, i)); r.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", r.StatusCode)
		}
	}
	for i := int64(1); i <= 3; i++ {
		if e := n7.expect(TypeNotification); e.Seq != i || text(e) != fmt.Sprint("n", i) || e.To != 7 {
			t.Fatalf("notification %+v", e)
		}
	}
	n8.quiet(100 * time.Millisecond) // someone else's notifications never arrive

	// resume on a new connection gets exactly what followed seq 1.
	n7b := ts.dial(t, "/ws/notifications", 7)
	n7b.send(map[string]any{"type": "resume", "seq": 1})
	for want := int64(2); want <= 3; want++ {
		if e := n7b.expect(TypeNotification); e.Seq != want {
			t.Fatalf("resume seq %d want %d", e.Seq, want)
		}
	}

	// An order written through the broker becomes a notification to its user.
	ts.d.Feed.Publish(domain.Event{Topic: domain.TopicOrders, Kind: domain.KindOrderCreated, Key: 7,
		Order: &domain.Order{ID: 99, UserID: 7, Status: domain.OrderPending}})
	if e := n7.expect(TypeNotification); text(e) != "order 99 created (pending)" || e.Seq != 4 {
		t.Fatalf("order notification %+v %q", e, text(e))
	}
	n8.quiet(100 * time.Millisecond)

	// A REST room message reaches the room's WebSocket members.
	c := ts.dial(t, "/ws/chat", 3)
	c.send(map[string]any{"type": "join", "room": "news"})
	c.expect(TypeAck)
	if r := post(t, ts.URL+"/api/rooms/news/messages", tok, `{"text":"extra"}`); r.StatusCode != http.StatusAccepted {
		t.Fatalf("room push: %d", r.StatusCode)
	}
	if e := c.expect(TypeMsg); text(e) != "extra" || e.Seq != 1 {
		t.Fatalf("room message %+v", e)
	}
}

func TestTickerAndPriceChanges(t *testing.T) {
	t.Parallel()
	feed := domain.NewFeed()
	ts := newTestServer(t, func(d *Options) { d.Feed = feed; d.TickRate = 200 })
	c := ts.dial(t, "/ws/ticker", 0) // anonymous
	var last int64
	for range 5 {
		e := c.expect(TypeTick)
		if e.Seq <= last || e.STS == 0 || !strings.Contains(string(e.Data), `"source":"tick"`) {
			t.Fatalf("tick %+v after seq %d", e, last)
		}
		last = e.Seq
	}
	feed.Publish(domain.Event{Topic: domain.TopicProducts, Kind: domain.KindProductUpdated, Key: 42,
		Product: &domain.Product{ID: 42, Price: 9.5}})
	for {
		e := c.expect(TypeTick)
		if strings.Contains(string(e.Data), `"source":"write"`) {
			if !strings.Contains(string(e.Data), `"product_id":42,"price":9.5`) {
				t.Fatalf("price change tick %s", e.Data)
			}
			break
		}
	}
}

func TestDocsOverWebSocket(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	a := ts.dial(t, "/ws/docs/d1", 1)
	b := ts.dial(t, "/ws/docs/d1", 2)
	for _, c := range []*client{a, b} {
		if e := c.expect(TypeSnapshot); string(e.Data) != `{"rev":0,"text":""}` {
			t.Fatalf("snapshot %s", e.Data)
		}
	}
	a.send(map[string]any{"type": "op", "id": "a1", "data": map[string]any{"rev": 0, "pos": 0, "insert": "hello"}})
	if e := a.expect(TypeAck); string(e.ID) != `"a1"` || string(e.Data) != `{"rev":1}` {
		t.Fatalf("ack %+v", e)
	}
	if e := b.expect(TypeOp); string(e.Data) != `{"rev":1,"pos":0,"insert":"hello"}` {
		t.Fatalf("op %s", e.Data)
	}
	// Two concurrent edits on rev 1: b's is transformed over a's.
	a.send(map[string]any{"type": "op", "id": "a2", "data": map[string]any{"rev": 1, "pos": 5, "insert": "!"}})
	a.expect(TypeAck)
	b.send(map[string]any{"type": "op", "id": "b1", "data": map[string]any{"rev": 1, "pos": 0, "delete": 1}})
	b.expect(TypeOp) // a's "!"
	if e := b.expect(TypeAck); string(e.Data) != `{"rev":3}` {
		t.Fatalf("ack %+v", e)
	}
	if e := a.expect(TypeOp); string(e.Data) != `{"rev":3,"pos":0,"delete":1}` {
		t.Fatalf("transformed op %s", e.Data)
	}
	b.send(map[string]any{"type": "op", "id": "b2", "data": map[string]any{"rev": 9, "pos": 0, "delete": 1}})
	if e := b.expect(TypeError); errCode(e) != CodeConflict || string(e.ID) != `"b2"` {
		t.Fatalf("future rev %+v", e)
	}
	b.send(map[string]any{"type": "op", "id": "b3", "data": map[string]any{"rev": 3, "pos": 99, "insert": "x"}})
	if e := b.expect(TypeError); errCode(e) != CodeInvalid {
		t.Fatalf("out of range %+v", e)
	}
	c := ts.dial(t, "/ws/docs/d1", 3)
	if e := c.expect(TypeSnapshot); string(e.Data) != `{"rev":3,"text":"ello!"}` {
		t.Fatalf("late snapshot %s", e.Data)
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.dial(t, "/ws/echo", 0)
	for i := range 100 { // far past the chat rate limit: echo has none
		c.send(map[string]any{"i": i})
		select {
		case b := <-c.raw:
			<-c.in
			if string(b) != fmt.Sprintf(`{"i":%d}`, i) {
				t.Fatalf("echo %s", b)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no echo")
		}
	}
}

func TestHandshakeSecurity(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.Origins = []string{"app.example.com"}; d.MaxConns = 3 })
	if _, err := ts.tryDial(t, "/ws/chat", 0, nil); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("chat without token: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/docs/x", 0, nil); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("docs without token: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/chat?token=forged", 0, nil); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("forged token: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/ticker?token="+ts.token(t, 5), 0, nil); err != nil {
		t.Fatalf("?token= on ticker: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/echo", 0, http.Header{"Origin": {"https://evil.example.com"}}); statusOf(err) != http.StatusForbidden {
		t.Fatalf("foreign origin: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/echo", 0, http.Header{"Origin": {"https://app.example.com"}}); err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	if _, err := ts.tryDial(t, "/ws/echo", 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.tryDial(t, "/ws/echo", 0, nil); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("past --max-conns: %v", err)
	}
	st := ts.Stats()["ws"].(map[string]any)
	if st["connections"].(map[string]any)["peak"].(int64) != 3 {
		t.Fatalf("stats %v", st)
	}
}

func TestDevSkipsOriginCheck(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.Dev = true })
	if _, err := ts.tryDial(t, "/ws/echo", 0, http.Header{"Origin": {"https://anything.example"}}); err != nil {
		t.Fatalf("--dev: %v", err)
	}
}

func TestReadLimit1009(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.dial(t, "/ws/chat", 1)
	big := strings.Repeat("x", DefaultReadLimit+1)
	_ = c.c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"msg","data":{"text":"`+big+`"}}`))
	if code := c.closed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.MsgRate = 1; d.MsgBurst = 5 })
	c := ts.dial(t, "/ws/chat", 1)
	for range 5 { // the burst passes
		c.send(map[string]any{"type": "join", "room": "r"})
		c.expect(TypeAck)
	}
	c.send(map[string]any{"type": "join", "id": "over", "room": "r"})
	if e := c.expect(TypeError); errCode(e) != CodeRateLimited || string(e.ID) != `"over"` {
		t.Fatalf("%+v", e)
	}
	for range 10 { // abuse: burst rejections in a row close the connection
		_ = c.c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"join","room":"r"}`))
	}
	if code := c.closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %d, want 1008", code)
	}
	if n := ts.stats.limited.Load(); n < 5 {
		t.Fatalf("rate_limited %d", n)
	}
}

func TestSlowConsumerKicked(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.Queue = 8; d.WriteTimeout = time.Second })
	// The slow client joins, reads its ack, then never reads again.
	ctx := t.Context()
	slow, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws/chat",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + ts.token(t, 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	if err := slow.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"r"}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := slow.Read(ctx); err != nil || !strings.Contains(string(b), `"ack"`) {
		t.Fatalf("join: %s %v", b, err)
	}
	fast := ts.dial(t, "/ws/chat", 2)
	fast.send(map[string]any{"type": "join", "room": "r"})
	fast.expect(TypeAck)
	big := strings.Repeat("y", 4000)
	var seq int64
	for i := 0; ts.stats.kicked.Load() == 0; i++ {
		if i > 20000 {
			t.Fatal("the slow client was never kicked")
		}
		env := Envelope{Type: TypeMsg, Room: "r", Data: mustJSON(msgData{Text: big})}
		ts.publish(topicRoomPrefix+"r", 0, TypeMsg, ts.stamp(ctx, topicRoomPrefix+"r", &env))
		if e := fast.expect(TypeMsg); e.Seq != seq+1 { // the reader keeps up and misses nothing
			t.Fatalf("fast reader got seq %d after %d", e.Seq, seq)
		}
		seq++
	}
	if n := ts.stats.kicked.Load(); n != 1 {
		t.Fatalf("kicked_slow %d, want 1", n)
	}
	for range 20 { // others keep receiving
		env := Envelope{Type: TypeMsg, Room: "r", Data: mustJSON(msgData{Text: "after"})}
		ts.publish(topicRoomPrefix+"r", 0, TypeMsg, ts.stamp(ctx, topicRoomPrefix+"r", &env))
		if e := fast.expect(TypeMsg); e.Seq != seq+1 {
			t.Fatalf("after the kick: seq %d after %d", e.Seq, seq)
		}
		seq++
	}
	// The slow client, reading at last, finds its stream ended with 1008
	// (or cut, when the close frame could not be written past its full
	// buffers).
	for {
		_, _, err := slow.Read(ctx)
		if err != nil {
			if c := websocket.CloseStatus(err); c != websocket.StatusPolicyViolation && c != -1 {
				t.Fatalf("slow client closed with %d", c)
			}
			break
		}
	}
}

func TestShutdownSends1001(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := ts.dial(t, "/ws/chat", 1)
	e := ts.dial(t, "/ws/echo", 0)
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(t.Context()) }()
	for _, cl := range []*client{c, e} {
		if code := cl.closed(); code != websocket.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.tryDial(t, "/ws/echo", 0, nil); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown: %v", err)
	}
}

func TestOps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	for _, p := range []string{"/healthz", "/stats", "/metrics"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		if p == "/metrics" && !strings.Contains(string(b), "loadrig_ws_kicked_slow") {
			t.Fatalf("metrics: %s", b)
		}
	}
}
