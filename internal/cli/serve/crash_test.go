package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/store/pgtest"
)

var pgCluster *pgtest.Cluster

func TestMain(m *testing.M) { pgtest.Main(runThenRemoveBinary{m}, &pgCluster) }

// runThenRemoveBinary runs the tests, then removes the loadrig binary
// loadrigBinary built (63 MB a run, left in the temp dir otherwise).
type runThenRemoveBinary struct{ m *testing.M }

func (r runThenRemoveBinary) Run() int {
	code := r.m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// loadrigBinary builds cmd/loadrig once per test run.
func loadrigBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadrig-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "loadrig")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/loadrig/loadrig/cmd/loadrig").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a running `loadrig serve rest`.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// startServe starts `loadrig serve rest` and waits for its URL on stdout.
func startServe(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProc(t, append([]string{"serve", "rest", "--addr", "127.0.0.1:0"}, args...)...)
}

// startProc starts the binary with args and waits for the URL it prints
// after "listening on ".
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, args...)
}

// startProcEnv is startProc with env added to the test's environment
// (secrets go there, never in argv).
func startProcEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(loadrigBinary(t), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = syncWriter{p.mu, p.logs}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				urls <- strings.TrimSpace(u)
			}
		}
	}()
	select {
	case p.url = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start: %s", p.log())
	}
	return p
}

