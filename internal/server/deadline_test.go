package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// watchPair returns a watchConn (the server side, with a watchdog of its
// own) and the plain client side of one loopback TCP connection; watched
// false: the server side is the plain net.Conn.
func watchPair(tb testing.TB, watched bool) (srv, cli net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	srv = <-acc
	if srv == nil {
		tb.Fatal("accept failed")
	}
	if watched {
		srv = newWatchConn(srv, &watchdog{tick: deadlineTick}, nil)
	}
	tb.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// hang bounds a blocking call in a test: generous, a hang guard only.
const hang = 20 * time.Second

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

func TestWatchConnReadsWritesAndEOF(t *testing.T) {
	srv, cli := watchPair(t, true)
	if _, err := cli.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := srv.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := srv.Write([]byte("pong")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	_ = cli.SetReadDeadline(time.Now().Add(hang))
	if _, err := io.ReadFull(cli, buf[:4]); err != nil || string(buf[:4]) != "pong" {
		t.Fatalf("client read %q, %v", buf[:4], err)
	}
	cli.Close()
	if n, err := srv.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after peer close = %d, %v; want 0, io.EOF", n, err)
	}
}

// A read deadline set while nothing waits still bounds the read that then
// waits (slowloris, idle connections).
func TestWatchConnReadDeadlineBoundsAWait(t *testing.T) {
	srv, _ := watchPair(t, true)
	deadline := time.Now().Add(50 * time.Millisecond)
	if err := srv.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	select {
	case err := <-done:
		if early := time.Until(deadline); early > 0 {
			t.Fatalf("Read ended %v before its deadline", early)
		}
		if !isTimeout(err) {
			t.Fatalf("Read = %v, want a timeout (os.ErrDeadlineExceeded)", err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("Read error %#v is not a read *net.OpError", err)
		}
	case <-time.After(hang):
		t.Fatal("Read with a 50ms deadline did not return")
	}
}

// A deadline in the past interrupts a read that waits (net/http's
// abortPendingRead), and fails one that has not started.
func TestWatchConnPastDeadlineInterrupts(t *testing.T) {
	srv, cli := watchPair(t, true)
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	// The read may or may not be waiting yet; either way it must end.
	time.Sleep(10 * time.Millisecond)
	if err := srv.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("interrupted Read = %v, want a timeout", err)
		}
	case <-time.After(hang):
		t.Fatal("a past deadline did not interrupt the waiting Read")
	}
	if _, err := srv.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("Read under a past deadline = %v, want a timeout", err)
	}
	// Cleared, the connection reads again, though the poller last had a
	// deadline that passed.
	if err := srv.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("Read after clearing the deadline = %d, %v", n, err)
	}
}

// A deadline that expired in the poller is replaced by a later one asked
// for while nothing waited.
func TestWatchConnDeadlineMovedLaterAfterExpiry(t *testing.T) {
	srv, cli := watchPair(t, true)
	_ = srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := srv.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(hang))
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = cli.Write([]byte("late"))
	}()
	buf := make([]byte, 8)
	n, err := srv.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read with a later deadline = %q, %v", buf[:n], err)
	}
}

// A peer that does not read: the write waits for buffer space and its
// deadline ends it.
func TestWatchConnWriteDeadlineBoundsAWait(t *testing.T) {
	srv, _ := watchPair(t, true)
	_ = srv.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	done := make(chan error, 1)
	go func() {
		big := make([]byte, 1<<20)
		for range 256 { // far more than loopback buffers hold
			if _, err := srv.Write(big); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("Write to a peer that does not read = %v, want a timeout", err)
		}
	case <-time.After(hang):
		t.Fatal("Write with a 100ms deadline did not return")
	}
}

func TestWatchConnCloseEndsAWaitingRead(t *testing.T) {
	srv, _ := watchPair(t, true)
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	srv.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on a closed connection = %v, want net.ErrClosed", err)
		}
	case <-time.After(hang):
		t.Fatal("Close did not end the waiting Read")
	}
}

