package wsdrv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Test servers: real coder/websocket servers and plain HTTP handlers
// speaking the envelope, small stand-ins for loadrig's own server.

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func wsURL(httpURL, path string) string { return "ws" + strings.TrimPrefix(httpURL, "http") + path }

// echoServer returns every frame, like /ws/echo.
func echoServer(t *testing.T) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
}

type env struct {
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Room string          `json:"room,omitempty"`
	Seq  int64           `json:"seq,omitempty"`
	TS   int64           `json:"ts,omitempty"`
	STS  int64           `json:"sts,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// chatHub is a one-process chat server: join, msg broadcast to the room
// but the sender (with sts and the room's seq), ack to the sender. When
// dropEvery > 0, deliveries whose seq is a multiple of it are not sent.
type chatHub struct {
	mu        sync.Mutex
	rooms     map[string]map[*websocket.Conn]bool
	seq       map[string]int64
	dropEvery int64
	history   bool
}

func chatServer(t *testing.T, h *chatHub) string {
	h.rooms, h.seq = map[string]map[*websocket.Conn]bool{}, map[string]int64{}
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		var joined []string
		defer func() {
			h.mu.Lock()
			for _, room := range joined {
				delete(h.rooms[room], c)
			}
			h.mu.Unlock()
		}()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var e env
			if json.Unmarshal(b, &e) != nil {
				continue
			}
			switch e.Type {
			case "join":
				h.mu.Lock()
				if h.rooms[e.Room] == nil {
					h.rooms[e.Room] = map[*websocket.Conn]bool{}
				}
				h.rooms[e.Room][c] = true
				seq := h.seq[e.Room]
				h.mu.Unlock()
				joined = append(joined, e.Room)
				if h.history && seq > 0 { // an old message replayed on join
					old, _ := json.Marshal(env{Type: "msg", Room: e.Room, Seq: seq, TS: time.Now().Add(-time.Minute).UnixMicro(), STS: time.Now().UnixMicro()})
					c.Write(ctx, websocket.MessageText, old)
				}
			case "msg":
				h.mu.Lock()
				h.seq[e.Room]++
				seq := h.seq[e.Room]
				var to []*websocket.Conn
				for m := range h.rooms[e.Room] {
					if m != c {
						to = append(to, m)
					}
				}
				out := e
				out.Seq, out.STS, out.ID = seq, time.Now().UnixMicro(), ""
				ob, _ := json.Marshal(out)
				if h.dropEvery == 0 || seq%h.dropEvery != 0 {
					for _, m := range to { // in seq order: under the lock
						m.Write(ctx, websocket.MessageText, ob)
					}
				}
				h.mu.Unlock()
				ack, _ := json.Marshal(env{Type: "ack", ID: e.ID, Room: e.Room, Seq: seq})
				c.Write(ctx, websocket.MessageText, ack)
			}
		}
	}))
}

// ticker sends {"type":"tick","room":"ticker","seq":N,"sts":µs} every
// period to each connection, resuming after the seq of a resume envelope;
// it closes a connection with closeCode after closeAfter ticks (0: never).
// Seqs are global: tick N was published at start + N×period.
type ticker struct {
	period     time.Duration
	closeAfter int
	closeCode  websocket.StatusCode
	closeUntil time.Duration // stop closing connections this long after start (0: never stop)
	start      time.Time
	conns      atomic.Int64
}

func (tk *ticker) seqNow() int64 { return int64(time.Since(tk.start) / tk.period) }

func tickerServer(t *testing.T, tk *ticker) string {
	tk.start = time.Now()
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		tk.conns.Add(1)
		ctx := r.Context()
		next := tk.seqNow() + 1
		resumed := make(chan int64, 1)
		go func() {
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					return
				}
				var e env
				if json.Unmarshal(b, &e) == nil && e.Type == "resume" {
					resumed <- e.Seq
				}
			}
		}()
		// A resume comes first on a reconnect: wait for it (a new
		// subscriber sends none and starts from its connect time, next).
		select {
		case s := <-resumed:
			next = s + 1
		case <-time.After(300 * time.Millisecond):
		}
		sent := 0
		tick := time.NewTicker(tk.period / 4)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for ; next <= tk.seqNow(); next++ {
				b, _ := json.Marshal(env{Type: "tick", Room: "ticker", Seq: next, STS: time.Now().UnixMicro()})
				if c.Write(ctx, websocket.MessageText, b) != nil {
					return
				}
				sent++
				if tk.closeAfter > 0 && sent >= tk.closeAfter && (tk.closeUntil == 0 || time.Since(tk.start) < tk.closeUntil) {
					c.Close(tk.closeCode, "bye")
					return
				}
			}
		}
	}))
}

// sseServer streams ticker events as SSE (id: seq, data: envelope),
// resuming after Last-Event-ID; with dropAfter > 0 it ends each stream
// after that many events.
func sseServer(t *testing.T, tk *ticker, dropAfter int) string {
	return serve(t, sseHandler(tk, dropAfter))
}

// sseHandler is sseServer's handler, its ticker started now.
func sseHandler(tk *ticker, dropAfter int) http.Handler {
	tk.start = time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		next := tk.seqNow() + 1
		if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
			next = id + 1
		}
		fmt.Fprint(w, ": hello\n\n")
		fl.Flush()
		sent := 0
		tick := time.NewTicker(tk.period / 4)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			for ; next <= tk.seqNow(); next++ {
				b, _ := json.Marshal(env{Type: "tick", Room: "ticker", Seq: next, STS: time.Now().UnixMicro()})
				fmt.Fprintf(w, "id: %d\ndata: %s\n\n", next, b)
				sent++
				if dropAfter > 0 && sent >= dropAfter {
					fl.Flush()
					return
				}
			}
			fl.Flush()
		}
	})
}

// pollServer answers GET ?since=SEQ[&wait=D] from the ticker: events after
// SEQ at once (ETag = last seq, 304 when If-None-Match matches), or held
// until one is due (204 at the end of the wait).
func pollServer(t *testing.T, tk *ticker, requests *atomic.Int64, notModified *atomic.Int64) string {
	tk.start = time.Now()
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// since=0 is the whole log, as loadrig's server answers it: here
		// the last 50 ticks (history the driver must not count).
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if since == 0 {
			since = max(tk.seqNow()-50, 0)
		}
		if since > tk.seqNow() { // asked from the future: nothing yet, last_seq is now
			since = tk.seqNow()
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil {
			deadline := time.Now().Add(d)
			for tk.seqNow() <= since {
				if time.Now().After(deadline) {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				select {
				case <-r.Context().Done():
					return
				case <-time.After(tk.period / 8):
				}
			}
		}
		last := tk.seqNow()
		tag := `"` + strconv.FormatInt(last, 10) + `"`
		if r.Header.Get("If-None-Match") == tag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", tag)
		var evs []env
		for s := since + 1; s <= last; s++ {
			evs = append(evs, env{Type: "tick", Room: "ticker", Seq: s, STS: tk.start.Add(time.Duration(s) * tk.period).UnixMicro()})
		}
		json.NewEncoder(w).Encode(map[string]any{"events": evs, "last_seq": last})
	}))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
