package httpdrv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

type seen struct {
	method, uri, host, ua, id, ctype, body string
	proto                                  int
	clen                                   int64
}

func recorder(t *testing.T) (*countingServer, chan seen) {
	ch := make(chan seen, 100)
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- seen{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header.Get("X-Id"), r.Header.Get("Content-Type"), string(b), r.ProtoMajor, r.ContentLength}
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	}))
	return s, ch
}

func TestTemplatedRequest(t *testing.T) {
	data, err := tmpl.NewData("users", []string{"id", "name"}, [][]string{{"7", "ann"}, {"8", "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	paths(t, func(t *testing.T, force bool) {
		s, ch := recorder(t)
		d := newDriver(t, Options{
			Method:       "post",
			URL:          s.URL + "/items/{{.Seq}}?q={{randInt 5 5}}&n={{.Row.name}}",
			Headers:      []string{"X-Id: {{.id}}", "Content-Type: application/json"},
			Body:         `{"name":"{{.name}}","k":{{zipf 1.1 1 1}}}`,
			Data:         data,
			ForceNetHTTP: force,
		})
		w := newWorker(t, d, 0)
		for seq, want := range []seen{
			{"POST", "/items/0?q=5&n=ann", s.Listener.Addr().String(), "loadrig", "7", "application/json", `{"name":"ann","k":1}`, 1, 20},
			{"POST", "/items/1?q=5&n=bob", s.Listener.Addr().String(), "loadrig", "8", "application/json", `{"name":"bob","k":1}`, 1, 20},
		} {
			out := do(t, w, uint64(seq), nil)
			if out.Err != metrics.OK {
				t.Fatalf("seq %d: %v", seq, out.Err)
			}
			if got := <-ch; got != want {
				t.Errorf("seq %d: server saw %+v\nwant %+v", seq, got, want)
			}
			if out.BytesSent < 100 || out.BytesReceived < 40 {
				t.Errorf("bytes sent %d received %d", out.BytesSent, out.BytesReceived)
			}
		}
	})
}

func TestMethodsAndConstantRequest(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s, ch := recorder(t)
		for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			d := newDriver(t, Options{Method: m, URL: s.URL + "/x?a=1", Headers: []string{"User-Agent: me", "Host: example.test"}, ForceNetHTTP: force})
			w := newWorker(t, d, 0)
			for i := range 3 {
				if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
					t.Fatalf("%s: %v", m, out.Err)
				}
				got := <-ch
				if got.method != m || got.uri != "/x?a=1" || got.ua != "me" || got.host != "example.test" {
					t.Errorf("%s: server saw %+v", m, got)
				}
			}
		}
		// HEAD: no body is read even though Content-Length says 2.
		d := newDriver(t, Options{Method: "HEAD", URL: s.URL, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		for i := range 3 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatalf("HEAD: %v", out.Err)
			}
			<-ch
		}
		if c := d.Connections(); c.Opened != 1 || c.Reused != 2 {
			t.Errorf("HEAD connections %+v, want 1 opened 2 reused", c)
		}
	})
}

func TestChunkedAndBodyCheck(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for _, part := range []string{"hello ", "wor", "ld", strings.Repeat("x", 40000), "tail"} {
			io.WriteString(w, part)
			f.Flush()
		}
	})
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, h)
		for _, tc := range []struct {
			needle string
			want   metrics.ErrKind
		}{{"", metrics.OK}, {"world", metrics.OK}, {"xxtail", metrics.OK}, {"wold", metrics.ErrCheck}} {
			d := newDriver(t, Options{URL: s.URL, ExpectBodyContains: tc.needle, ForceNetHTTP: force})
			w := newWorker(t, d, 0)
			for i := range 3 {
				out := do(t, w, uint64(i), nil)
				if out.Err != tc.want {
					t.Fatalf("needle %q: got %q want %q", tc.needle, out.Err, tc.want)
				}
				if out.BytesReceived < 40015 {
					t.Fatalf("received %d bytes", out.BytesReceived)
				}
			}
			if c := d.Connections(); c.Opened != 1 || c.Reused != 2 {
				t.Errorf("chunked keep-alive: %+v", c)
			}
		}
	})
}

