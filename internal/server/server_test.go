package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadrig/loadrig/internal/domain"
)

func TestNormalizeAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":               "127.0.0.1:0",
		":8080":          "127.0.0.1:8080",
		"127.0.0.1:0":    "127.0.0.1:0",
		"0.0.0.0:9":      "0.0.0.0:9",
		"localhost:8080": "localhost:8080",
	} {
		got, err := NormalizeAddr(in)
		if err != nil || got != want {
			t.Errorf("NormalizeAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeAddr("8080"); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("NormalizeAddr(8080) error = %v, want a HOST:PORT hint", err)
	}
}

// newHTTP opens a server on 127.0.0.1:0 that is closed when the test ends.
func newHTTP(t *testing.T, h http.Handler) *HTTP {
	t.Helper()
	s := NewHTTP(HTTPOptions{Name: "test", Handler: h})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestHTTPOpenURLAndConnAccounting(t *testing.T) {
	t.Parallel()
	s := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || strings.HasSuffix(s.URL(), ":0") {
		t.Fatalf("URL = %q, want the real loopback port", s.URL())
	}
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Get(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if got := s.Conns().Total(); got != 1 {
		t.Errorf("total connections after 3 keep-alive requests = %d, want 1", got)
	}
	if got := s.Conns().Active(); got != 1 {
		t.Errorf("active connections = %d, want 1", got)
	}
	tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for s.Conns().Active() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Conns().Active(); got != 0 {
		t.Errorf("active connections after client closed = %d, want 0", got)
	}
}

func TestHTTPShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	s := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "drained")
	}))
	type res struct {
		body string
		err  error
	}
	got := make(chan res, 1)
	go func() {
		resp, err := http.Get(s.URL())
		if err != nil {
			got <- res{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- res{string(b), err}
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the in-flight request finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if r := <-got; r.err != nil || r.body != "drained" {
		t.Fatalf("in-flight request = %q, %v; want it to complete", r.body, r.err)
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Fatal("request after Shutdown succeeded")
	}
}

func TestHTTPShutdownDeadline(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	go func() {
		if resp, err := http.Get(s.URL()); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("server still serving after a forced shutdown")
	}
}

func TestHTTPRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	s := NewHTTP(HTTPOptions{Handler: http.NotFoundHandler()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, time.Second) }()
	for s.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after a clean drain", err)
	}
}

func TestLoggerCarriesRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, LogOptions{Level: "debug", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	l.With("server", "rest").DebugContext(WithRequestID(t.Context(), "abc-1"), "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["request_id"] != "abc-1" || rec["server"] != "rest" {
		t.Errorf("log record = %v, want request_id and server attributes", rec)
	}
	if _, err := NewLogger(&buf, LogOptions{Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := NewLogger(&buf, LogOptions{Level: "loud"}); err == nil {
		t.Error("level loud accepted")
	}
	buf.Reset()
	l, _ = NewLogger(&buf, LogOptions{Level: "warn"})
	l.Info("quiet")
	if buf.Len() != 0 {
		t.Errorf("info logged at level warn: %q", buf.String())
	}
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	g := NewRequestIDs()
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				id := g.Next()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 4000 {
		t.Fatalf("%d distinct ids of 4000", len(seen))
	}
	for id := range seen {
		if !ValidRequestID(id) {
			t.Fatalf("generated id %q is not valid", id)
		}
		break
	}
	// The count is base 36, as strconv writes it, at every width up to
	// the largest.
	for _, n := range []uint64{0, 8, 9, 34, 35, 36, 1295, 1296, 1<<32 + 7, math.MaxUint64 - 1} {
		g.n.Store(n)
		want := string(g.prefix) + strconv.FormatUint(n+1, 36)
		if got := g.Next(); got != want {
			t.Errorf("id after count %d = %q, want %q", n, got, want)
		}
	}
	if g.n.Store(math.MaxUint64 - 1); len(g.Next()) != idLen {
		t.Errorf("the longest id is not idLen (%d) bytes", idLen)
	}
	for _, bad := range []string{"", "has space", "new\nline", strings.Repeat("x", 129)} {
		if ValidRequestID(bad) {
			t.Errorf("ValidRequestID(%q) = true", bad)
		}
	}
}

func TestJWT(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		a := NewJWT(JWTOptions{Key: []byte("0123456789abcdef0123456789abcdef"), TTL: time.Minute})
		tok, err := a.Issue(ctx, 42)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := a.Verify(ctx, tok.Value); err != nil || id != 42 {
			t.Fatalf("Verify(fresh) = %d, %v", id, err)
		}
		other := NewJWT(JWTOptions{Key: []byte("another key, another key, another")})
		if _, err := other.Verify(ctx, tok.Value); domain.ErrorCode(err) != domain.CodeUnauthorized {
			t.Errorf("token verified with the wrong key: %v", err)
		}
		// alg "none" and a tampered payload are rejected.
		parts := strings.Split(tok.Value, ".")
		none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
		if _, err := a.Verify(ctx, none); domain.ErrorCode(err) != domain.CodeUnauthorized {
			t.Errorf("alg none accepted: %v", err)
		}
		if _, err := a.Verify(ctx, parts[0]+"."+parts[1]+"x."+parts[2]); err == nil {
			t.Error("tampered token accepted")
		}
		time.Sleep(time.Minute + time.Second)
		_, err = a.Verify(ctx, tok.Value)
		if domain.ErrorCode(err) != domain.CodeUnauthorized || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Verify(expired) = %v, want unauthorized: token expired", err)
		}
	})
}

