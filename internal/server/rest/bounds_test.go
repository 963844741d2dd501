package rest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/server"
)

// TestPaddedListBudget: the request that once grew the server past 4 GB
// (1000 products × 4 MiB of padding) is a 400 before any work, and the
// server's allocations stay flat. Not parallel: it reads the process's
// allocation counter.
func TestPaddedListBudget(t *testing.T) {
	rt := newRESTTest(t, nil, Deps{MaxResponse: 8000})
	wantStatus(t, rt.get("/api/products?limit=8&pad=1000"), 200) // at the budget: served
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := rt.get(fmt.Sprintf("/api/products?limit=1000&pad=%d", DefaultMaxPadBytes))
	runtime.ReadMemStats(&after)
	p := wantProblem(t, r, 400, "invalid")
	if !strings.Contains(p.Detail, "budget") {
		t.Errorf("detail %q does not name the budget", p.Detail)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("the refused request allocated %d bytes; want it refused before any work", grew)
	}
	wantProblem(t, rt.get("/api/products?limit=9&pad=1000"), 400, "invalid")
}

// TestHeaderCap: headers past 64 KiB are 431.
func TestHeaderCap(t *testing.T) {
	t.Parallel()
	rt := newRESTTest(t, nil, Deps{})
	wantStatus(t, rt.get("/api/products/1", "X-Big", strings.Repeat("a", 32<<10)), 200)
	r, err := http.NewRequest(http.MethodGet, rt.url+"/api/products/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Big", strings.Repeat("a", 80<<10))
	resp, err := rt.c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("80 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// TestConnCap: at --max-conns a new connection gets a 503 and is closed;
// once one closes, connections are served again.
func TestConnCap(t *testing.T) {
	t.Parallel()
	conns := &server.ConnStats{}
	h := NewHandler(Deps{Catalog: freeStore(t), Conns: conns})
	srv := server.NewHTTP(server.HTTPOptions{Handler: h, Conns: conns, MaxConns: 2})
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := srv.Addr().String()
	get := func(c net.Conn) (int, error) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if code, err := get(c); code != 200 {
			t.Fatalf("connection under the cap: %d, %v", code, err)
		}
		held = append(held, c)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("connection past the cap: %v, %v; want 503", resp, err)
	}
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Error("the refused connection stayed open")
	}
	if conns.Rejected() != 1 {
		t.Errorf("rejected = %d, want 1", conns.Rejected())
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		code, err := get(c)
		c.Close()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a connection closed: %d, %v", code, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