func TestConnectionClose(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}))
		d := newDriver(t, Options{URL: s.URL, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		for i := range 4 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatal(out.Err)
			}
		}
		// net/http closes a "Connection: close" connection on its read
		// loop's goroutine after handing over the body, so the next
		// request can dial before the previous socket is closed: peak 1
		// or 2 there. The fast path closes it before returning.
		peak := int64(1)
		if force {
			peak = 2
		}
		if c := d.Connections(); c.Opened != 4 || c.Reused != 0 || c.PeakOpen < 1 || c.PeakOpen > peak {
			t.Errorf("connections %+v, want 4 opened, 0 reused, peak 1..%d", c, peak)
		}
		if n := s.conns.Load(); n != 4 {
			t.Errorf("server saw %d connections", n)
		}
	})
}

func TestDisableKeepAlive(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !r.Close {
				w.WriteHeader(400)
			}
		}))
		d := newDriver(t, Options{URL: s.URL, DisableKeepAlive: true, Connections: 2, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		for i := range 3 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatal(out.Err)
			}
		}
		if c := d.Connections(); c.Opened != 3 || c.Reused != 0 {
			t.Errorf("connections %+v", c)
		}
	})
}

func TestCacheClassification(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, k := range []string{"X-Cache", "Cf-Cache-Status", "Age", "X-My-Cache"} {
			if v := q.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		if q.Get("code") == "304" {
			w.WriteHeader(304)
			return
		}
		io.WriteString(w, "body")
	})
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, h)
		for _, tc := range []struct {
			query, header string
			want          metrics.CacheStatus
		}{
			{"", "", metrics.CacheUnknown},
			{"X-Cache=HIT", "", metrics.CacheHit},
			{"X-Cache=Hit+from+cloudfront", "", metrics.CacheHit},
			{"X-Cache=miss", "", metrics.CacheMiss},
			{"X-Cache=MISS,+HIT", "", metrics.CacheHit},
			{"X-Cache=STALE", "", metrics.CacheOther},
			{"X-Cache=BYPASS", "", metrics.CacheOther},
			{"X-Cache=REVALIDATED", "", metrics.CacheRevalidated},
			{"X-Cache=RefreshHit+from+cloudfront", "", metrics.CacheRevalidated},
			{"Cf-Cache-Status=DYNAMIC", "", metrics.CacheOther},
			{"Cf-Cache-Status=HIT", "", metrics.CacheHit},
			{"X-Cache=MISS&Cf-Cache-Status=HIT", "", metrics.CacheMiss},
			{"Age=12", "", metrics.CacheHit},
			{"Age=0", "", metrics.CacheMiss},
			{"X-Cache=MISS&Age=5", "", metrics.CacheMiss},
			{"code=304", "", metrics.CacheRevalidated},
			{"code=304&X-Cache=MISS", "", metrics.CacheRevalidated},
			{"X-My-Cache=hit&X-Cache=MISS", "x-my-cache", metrics.CacheHit},
		} {
			d := newDriver(t, Options{URL: s.URL + "/?" + tc.query, CacheHeader: tc.header, ForceNetHTTP: force})
			w := newWorker(t, d, 0)
			out := do(t, w, 0, nil)
			if out.Err != metrics.OK || out.Cache != tc.want {
				t.Errorf("%s: got %v %q, want cache %v", tc.query, out.Cache, out.Err, tc.want)
			}
		}
	})
}

