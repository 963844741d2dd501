package ws

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

func pushN(t *testing.T, ts *testServer, room string, n int) {
	t.Helper()
	tok := ts.token(t, 1)
	for i := range n {
		if r := post(t, ts.URL+"/api/rooms/"+room+"/messages", tok, fmt.Sprintf(`{"text":"m%d"}`, i)); r.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", r.StatusCode)
		}
	}
}

type pollResult struct {
	status int
	etag   string
	Events []Envelope `json:"events"`
	Last   int64      `json:"last_seq"`
}

func poll(t *testing.T, url string, hdr http.Header) pollResult {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p pollResult
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	p.status, p.etag = resp.StatusCode, resp.Header.Get("ETag")
	return p
}

func seqs(es []Envelope) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestPolling(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	pushN(t, ts, "p", 5)
	u := ts.URL + "/api/events?topic=room:p"
	p := poll(t, u+"&since=2", nil)
	if p.status != 200 || fmt.Sprint(seqs(p.Events)) != "[3 4 5]" || p.Last != 5 || p.etag != `"5"` {
		t.Fatalf("poll since 2: %+v", p)
	}
	if p := poll(t, u, http.Header{"If-None-Match": {`"5"`}}); p.status != http.StatusNotModified {
		t.Fatalf("nothing new: %d", p.status)
	}
	if p := poll(t, u+"&since=5", nil); p.status != 200 || len(p.Events) != 0 || p.Last != 5 {
		t.Fatalf("since=last without If-None-Match: %+v", p)
	}
	pushN(t, ts, "p", 1)
	if p := poll(t, u, http.Header{"If-None-Match": {`"5"`}}); p.status != 200 || fmt.Sprint(seqs(p.Events)) != "[6]" {
		t.Fatalf("after a new event: %+v", p)
	}
	for _, bad := range []string{"?topic=nope", "?topic=room:p&since=x", "?topic=room:p&wait=forever", "?topic=notifications"} {
		if p := poll(t, ts.URL+"/api/events"+bad, nil); p.status != 400 && p.status != 401 {
			t.Fatalf("%s: %d", bad, p.status)
		}
	}
	// notifications: the caller's own, with a token.
	tok := ts.token(t, 1)
	if r := post(t, ts.URL+"/api/notifications", tok, `{"user_id":5,"text":"hey"}`); r.StatusCode != 202 {
		t.Fatal(r.StatusCode)
	}
	p = poll(t, ts.URL+"/api/events?topic=notifications&token="+ts.token(t, 5), nil)
	if len(p.Events) != 1 || text(p.Events[0]) != "hey" {
		t.Fatalf("notifications of 5: %+v", p)
	}
	if p = poll(t, ts.URL+"/api/events?topic=notifications&token="+ts.token(t, 6), nil); len(p.Events) != 0 {
		t.Fatalf("user 6 sees: %+v", p)
	}
}

func TestLongPoll(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	u := ts.URL + "/api/events?topic=room:lp&since=0&wait=20s"
	got := make(chan pollResult, 1)
	go func() { got <- poll(t, u, nil) }()
	time.Sleep(100 * time.Millisecond) // (either order works: subscribe precedes the log read)
	pushN(t, ts, "lp", 1)
	select {
	case p := <-got:
		if p.status != 200 || fmt.Sprint(seqs(p.Events)) != "[1]" {
			t.Fatalf("%+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not answered by an event")
	}
	if p := poll(t, ts.URL+"/api/events?topic=room:lp&since=1&wait=50ms", nil); p.status != http.StatusNoContent {
		t.Fatalf("empty wait: %d", p.status)
	}
}

func TestSSE(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	pushN(t, ts, "s", 4)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/api/events/stream?topic=room:s", nil)
	req.Header.Set("Last-Event-ID", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	readEvent := func() (id string, env Envelope) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("stream ended")
				}
				switch {
				case strings.HasPrefix(l, "event:"):
					t.Fatalf("an event: line: %q", l)
				case strings.HasPrefix(l, "id: "):
					id = l[4:]
				case strings.HasPrefix(l, "data: "):
					if err := json.Unmarshal([]byte(l[6:]), &env); err != nil {
						t.Fatal(err)
					}
				case l == "" && id != "":
					return id, env
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no event")
			}
		}
	}
	for want := int64(3); want <= 4; want++ { // exactly the missed ones
		id, e := readEvent()
		if id != fmt.Sprint(want) || e.Seq != want {
			t.Fatalf("id %s seq %d, want %d", id, e.Seq, want)
		}
	}
	pushN(t, ts, "s", 1)
	if id, e := readEvent(); id != "5" || e.Type != TypeMsg {
		t.Fatalf("live: %s %+v", id, e)
	}
}

func TestReplayRedisSurvivesRestart(t *testing.T) {
	t.Parallel()
	in := startRedis(t)
	newServer := func() *testServer {
		b, err := rediscache.Open(rediscache.Options{URL: in.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return newTestServer(t, func(d *Options) { d.Log = RedisLog{L: rediscache.NewEventLog(b, "r:", 100)} })
	}
	s1 := newServer()
	pushN(t, s1, "keep", 3)
	s1.http.Close()
	s2 := newServer() // a restarted server: seqs go on from the stored ones
	pushN(t, s2, "keep", 1)
	p := poll(t, s2.URL+"/api/events?topic=room:keep&since=1", nil)
	if fmt.Sprint(seqs(p.Events)) != "[2 3 4]" {
		t.Fatalf("after restart: %+v", p)
	}
}

func TestStreamsCapped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Options) { d.MaxConns = 1 })
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/api/events/stream?topic=ticker", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if p := poll(t, ts.URL+"/api/events?topic=ticker&wait=5s", nil); p.status != http.StatusServiceUnavailable {
		t.Fatalf("a second held request: %d, want 503", p.status)
	}
	if p := poll(t, ts.URL+"/api/events?topic=ticker", nil); p.status != http.StatusOK {
		t.Fatalf("a plain poll holds nothing: %d", p.status)
	}
}