func call(t *testing.T, method, url, token string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func login(t *testing.T, base string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, b := call(t, "POST", base+"/api/login", "", map[string]string{"email": "user1@example.com", "password": "loadrig"})
		if code == 200 {
			var tok struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" {
				t.Fatalf("login: %s", b)
			}
			return tok.Token
		}
		if time.Now().After(deadline) {
			t.Fatalf("login: %d %s", code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func backlog(t *testing.T, base string) float64 {
	t.Helper()
	_, _, b := call(t, "GET", base+"/stats", "", nil)
	var st struct {
		WriteBehind struct {
			Backlog float64 `json:"backlog"`
		} `json:"write_behind"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats: %v: %s", err, b)
	}
	return st.WriteBehind.Backlog
}

// kill -9 under write-behind with a backlog: a restarted server on the
// same Redis and database flushes every acknowledged write within 10 s.
func TestKill9UnderWriteBehindLosesNothing(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var spec string
			if backend == "sqlite" {
				spec = "sqlite:" + filepath.Join(t.TempDir(), "shop.db")
			} else {
				spec = pgCluster.NewDatabase(t)
			}
			redistest.Require(t, "redis-server")
			// The Redis outlives the loadrig processes (it is the test's).
			rin, err := rediscache.Start(t.Context(), rediscache.StartOptions{DataDir: filepath.Join(t.TempDir(), "redis")})
			if err != nil {
				t.Fatal(err)
			}
			defer rin.Close()
			common := []string{"--store", spec, "--cache", "redis", "--strategy", "write-behind", "--redis-url", rin.URL(), "--dataset", "products=200,users=5,orders=5,reviews=1"}
			// A slow store keeps the backlog from draining before the kill.
			a := startServe(t, append(common, "--store-latency", "500ms")...)
			tok := login(t, a.url)
			acked := map[int]float64{}
			// A few products written many times: each is loaded into Redis
			// once (one slow store read), then writes are acknowledged at
			// Redis speed while each flush costs the slow store's latency.
			for round := range 20 {
				for id := 1; id <= 6; id++ {
					price := float64(1000*round+id) + 0.25
					code, _, b := call(t, "PATCH", fmt.Sprintf("%s/api/products/%d", a.url, id), tok, map[string]float64{"price": price})
					if code != 200 {
						t.Fatalf("PATCH %d: %d %s", id, code, b)
					}
					acked[id] = price
				}
			}
			// An order past the acknowledged stock is refused at once.
			code, _, b := call(t, "PATCH", a.url+"/api/products/50", tok, map[string]int{"stock": 2})
			if code != 200 {
				t.Fatalf("PATCH stock: %d %s", code, b)
			}
			if code, _, b := call(t, "POST", a.url+"/api/orders", tok, map[string]any{"user_id": 1, "items": []map[string]int{{"product_id": 50, "quantity": 3}}}); code != 409 {
				t.Fatalf("order past the stock: %d %s, want 409", code, b)
			}
			if code, _, b := call(t, "POST", a.url+"/api/orders", tok, map[string]any{"user_id": 1, "items": []map[string]int{{"product_id": 50, "quantity": 2}}}); code != 201 && code != 200 {
				t.Fatalf("order within the stock: %d %s", code, b)
			}
			for id := 1; id <= 6; id++ { // a burst the flusher cannot have taken yet
				price := float64(99000+id) + 0.75
				if code, _, b := call(t, "PATCH", fmt.Sprintf("%s/api/products/%d", a.url, id), tok, map[string]float64{"price": price}); code != 200 {
					t.Fatalf("PATCH %d: %d %s", id, code, b)
				}
				acked[id] = price
			}
			bl := backlog(t, a.url)
			if bl == 0 {
				t.Fatal("backlog already empty: the test would prove nothing")
			}
			if err := a.cmd.Process.Kill(); err != nil { // kill -9
				t.Fatal(err)
			}
			_ = a.cmd.Wait()
			t.Logf("killed with backlog %v", bl)

			start := time.Now()
			bsrv := startServe(t, common...)
			deadline := start.Add(10 * time.Second)
			for {
				missing := 0
				for id, price := range acked {
					code, _, b := call(t, "GET", fmt.Sprintf("%s/api/products/%d", bsrv.url, id), "", nil, "Cache-Control", "no-cache")
					var p struct {
						Price float64 `json:"price"`
					}
					if code != 200 || json.Unmarshal(b, &p) != nil || p.Price != price {
						missing++
					}
				}
				code, _, b := call(t, "GET", bsrv.url+"/api/products/50", "", nil, "Cache-Control", "no-cache")
				var p struct {
					Stock int64 `json:"stock"`
				}
				_ = json.Unmarshal(b, &p)
				if missing == 0 && code == 200 && p.Stock == 0 && backlog(t, bsrv.url) == 0 {
					t.Logf("every acknowledged write in the %s store %v after the restart", backend, time.Since(start).Round(10*time.Millisecond))
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d acknowledged writes not in the store 10 s after the restart (stock of 50: %d); logs:\n%s", missing, p.Stock, bsrv.log())
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// The database stopped mid-run: requests that need it get 503 with
// Retry-After, the server recovers when it returns, and nothing it
// acknowledged is lost.
func TestDatabaseOutage(t *testing.T) {
	if pgCluster == nil {
		pgCluster.NewDatabase(t) // skips loudly
	}
	spec := pgCluster.NewDatabase(t)
	s := startServe(t, "--store", spec, "--dataset", "products=100,users=5,orders=5,reviews=1")
	tok := login(t, s.url)
	acked := map[int]float64{}
	patch := func(id int, price float64) int {
		code, _, _ := call(t, "PATCH", fmt.Sprintf("%s/api/products/%d", s.url, id), tok, map[string]float64{"price": price})
		if code == 200 {
			acked[id] = price
		}
		return code
	}
	for id := 1; id <= 10; id++ {
		if code := patch(id, float64(id)+0.5); code != 200 {
			t.Fatalf("PATCH before the outage: %d", code)
		}
	}
	if err := pgCluster.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = pgCluster.Start()
		}
	}()
	code, hdr, b := call(t, "GET", s.url+"/api/products/3", "", nil)
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("read during the outage: %d Retry-After %q %s", code, hdr.Get("Retry-After"), b)
	}
	if code := patch(11, 11.5); code != 503 {
		t.Fatalf("write during the outage: %d, want 503", code)
	}
	if err := pgCluster.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, _ := call(t, "GET", s.url+"/api/products/3", "", nil)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the database returned: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := patch(12, 12.5); code != 200 {
		t.Fatalf("write after recovery: %d", code)
	}
	for id, price := range acked {
		code, _, b := call(t, "GET", fmt.Sprintf("%s/api/products/%d", s.url, id), "", nil, "Cache-Control", "no-cache")
		var p struct {
			Price float64 `json:"price"`
		}
		if code != 200 || json.Unmarshal(b, &p) != nil || p.Price != price {
			t.Errorf("acknowledged write to %d lost: %d %s", id, code, b)
		}
	}
	_, _, st := call(t, "GET", s.url+"/stats", "", nil)
	if !bytes.Contains(st, []byte(`"backend":"postgres"`)) || !bytes.Contains(st, []byte(`"unavailable":`)) {
		t.Errorf("stats: %s", st)
	}
}

// Bad store input through the real binary: one line on stderr, exit 2,
// a database unreachable at start detected within 10 s.
func TestBadStoreExitsTwo(t *testing.T) {
	bin := loadrigBinary(t)
	for _, spec := range []string{"mysql://x", "postgres://postgres:secret@127.0.0.1:1/x?sslmode=disable"} {
		start := time.Now()
		cmd := exec.Command(bin, "serve", "rest", "--addr", "127.0.0.1:0", "--store", spec)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%s: %v, want exit code 2; stderr %s", spec, err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "loadrig: --store") || strings.Contains(stderr.String(), "secret") {
			t.Errorf("%s: stderr %q, want one line starting 'loadrig: --store' without the password", spec, stderr.String())
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", spec, d)
		}
	}
}