func TestStatusChecks(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.URL.Query().Get("code"), &code)
		w.WriteHeader(code)
		io.WriteString(w, "status body")
	})
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, h)
		exp201, _ := ParseExpectStatus("201,404")
		for _, tc := range []struct {
			code   int
			expect []StatusRange
			body   string
			want   metrics.ErrKind
		}{
			{200, nil, "", metrics.OK},
			{302, nil, "", metrics.OK},
			{404, nil, "", metrics.HTTPStatusKind(404)},
			{503, nil, "", metrics.HTTPStatusKind(503)},
			{201, exp201, "", metrics.OK},
			{404, exp201, "", metrics.OK},
			{200, exp201, "", metrics.ErrCheck},
			{500, exp201, "", metrics.HTTPStatusKind(500)},
			{200, nil, "body", metrics.OK},
			{200, nil, "nope", metrics.ErrCheck},
			{500, nil, "nope", metrics.HTTPStatusKind(500)},
		} {
			d := newDriver(t, Options{URL: fmt.Sprintf("%s/?code=%d", s.URL, tc.code), ExpectStatus: tc.expect, ExpectBodyContains: tc.body, ForceNetHTTP: force})
			w := newWorker(t, d, 0)
			for i := range 2 {
				if out := do(t, w, uint64(i), nil); out.Err != tc.want {
					t.Errorf("code %d expect %v body %q: got %q want %q", tc.code, tc.expect, tc.body, out.Err, tc.want)
				}
			}
		}
	})
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRefused(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		d := newDriver(t, Options{URL: "http://" + closedPort(t) + "/", ForceNetHTTP: force, Connections: 2})
		w := newWorker(t, d, 0)
		for i := range 3 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.ErrRefused {
				t.Fatalf("got %q, want refused", out.Err)
			}
		}
		if c := d.Connections(); c.Opened != 0 {
			t.Errorf("connections %+v", c)
		}
	})
}

func TestResetAndEOF(t *testing.T) {
	reset := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	midBody := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")
	})
	midChunk := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	})
	garbage := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "SMTP ready\r\n\r\n")
	})
	badLen := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n")
	})
	paths(t, func(t *testing.T, force bool) {
		for _, tc := range []struct {
			url  string
			want metrics.ErrKind
		}{
			{reset, metrics.ErrReset},
			{midBody, metrics.ErrEOF},
			{midChunk, metrics.ErrEOF},
			{garbage, metrics.ErrProtocol},
			{badLen, metrics.ErrProtocol},
		} {
			d := newDriver(t, Options{URL: tc.url, ForceNetHTTP: force})
			w := newWorker(t, d, 0)
			for i := range 2 {
				if out := do(t, w, uint64(i), nil); out.Err != tc.want {
					t.Errorf("%s: got %q, want %q", tc.url, out.Err, tc.want)
				}
			}
		}
	})
}

// A server that closes every connection after one response without saying
// so: the reused connection fails before any byte and the request is
// retried on a new one, as net/http does.
func TestStaleKeepAliveRetried(t *testing.T) {
	u := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	paths(t, func(t *testing.T, force bool) {
		d := newDriver(t, Options{URL: u, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		for i := range 5 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatalf("request %d: %q", i, out.Err)
			}
			time.Sleep(5 * time.Millisecond) // let the close arrive
		}
		if c := d.Connections(); c.Opened != 5 {
			t.Errorf("connections %+v, want 5 opened", c)
		}
	})
}

func TestTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })
	paths(t, func(t *testing.T, force bool) {
		d := newDriver(t, Options{URL: s.URL, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		start := time.Now()
		out := w.Do(ctx, load.NewOp(0, nil))
		cancel()
		if out.Err != metrics.ErrTimeout {
			t.Errorf("got %q, want timeout", out.Err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("timeout took %v", el)
		}
		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(30*time.Millisecond, cancel)
		if out := w.Do(ctx, load.NewOp(1, nil)); out.Err != metrics.ErrCanceled {
			t.Errorf("got %q, want canceled", out.Err)
		}
		// A canceled run context ends a request that has no deadline.
		runCtx, stop := context.WithCancel(t.Context())
		rw, err := d.NewWorker(runCtx, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()
		time.AfterFunc(30*time.Millisecond, stop)
		if out := rw.Do(runCtx, load.NewOp(2, nil)); out.Err != metrics.ErrCanceled {
			t.Errorf("run canceled: got %q, want canceled", out.Err)
		}
	})
}

func TestConnectionCap(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Millisecond)
			io.WriteString(w, "ok")
		}))
		d := newDriver(t, Options{URL: s.URL, Connections: 2, ForceNetHTTP: force})
		const workers, each = 6, 20
		var wg sync.WaitGroup
		errs := make(chan metrics.ErrKind, workers*each)
		for id := range workers {
			w := newWorker(t, d, id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- do(t, w, uint64(id*each+i), nil).Err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			if e != metrics.OK {
				t.Fatal(e)
			}
		}
		c := d.Connections()
		if c.Opened > 2 || c.PeakOpen > 2 || c.Opened < 1 || c.Opened+c.Reused != workers*each {
			t.Errorf("connections %+v: want at most 2 opened, opened+reused = %d", c, workers*each)
		}
		if p := s.peak.Load(); p > 2 {
			t.Errorf("server saw %d connections open at once", p)
		}
		if !force {
			d.Close()
			if n := d.conns.Open(); n != 0 {
				t.Errorf("%d connections still counted open after Close", n)
			}
		}
	})
}

func TestPerWorkerConnections(t *testing.T) {
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	d := newDriver(t, Options{URL: s.URL})
	for id := range 3 {
		w := newWorker(t, d, id)
		for i := range 4 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatal(out.Err)
			}
		}
	}
	if c := d.Connections(); c.Opened != 3 || c.Reused != 9 || c.PeakOpen != 3 {
		t.Errorf("connections %+v, want 3 opened, 9 reused, peak 3", c)
	}
}

func TestPhases(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		d := newDriver(t, Options{URL: strings.Replace(s.URL, "127.0.0.1", "localhost", 1), ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		sink := newSink()
		for i := range 3 {
			if out := do(t, w, uint64(i), sink); out.Err != metrics.OK {
				t.Fatal(out.Err)
			}
		}
		if sink.count(load.PhaseDNS) != 1 || sink.count(load.PhaseConnect) != 1 || sink.count(load.PhaseTTFB) != 3 || sink.count(load.PhaseTLS) != 0 {
			t.Errorf("phases %v: want dns 1, connect 1, ttfb 3", sink.phases)
		}
	})
}

func TestHTTP2OverTLS(t *testing.T) {
	protos := make(chan string, 10)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		w.Header().Set("X-Cache", "HIT")
		io.WriteString(w, "h2 body")
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	d := newDriver(t, Options{URL: s.URL + "/p", HTTP2: true, Insecure: true, ExpectBodyContains: "h2"})
	sink := newSink()
	w := newWorker(t, d, 0)
	for i := range 3 {
		out := do(t, w, uint64(i), sink)
		if out.Err != metrics.OK || out.Cache != metrics.CacheHit {
			t.Fatalf("got %+v", out)
		}
		if p := <-protos; p != "HTTP/2.0" {
			t.Fatalf("server saw %s", p)
		}
	}
	if c := d.Connections(); c.Opened != 1 || c.Reused != 2 {
		t.Errorf("connections %+v", c)
	}
	if sink.count(load.PhaseTLS) != 1 || sink.count(load.PhaseConnect) != 1 {
		t.Errorf("phases %v", sink.phases)
	}
	// HTTPS with HTTP/1.1, and certificate verification on: a tls error.
	d1 := newDriver(t, Options{URL: s.URL, Insecure: true})
	if out := do(t, newWorker(t, d1, 0), 0, nil); out.Err != metrics.OK || <-protos != "HTTP/1.1" {
		t.Fatalf("https/1.1: %+v", out)
	}
	d2 := newDriver(t, Options{URL: s.URL})
	if out := do(t, newWorker(t, d2, 0), 0, nil); out.Err != metrics.ErrTLS {
		t.Fatalf("unverified certificate: got %q, want tls", out.Err)
	}
}