// fakeSessions is a SessionStore over a map, with an injectable failure.
type fakeSessions struct {
	mu   sync.Mutex
	m    map[string]int64
	fail error
}

func (f *fakeSessions) PutSession(_ context.Context, id string, user int64, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.m[id] = user
	return nil
}

func (f *fakeSessions) GetSession(_ context.Context, id string) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, false, f.fail
	}
	u, ok := f.m[id]
	return u, ok, nil
}

func TestSessionAuth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &fakeSessions{m: map[string]int64{}}
	a := NewSessionAuth(st, time.Minute, nil)
	tok, err := a.Issue(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := a.Verify(ctx, tok.Value); err != nil || id != 7 {
		t.Fatalf("Verify = %d, %v", id, err)
	}
	if _, err := a.Verify(ctx, strings.Repeat("A", 32)); domain.ErrorCode(err) != domain.CodeUnauthorized {
		t.Errorf("unknown session: %v", err)
	}
	if _, err := a.Verify(ctx, "short"); domain.ErrorCode(err) != domain.CodeUnauthorized {
		t.Errorf("malformed session: %v", err)
	}
	st.fail = errors.New("connection refused")
	if _, err := a.Verify(ctx, tok.Value); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Errorf("store down: %v, want unavailable", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Rate{
		"100/s":     {100, time.Second, 100},
		"6000/m":    {6000, time.Minute, 6000},
		"1/h":       {1, time.Hour, 1},
		"10/250ms":  {10, 250 * time.Millisecond, 10},
		"100/s:20":  {100, time.Second, 20},
		"":          {},
		"off":       {},
		"0":         {},
		" 5/s ":     {5, time.Second, 5},
		"100/1s:50": {100, time.Second, 50},
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"100", "x/s", "-1/s", "10/fortnight", "10/s:0", "10/s:x", "0/s"} {
		if _, err := ParseRate(bad); err == nil || !strings.Contains(err.Error(), "100/s") {
			t.Errorf("ParseRate(%q) error = %v, want a hint", bad, err)
		}
	}
	if s := (Rate{100, time.Second, 20}).String(); s != "100/s:20" {
		t.Errorf("String = %q", s)
	}
}

func TestLocalLimiterGCRA(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := NewLocalLimiter(Rate{Events: 10, Per: time.Second, Burst: 3}, nil)
		for i := range 3 {
			d, _ := l.Allow(ctx, "a")
			if !d.Allowed || d.Remaining != 2-i {
				t.Fatalf("burst request %d: %+v", i, d)
			}
		}
		d, _ := l.Allow(ctx, "a")
		if d.Allowed || d.RetryAfter != 100*time.Millisecond {
			t.Fatalf("4th request in a burst of 3: %+v, want denied, retry after 100ms", d)
		}
		if d, _ := l.Allow(ctx, "b"); !d.Allowed {
			t.Fatal("another client is limited by a's traffic")
		}
		time.Sleep(d.RetryAfter)
		if d, _ := l.Allow(ctx, "a"); !d.Allowed {
			t.Fatalf("after waiting RetryAfter: %+v", d)
		}
		// Steady state: 10/s for 2 s passes exactly.
		time.Sleep(time.Second)
		allowed := 0
		for range 20 {
			time.Sleep(100 * time.Millisecond)
			if d, _ := l.Allow(ctx, "a"); d.Allowed {
				allowed++
			}
		}
		if allowed != 20 {
			t.Fatalf("%d of 20 requests spaced at the rate allowed", allowed)
		}
	})
}

func TestStatsCollector(t *testing.T) {
	t.Parallel()
	stats := func() map[string]any {
		return map[string]any{
			"cache":       map[string]any{"hits": int64(3), "misses": 1},
			"redis_mode":  "none",
			"connections": map[string]int64{"active": 2, "total": 5},
			"requests":    map[string]any{"GET /api/products/{id}": int64(9)},
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(StatsCollector("loadrig", stats))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"loadrig_cache_hits":                           3,
		"loadrig_cache_misses":                         1,
		"loadrig_connections_active":                   2,
		"loadrig_connections_total":                    5,
		"loadrig_requests{key=GET /api/products/{id}}": 9,
	}
	if len(got) != len(want) {
		t.Errorf("gathered %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "6000/m:20", "10/250ms", "off", "", "1/h", "x/y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil || !r.Enabled() {
			return
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %+v; String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
	})
}
