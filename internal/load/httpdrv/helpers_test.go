package httpdrv

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/load"
)

// phaseSink records the phases an operation reports.
type phaseSink struct {
	mu     sync.Mutex
	phases map[load.Phase][]time.Duration
}

func newSink() *phaseSink { return &phaseSink{phases: map[load.Phase][]time.Duration{}} }

func (s *phaseSink) MessageSent(int)               {}
func (s *phaseSink) MessageReceived(time.Duration) {}
func (s *phaseSink) Phase(p load.Phase, d time.Duration) {
	s.mu.Lock()
	s.phases[p] = append(s.phases[p], d)
	s.mu.Unlock()
}
func (s *phaseSink) count(p load.Phase) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.phases[p])
}

// paths runs f once on the fast path and once with net/http.
func paths(t *testing.T, f func(t *testing.T, force bool)) {
	t.Helper()
	t.Run("fast", func(t *testing.T) { f(t, false) })
	t.Run("net_http", func(t *testing.T) { f(t, true) })
}

func newDriver(t *testing.T, o Options) *Driver {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	want := PathFast
	if o.ForceNetHTTP || o.HTTP2 || len(o.URL) > 5 && o.URL[:5] == "https" || o.Proxy != "" {
		want = PathNetHTTP
	}
	if d.Path() != want {
		t.Fatalf("Path() = %q, want %q", d.Path(), want)
	}
	return d
}

func newWorker(t *testing.T, d *Driver, id int) load.Worker {
	t.Helper()
	w, err := d.NewWorker(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// do runs one operation with a bounded timeout.
func do(t *testing.T, w load.Worker, seq uint64, sink load.EventSink) load.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return w.Do(ctx, load.NewOp(seq, sink))
}

// countingServer is an httptest server that counts the connections it accepted.
type countingServer struct {
	*httptest.Server
	conns  atomic.Int64
	active atomic.Int64
	peak   atomic.Int64
}

func newServer(t *testing.T, h http.Handler) *countingServer {
	t.Helper()
	cs := &countingServer{Server: httptest.NewUnstartedServer(h)}
	cs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			cs.conns.Add(1)
			n := cs.active.Add(1)
			for p := cs.peak.Load(); n > p && !cs.peak.CompareAndSwap(p, n); p = cs.peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			cs.active.Add(-1)
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	return cs
}

// rawServer accepts connections on 127.0.0.1 and hands each to serve.
func rawServer(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); serve(c) }()
		}
	}()
	return "http://" + ln.Addr().String()
}

// fixedServer answers every request with resp and allocates nothing per
// request (testing.AllocsPerRun counts the in-process server too): it
// counts request lines in what it reads and writes one response for each.
// Requests must fit one read of 64 KiB and not contain "HTTP/1.1\r\n" in
// their bodies.
func fixedServer(t testing.TB, resp string) string {
	out := []byte(resp)
	return rawServer(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		wbuf := make([]byte, 0, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			wbuf = wbuf[:0]
			for k := bytes.Count(buf[:n], []byte("HTTP/1.1\r\n")); k > 0; k-- {
				wbuf = append(wbuf, out...)
			}
			if _, err := c.Write(wbuf); err != nil {
				return
			}
		}
	})
}