func TestH2C(t *testing.T) {
	protos := make(chan string, 100)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
	}))
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	d := newDriver(t, Options{URL: s.URL, HTTP2: true, Connections: 1})
	var wg sync.WaitGroup
	for id := range 4 {
		w := newWorker(t, d, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
					t.Error(out.Err)
				}
			}
		}()
	}
	wg.Wait()
	close(protos)
	for p := range protos {
		if p != "HTTP/2.0" {
			t.Fatalf("server saw %s", p)
		}
	}
	if c := d.Connections(); c.Opened != 1 || c.Reused != 19 {
		t.Errorf("connections %+v: want 1 opened (multiplexed), 19 reused", c)
	}
}

// TestSameOutcome: the fast path and net/http report the same outcome
// (kind, cache status, bytes) for the same server.
func TestSameOutcome(t *testing.T) {
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if v := q.Get("cache"); v != "" {
			w.Header().Set("X-Cache", v)
		}
		var code int
		fmt.Sscan(q.Get("code"), &code)
		body := strings.Repeat("b", len(q.Get("size"))*100)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	for _, q := range []string{"code=200&size=x", "code=200&size=xxxxx&cache=HIT", "code=404&cache=MISS", "code=503&size=xx", "code=304", "code=201&size=xxx"} {
		var outs [2]load.Outcome
		for i, force := range []bool{false, true} {
			d := newDriver(t, Options{Method: "POST", URL: s.URL + "/?" + q, Body: `{"a":1}`, Headers: []string{"X-A: b"}, ForceNetHTTP: force, ExpectBodyContains: "bbb"})
			outs[i] = do(t, newWorker(t, d, 0), 0, nil)
		}
		if outs[0] != outs[1] {
			t.Errorf("%s: fast %+v, net/http %+v", q, outs[0], outs[1])
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "localhost:8080"}, `invalid URL "localhost:8080": no scheme (expected http://host[:port]/path)`},
		{Options{URL: "ftp://x/"}, `unsupported scheme "ftp"`},
		{Options{URL: "http:///x"}, "no host"},
		{Options{URL: "http://h:99999/"}, "bad port"},
		{Options{URL: "http://{{.Seq}}/"}, "not in the host"},
		{Options{URL: "http://h/{{nope}}"}, `unknown function "nope"`},
		{Options{URL: "http://h/a b"}, "white space"},
		{Options{URL: "http://h/", Headers: []string{"NoColon"}}, `bad header "NoColon": expected 'Name: value'`},
		{Options{URL: "http://h/", Headers: []string{"Bad Name: v"}}, `bad header "Bad Name: v"`},
		{Options{URL: "http://h/", Headers: []string{"X: {{.Row.a}}"}}, "needs a data file"},
		{Options{URL: "http://h/", Body: "{{uuid 1}}"}, "body: template"},
		{Options{URL: "http://h/", Method: "GE T"}, "bad method"},
		{Options{URL: "http://h/", Connections: -1}, "bad connection count"},
		{Options{URL: "http://h/", Proxy: "::"}, "invalid proxy URL"},
		{Options{URL: "http://h/", ExpectStatus: []StatusRange{{300, 200}}}, "bad expected status"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.o, err, tc.want)
		}
	}
	for _, s := range []string{"", "2xx,abc", "99", "300-200", "6xx"} {
		if _, err := ParseExpectStatus(s); err == nil {
			t.Errorf("ParseExpectStatus(%q) accepted", s)
		}
	}
	r, err := ParseExpectStatus("200, 201-204,3xx")
	if err != nil || fmt.Sprint(r) != "[{200 200} {201 204} {300 399}]" {
		t.Errorf("ParseExpectStatus: %v %v", r, err)
	}
}

