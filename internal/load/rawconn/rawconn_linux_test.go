//go:build linux

package rawconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestWriteWaitsForSpaceAndReadsAll(t *testing.T) {
	c, s := tcpPair(t)
	r := Wrap(c)
	if _, ok := r.(*conn); !ok {
		t.Fatalf("Wrap(%T) = %T, want the raw wrapper", c, r)
	}
	// Far more than the socket buffers hold: the write must wait in the
	// poller (EAGAIN) while the peer drains, and still write every byte.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(s)
		got <- b
	}()
	n, err := r.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d identical", len(b), len(want))
	}

	// Reads: data, then io.EOF once the peer closed.
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	all, err := io.ReadAll(r)
	if err != nil || string(all) != "pong" {
		t.Fatalf("ReadAll = %q, %v; want \"pong\", nil (io.EOF ends it)", all, err)
	}
	if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestErrorsLikeNetConn(t *testing.T) {
	c, s := tcpPair(t)
	r := Wrap(c)

	// A past deadline (how the fast path aborts an operation) ends a
	// blocked read with a timeout error.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err := r.Read(make([]byte, 8))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past deadline = %v, want a net.Error with Timeout()", err)
	}
	c.SetReadDeadline(time.Time{})

	// A reset by the peer is ECONNRESET.
	s.SetLinger(0)
	s.Close()
	// The read waits in the poller until the RST arrives.
	_, err = r.Read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after RST = %v, want ECONNRESET", err)
	}

	// A closed connection reports net.ErrClosed.
	c.Close()
	if _, err := r.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on closed conn = %v, want net.ErrClosed", err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// One goroutine reads while another writes, as grpc-go does: the read and
// the write keep separate state.
func TestConcurrentReadAndWrite(t *testing.T) {
	c, s := tcpPair(t)
	r := Wrap(c)
	const n = 1 << 20
	// The peer echoes everything back.
	go func() { io.Copy(s, s) }()
	want := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), n/32)
	werr := make(chan error, 1)
	go func() {
		for off := 0; off < len(want); off += 4096 {
			if _, err := r.Write(want[off : off+4096]); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	got := make([]byte, 0, n)
	buf := make([]byte, 3000)
	for len(got) < n {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("echoed bytes differ from the written ones")
	}
}

// Deadlines and Close reach the wrapped connection.
func TestWrapKeepsConnMethods(t *testing.T) {
	c, _ := tcpPair(t)
	r := Wrap(c)
	if r.LocalAddr().String() != c.LocalAddr().String() || r.RemoteAddr().String() != c.RemoteAddr().String() {
		t.Fatal("addresses differ from the wrapped connection's")
	}
	if err := r.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("deadline set through the wrapper: Read = %v, want os.ErrDeadlineExceeded", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after the wrapper's Close: Write = %v, want net.ErrClosed", err)
	}
}

// WriteThenRead: a request-response exchange in one poller wait gets every
// reply (the peer answers after it read the whole request), including when
// the request is far larger than the socket buffers (the write then
// finishes as Write does) and when the reply is already there (a 1-byte
// request answered at once, many times in a row).
func TestWriteThenRead(t *testing.T) {
	c, s := tcpPair(t)
	r := Wrap(c).(*conn)
	go func() { // answer each request "n:<len>" with "ok<len>"
		buf := make([]byte, 64<<10)
		for {
			var hdr [16]byte
			if _, err := io.ReadFull(s, hdr[:]); err != nil {
				return
			}
			var n int
			fmt.Sscanf(string(bytes.TrimSpace(hdr[:])), "%d", &n)
			for n > 0 {
				k, err := s.Read(buf[:min(n, len(buf))])
				if err != nil {
					return
				}
				n -= k
			}
			if _, err := s.Write([]byte("ok")); err != nil {
				return
			}
		}
	}()
	for i, size := range []int{0, 1, 100, 4 << 20, 3, 0, 1 << 16} {
		req := fmt.Appendf(nil, "%-16d", size)
		req = append(req, bytes.Repeat([]byte{'x'}, size)...)
		for range 50 {
			p := make([]byte, 8)
			got := 0
			wn, rn, err := r.WriteThenRead(req, p)
			if err != nil || wn != len(req) {
				t.Fatalf("exchange %d (%d B): WriteThenRead = %d, %d, %v; want %d written", i, size, wn, rn, err, len(req))
			}
			got += rn
			for got < 2 { // the reply may come in two reads
				n, err := r.Read(p[got:])
				if err != nil {
					t.Fatal(err)
				}
				got += n
			}
			if string(p[:got]) != "ok" {
				t.Fatalf("exchange %d: reply %q, want ok", i, p[:got])
			}
			if size > 1<<10 {
				break
			}
		}
	}
}

// WriteThenRead's errors read like Write's and Read's: a past deadline
// before the request went is a write timeout (nothing written), a peer
// that closes after the request is io.EOF with the request written, and a
// closed connection is net.ErrClosed.
func TestWriteThenReadErrors(t *testing.T) {
	c, s := tcpPair(t)
	r := Wrap(c).(*conn)
	c.SetDeadline(time.Now().Add(-time.Second))
	wn, _, err := r.WriteThenRead([]byte("req"), make([]byte, 8))
	var oe *net.OpError
	if wn != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("past deadline: WriteThenRead = %d, %v; want 0 and a write timeout", wn, err)
	}
	c.SetDeadline(time.Time{})
	go func() {
		b := make([]byte, 3)
		io.ReadFull(s, b)
		s.Close()
	}()
	wn, rn, err := r.WriteThenRead([]byte("req"), make([]byte, 8))
	if wn != 3 || rn != 0 || err != io.EOF {
		t.Fatalf("peer closed: WriteThenRead = %d, %d, %v; want 3, 0, io.EOF", wn, rn, err)
	}
	c.Close()
	if _, _, err := r.WriteThenRead([]byte("req"), make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed: WriteThenRead = %v, want net.ErrClosed", err)
	}
}