// BenchmarkConnCycle is one keep-alive request's connection work as
// net/http does it with loadrig's four timeouts: the deadline moves of one
// request (whole-request read bound, background read, its abort, the
// write bound, idle, header), the read of the request and the write of
// the response. A client goroutine keeps requests queued and drains the
// responses, so the server side seldom waits. plain is net.Conn's own
// deadlines, watched is watchConn; the difference is what the watchdog
// saves per request.
//
//	go test -run '^$' -bench ConnCycle -cpu 1 ./internal/server/
func BenchmarkConnCycle(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "plain"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			srv, cli := watchPair(b, watched)
			resp := make([]byte, 412)
			req := []byte("GET /api/products/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			reqs := bytes.Repeat(req, 64)
			go func() {
				for {
					if _, err := cli.Write(reqs); err != nil {
						return
					}
				}
			}()
			go func() { _, _ = io.Copy(io.Discard, cli) }()
			buf := make([]byte, len(req))
			aLongTimeAgo := time.Unix(1, 0)
			for b.Loop() {
				_ = srv.SetReadDeadline(time.Now().Add(2 * time.Minute))  // idle
				_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second)) // header
				if _, err := io.ReadFull(srv, buf); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				_ = srv.SetReadDeadline(t0.Add(30 * time.Second))     // whole request
				_ = srv.SetWriteDeadline(time.Now().Add(time.Minute)) // write bound
				_ = srv.SetReadDeadline(time.Time{})                  // background read
				_ = srv.SetReadDeadline(aLongTimeAgo)                 // its abort
				_ = srv.SetReadDeadline(time.Time{})
				if _, err := srv.Write(resp); err != nil {
					b.Fatal(err)
				}
				_ = srv.SetWriteDeadline(time.Time{})
			}
		})
	}
}

// BenchmarkDeadlineMoves is only the deadline moves of one request (see
// BenchmarkConnCycle), without the I/O that would hide them in noise.
//
//	go test -run '^$' -bench DeadlineMoves -cpu 1 ./internal/server/
func BenchmarkDeadlineMoves(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "plain"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			srv, _ := watchPair(b, watched)
			aLongTimeAgo := time.Unix(1, 0)
			for b.Loop() {
				_ = srv.SetReadDeadline(time.Now().Add(2 * time.Minute))
				_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
				t0 := time.Now()
				_ = srv.SetReadDeadline(t0.Add(30 * time.Second))
				_ = srv.SetWriteDeadline(time.Now().Add(time.Minute))
				_ = srv.SetReadDeadline(time.Time{})
				_ = srv.SetReadDeadline(aLongTimeAgo)
				_ = srv.SetReadDeadline(time.Time{})
				_ = srv.SetWriteDeadline(time.Time{})
			}
		})
	}
}

// Concurrent writers, as net.Conn allows: every byte arrives once.
func TestWatchConnConcurrentWrites(t *testing.T) {
	srv, cli := watchPair(t, true)
	const writers, each = 8, 200
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			msg := bytes.Repeat([]byte{byte('a' + w)}, 64)
			for range each {
				if _, err := srv.Write(msg); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	got := make([]byte, writers*each*64)
	_ = cli.SetReadDeadline(time.Now().Add(hang))
	if _, err := io.ReadFull(cli, got); err != nil {
		t.Fatal(err)
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	counts := map[byte]int{}
	for _, b := range got {
		counts[b]++
	}
	for w := range writers {
		if n := counts[byte('a'+w)]; n != each*64 {
			t.Fatalf("writer %d: %d bytes arrived, want %d", w, n, each*64)
		}
	}
}

// A deadline moved later while a read waits holds: the read goes on past
// the first deadline and returns the data that comes after it.
func TestWatchConnDeadlineMovedLaterWhileWaiting(t *testing.T) {
	srv, cli := watchPair(t, true)
	_ = srv.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, 8)
		n, err := srv.Read(buf)
		done <- result{string(buf[:n]), err}
	}()
	time.Sleep(5 * time.Millisecond)
	_ = srv.SetReadDeadline(time.Now().Add(hang))
	time.Sleep(30*time.Millisecond + 2*deadlineTick) // past the first deadline and the watchdog's ticks
	if _, err := cli.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.s != "late" {
			t.Fatalf("Read = %q, %v; want \"late\" (the deadline was moved later)", r.s, r.err)
		}
	case <-time.After(hang):
		t.Fatal("Read did not return")
	}
}