func TestFastPathZeroAllocs(t *testing.T) {
	u := fixedServer(t, "HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Length: 12\r\n\r\nhello, world")
	for name, o := range map[string]Options{
		"constant":  {URL: u + "/hello"},
		"templated": {URL: u + "/p/{{zipf 1.1 1 1000}}?s={{.Seq}}", Method: "POST", Body: `{"id":"{{uuid}}"}`, Headers: []string{"X-R: {{randInt 1 9}}"}, ExpectBodyContains: "world"},
		"pooled":    {URL: u + "/hello", Connections: 1},
	} {
		d := newDriver(t, o)
		w := newWorker(t, d, 0)
		op := load.NewOp(0, newSink())
		ctx := t.Context()
		do(t, w, 0, nil) // connect
		allocs := testing.AllocsPerRun(200, func() {
			if out := w.Do(ctx, op); out.Err != metrics.OK || out.Cache != metrics.CacheHit {
				t.Fatal(out)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per request on the fast path, want 0", name, allocs)
		}
	}
}

// The fast path watches an operation context once per context: a long-lived
// context canceled mid-request aborts it, and canceling a context of an
// earlier request does not hit a later one.
func TestContextWatch(t *testing.T) {
	var n atomic.Int64
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The second request is answered after 150 ms; the third only
		// when its client goes away (or after 10 s, far past the check).
		switch n.Add(1) {
		case 2:
			select {
			case <-time.After(150 * time.Millisecond):
			case <-r.Context().Done():
			}
		case 3:
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	paths(t, func(t *testing.T, force bool) {
		n.Store(0)
		d := newDriver(t, Options{URL: s.URL, ForceNetHTTP: force})
		w := newWorker(t, d, 0)
		ctx1, cancel1 := context.WithCancel(t.Context())
		defer cancel1()
		if out := w.Do(ctx1, load.NewOp(0, nil)); out.Err != metrics.OK {
			t.Fatal(out.Err)
		}
		ctx2, cancel2 := context.WithCancel(t.Context())
		defer cancel2()
		time.AfterFunc(30*time.Millisecond, cancel1)
		if out := w.Do(ctx2, load.NewOp(1, nil)); out.Err != metrics.OK {
			t.Fatalf("canceling an earlier request's context hit this one: %q", out.Err)
		}
		time.AfterFunc(30*time.Millisecond, cancel2)
		start := time.Now()
		if out := w.Do(ctx2, load.NewOp(2, nil)); out.Err != metrics.ErrCanceled {
			t.Fatalf("got %q, want canceled", out.Err)
		}
		// Not a speed check: a request the cancel did not abort would
		// wait out the server's 10 s.
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("cancel took %v to end the request", el)
		}
	})
}

// With Proxy set, requests go to the proxy in absolute form (net/http path).
func TestProxy(t *testing.T) {
	seenURL := make(chan string, 4)
	proxy := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenURL <- r.URL.String()
		w.Header().Set("X-Cache", "MISS")
		io.WriteString(w, "proxied")
	}))
	d := newDriver(t, Options{URL: "http://origin.invalid/items/{{.Seq}}", Proxy: proxy.URL, ExpectBodyContains: "proxied"})
	w := newWorker(t, d, 0)
	for i := range 2 {
		if out := do(t, w, uint64(i), nil); out.Err != metrics.OK || out.Cache != metrics.CacheMiss {
			t.Fatalf("got %+v", out)
		}
		if u := <-seenURL; u != fmt.Sprintf("http://origin.invalid/items/%d", i) {
			t.Errorf("proxy saw %q", u)
		}
	}
}

