//go:build linux

package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// lazyPair returns a lazyConn (the server side) and the plain client side
// of one loopback TCP connection.
func lazyPair(tb testing.TB, lazy bool) (srv, cli net.Conn) {
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
	if lazy {
		lc := newLazyConn(srv)
		if lc == nil {
			tb.Fatal("no lazyConn for a TCP connection")
		}
		srv = lc
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

func TestLazyConnReadsWritesAndEOF(t *testing.T) {
	srv, cli := lazyPair(t, true)
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
func TestLazyConnReadDeadlineBoundsAWait(t *testing.T) {
	srv, _ := lazyPair(t, true)
	if err := srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 8)); done <- err }()
	select {
	case err := <-done:
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
func TestLazyConnPastDeadlineInterrupts(t *testing.T) {
	srv, cli := lazyPair(t, true)
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
func TestLazyConnDeadlineMovedLaterAfterExpiry(t *testing.T) {
	srv, cli := lazyPair(t, true)
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
func TestLazyConnWriteDeadlineBoundsAWait(t *testing.T) {
	srv, _ := lazyPair(t, true)
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

func TestLazyConnCloseEndsAWaitingRead(t *testing.T) {
	srv, _ := lazyPair(t, true)
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
// deadlines, lazy is lazyConn; the difference is what lazy deadlines save
// per request.
//
//	go test -run '^$' -bench ConnCycle -cpu 1 ./internal/server/
func BenchmarkConnCycle(b *testing.B) {
	for _, lazy := range []bool{false, true} {
		name := "plain"
		if lazy {
			name = "lazy"
		}
		b.Run(name, func(b *testing.B) {
			srv, cli := lazyPair(b, lazy)
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
	for _, lazy := range []bool{false, true} {
		name := "plain"
		if lazy {
			name = "lazy"
		}
		b.Run(name, func(b *testing.B) {
			srv, _ := lazyPair(b, lazy)
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
func TestLazyConnConcurrentWrites(t *testing.T) {
	srv, cli := lazyPair(t, true)
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