// An interrupt the connection still holds although no deadline is asked
// for any more (the watchdog's, raced by a move) does not fail the next
// read or write: they clear it and go on.
func TestWatchConnStaleInterruptIsCleared(t *testing.T) {
	srv, cli := watchPair(t, true)
	wc := srv.(*watchConn)
	_ = wc.Conn.SetReadDeadline(aLongTimeAgo)
	_ = wc.Conn.SetWriteDeadline(aLongTimeAgo)
	wc.rd.real.Store(true)
	wc.wd.real.Store(true)
	if _, err := cli.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Read(make([]byte, 8)); n != 1 || err != nil {
		t.Fatalf("Read = %d, %v; want 1, nil", n, err)
	}
	if n, err := srv.Write([]byte("y")); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v; want 1, nil", n, err)
	}
}

// The watchdog ticks only while it has connections: it stops once the
// last one closes and starts again with the next.
func TestWatchdogStopsWhenIdle(t *testing.T) {
	w := &watchdog{tick: time.Millisecond}
	running := func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.running
	}
	waitFor := func(want bool) {
		t.Helper()
		for start := time.Now(); running() != want; time.Sleep(time.Millisecond) {
			if time.Since(start) > hang {
				t.Fatalf("watchdog running = %v, want %v", !want, want)
			}
		}
	}
	for range 2 {
		srv, _ := watchPair(t, false)
		c := newWatchConn(srv, w, nil)
		waitFor(true)
		c.Close()
		waitFor(false)
		if len(w.conns) != 0 {
			t.Fatalf("%d connections still registered", len(w.conns))
		}
	}
}

// Closing gives the cap's slot back once, however often Close is called.
func TestWatchConnCloseReleasesOnce(t *testing.T) {
	srv, _ := watchPair(t, false)
	released := 0
	c := newWatchConn(srv, &watchdog{tick: deadlineTick}, func() { released++ })
	c.Close()
	c.Close()
	if released != 1 {
		t.Fatalf("released %d times, want 1", released)
	}
}

// A watched connection carries its own request scope: ConnScope hands out
// the one inside it (one per-connection object per request instead of
// two), a second scope for the same connection is a new one, and any
// other connection gets a new one.
func TestConnScopeInsideWatchConn(t *testing.T) {
	srv, _ := watchPair(t, true)
	wc := srv.(*watchConn)
	ctx := context.WithValue(context.Background(), exchangeKey{}, "base")
	got := ConnScope(ctx, wc)
	if got != context.Context(&wc.scope) {
		t.Fatalf("ConnScope(watchConn) = %p, want the connection's own scope %p", got, &wc.scope)
	}
	if again := ConnScope(ctx, wc); again == got {
		t.Fatal("a second ConnScope for the same connection reused the first")
	}
	plain, _ := watchPair(t, false)
	if s, ok := ConnScope(ctx, plain).(*connScope); !ok || s == &wc.scope {
		t.Fatalf("ConnScope(plain conn) = %T, want a new *connScope", s)
	}
	// The scope answers the request's Exchange and falls back to its base.
	e := &Exchange{Context: got}
	wc.scope.cur.Store(e)
	if v := got.Value(exchangeKey{}); v != e {
		t.Fatalf("scope Value(exchangeKey) = %v, want the current Exchange", v)
	}
	wc.scope.cur.Store(nil)
	if v := got.Value(exchangeKey{}); v != "base" {
		t.Fatalf("scope Value(exchangeKey) with no request = %v, want the base context's", v)
	}
}