// A connection the server closed while idle is found before a request is
// written on it (a non-blocking peek), so even a POST, which is not retried
// after sending, gets a fresh connection. Without the probe it fails.
func TestIdleClosedConnectionProbed(t *testing.T) {
	u := rawServer(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	for _, probe := range []bool{true, false} {
		d := newDriver(t, Options{URL: u, Method: "POST", Body: "x"})
		if probe {
			d.idleCheck = 0
		} else {
			d.idleCheck = time.Hour
		}
		w := newWorker(t, d, 0)
		for i := range 3 {
			out := do(t, w, uint64(i), nil)
			time.Sleep(5 * time.Millisecond) // let the close arrive
			if probe && out.Err != metrics.OK {
				t.Fatalf("request %d: %q", i, out.Err)
			}
			if !probe && i == 1 && out.Err != metrics.ErrEOF {
				t.Fatalf("without the probe the POST on the closed connection got %q, want eof", out.Err)
			}
		}
		if c := d.Connections(); probe && (c.Opened != 3 || c.Reused != 0) {
			t.Errorf("connections %+v, want 3 opened, none reused", c)
		}
	}
}

// TestH2CAgainstHTTP1IsProtocolError checks that --http2 against a server
// that speaks only HTTP/1.1 is a protocol_error (the server answered the
// HTTP/2 preface with an HTTP/1.1 response), not "other".
func TestH2CAgainstHTTP1IsProtocolError(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(s.Close)
	d := newDriver(t, Options{URL: s.URL, HTTP2: true, Connections: 1})
	w := newWorker(t, d, 0)
	if out := do(t, w, 0, nil); out.Err != metrics.ErrProtocol {
		t.Errorf("h2c to an HTTP/1.1-only server: error kind %q, want %q", out.Err, metrics.ErrProtocol)
	}
}

// TestBodyUntilClose checks a response without Content-Length or chunked
// encoding, whose body runs until the server closes the connection (RFC
// 9112 6.3): it is a success on both paths, not an eof error.
func TestBodyUntilClose(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		url := rawServer(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye body")
			c.Close()
		})
		d := newDriver(t, Options{URL: url + "/", ForceNetHTTP: force, ExpectBodyContains: "bye body"})
		w := newWorker(t, d, 0)
		for i := range 3 {
			if out := do(t, w, uint64(i), nil); out.Err != metrics.OK {
				t.Fatalf("request %d: error kind %q, want success", i, out.Err)
			}
		}
	})
}

// A header line longer than the fast path's read buffer is read whole (a
// large Set-Cookie), the headers after it still count (X-Cache, ETag for
// revalidation), and only a line over maxLineLen is a protocol error.
func TestLongHeaderLines(t *testing.T) {
	cookie := strings.Repeat("c", 3*readBufSize)
	paths(t, func(t *testing.T, force bool) {
		var sawINM atomic.Int32
		url := rawServer(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			for {
				conditional := false
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToLower(line), `if-none-match: "v1"`) {
						conditional = true
						sawINM.Add(1)
					}
					if line == "\r\n" {
						break
					}
				}
				if conditional {
					io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nSet-Cookie: "+cookie+"\r\nETag: \"v1\"\r\n\r\n")
					continue
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nSet-Cookie: "+cookie+"\r\nX-Cache: HIT\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\nok")
			}
		})
		d := newDriver(t, Options{URL: url + "/", ForceNetHTTP: force, Revalidate: true})
		w := newWorker(t, d, 0)
		out := do(t, w, 0, nil)
		if out.Err != metrics.OK || out.Cache != metrics.CacheHit {
			t.Fatalf("first request: kind %q cache %v, want success and a HIT", out.Err, out.Cache)
		}
		if !force && out.BytesReceived < int64(len(cookie)) {
			t.Fatalf("BytesReceived = %d, want the whole %d-byte header counted", out.BytesReceived, len(cookie))
		}
		if out = do(t, w, 1, nil); out.Err != metrics.OK || out.Cache != metrics.CacheRevalidated {
			t.Fatalf("second request: kind %q cache %v, want a revalidated 304", out.Err, out.Cache)
		}
		if sawINM.Load() != 1 {
			t.Fatalf("server saw If-None-Match %d times, want 1 (the ETag after the long line was kept)", sawINM.Load())
		}
	})

	url := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("x", maxLineLen)+"\r\nContent-Length: 0\r\n\r\n")
		c.Close()
	})
	d := newDriver(t, Options{URL: url + "/"})
	if out := do(t, newWorker(t, d, 0), 0, nil); out.Err != metrics.ErrProtocol {
		t.Fatalf("a %d-byte header line: kind %q, want %q", maxLineLen, out.Err, metrics.ErrProtocol)
	}
}
