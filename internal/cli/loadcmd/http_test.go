package loadcmd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

// parse runs `load http` flag parsing and returns the options runF saw.
func parse(t *testing.T, args ...string) (*HTTPOptions, error) {
	t.Helper()
	var got *HTTPOptions
	cmd := NewCmdHTTP(testFactory(), func(o *HTTPOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestHTTPFlags(t *testing.T) {
	o, err := parse(t, "--rate", "250", "--max-inflight", "64", "-d", "3s", "-X", "POST",
		"-H", "A: 1", "-H", "B: {{.Seq}}", "--body", "x", "--http2", "--connections", "8",
		"--expect-status", "200-204", "--cache-header", "CF-Cache-Status", "--data-mode", "random",
		"--seed", "7", "-o", "out.json", "--format", "json", "-q", "--name", "n1", "http://127.0.0.1:1/p?q={{.Seq}}")
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "http://127.0.0.1:1/p?q={{.Seq}}" || o.Method != "POST" || strings.Join(o.Headers, "|") != "A: 1|B: {{.Seq}}" ||
		o.Body != "x" || !o.HTTP2 || o.Connections != 8 || o.ExpectStatus != "200-204" || o.CacheHeader != "CF-Cache-Status" ||
		o.DataMode != "random" || o.Seed != 7 {
		t.Fatalf("http flags: %+v", o)
	}
	lf := o.Load
	if lf.Rate != 250 || lf.MaxInflight != 64 || lf.Duration != 3*time.Second || lf.Output != "out.json" ||
		lf.Format != "json" || !lf.Quiet || lf.Name != "n1" {
		t.Fatalf("load flags: %+v", lf)
	}
	cfg, err := lf.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rate != 250 || cfg.MaxInflight != 64 || cfg.Concurrency != 0 || cfg.Duration != 3*time.Second {
		t.Fatalf("config: %+v", cfg)
	}
}

func TestDefaultsAndConfig(t *testing.T) {
	cases := []struct {
		args []string
		want load.Config
	}{
		{nil, load.Config{Concurrency: DefaultConcurrency, Duration: DefaultDuration}},
		{[]string{"-n", "100"}, load.Config{Concurrency: DefaultConcurrency, Requests: 100}},
		{[]string{"-n", "100", "-d", "5s"}, load.Config{Concurrency: DefaultConcurrency, Requests: 100, Duration: 5 * time.Second}},
		{[]string{"-c", "3", "--think-time", "10ms"}, load.Config{Concurrency: 3, ThinkTime: 10 * time.Millisecond, Duration: DefaultDuration}},
		{[]string{"--rate", "10"}, load.Config{Rate: 10, MaxInflight: load.DefaultMaxInflight, Duration: DefaultDuration}},
		{[]string{"--stages", "1s:0-10,2s:10"}, load.Config{MaxInflight: load.DefaultMaxInflight,
			Stages: []load.Stage{{Duration: time.Second, From: 0, To: 10}, {Duration: 2 * time.Second, From: 10, To: 10}}}},
	}
	for _, c := range cases {
		o, err := parse(t, append(c.args, "http://127.0.0.1:1/")...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		cfg, err := o.Load.Config()
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		g, w := cfg, c.want
		if g.Rate != w.Rate || g.Concurrency != w.Concurrency || g.Duration != w.Duration || g.Requests != w.Requests ||
			g.MaxInflight != w.MaxInflight || g.ThinkTime != w.ThinkTime || load.FormatStages(g.Stages) != load.FormatStages(w.Stages) {
			t.Errorf("%v: got %+v, want %+v", c.args, g, w)
		}
		if g.Timeout != load.DefaultTimeout || g.Tick != load.DefaultTick || g.Grace != load.DefaultGrace {
			t.Errorf("%v: engine defaults not passed: %+v", c.args, g)
		}
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "0", "http://127.0.0.1:1/"}, "--rate must be > 0"},
		{[]string{"--rate", "-1", "http://127.0.0.1:1/"}, "--rate must be > 0"},
		{[]string{"--rate", "fast", "http://127.0.0.1:1/"}, `invalid argument "fast"`},
		{[]string{"--stages", "10s", "http://127.0.0.1:1/"}, "--stages"},
		{[]string{"--stages", "1s:0", "http://127.0.0.1:1/"}, "every stage has rate 0"},
		{[]string{"--rate", "5", "--stages", "1s:5", "http://127.0.0.1:1/"}, "give one of them"},
		{[]string{"--rate", "5", "-c", "2", "http://127.0.0.1:1/"}, "exclude each other"},
		{[]string{"-c", "0", "http://127.0.0.1:1/"}, "at least 1 worker"},
		{[]string{"--rate", "5", "--think-time", "1s", "http://127.0.0.1:1/"}, "closed model"},
		{[]string{"--max-inflight", "5", "http://127.0.0.1:1/"}, "open model"},
		{[]string{"-d", "0", "http://127.0.0.1:1/"}, "needs --requests"},
		{[]string{"-n", "-3", "http://127.0.0.1:1/"}, "must not be negative"},
		{[]string{"--timeout", "0s", "http://127.0.0.1:1/"}, "--timeout and --tick must be > 0"},
		{[]string{"--format", "yaml", "http://127.0.0.1:1/"}, "unknown --format"},
		{[]string{"-o", "/nonexistent-dir/r.json", "http://127.0.0.1:1/"}, "directory /nonexistent-dir does not exist"},
		{[]string{"127.0.0.1:8080"}, "is not a URL"},
		{[]string{"ftp://127.0.0.1/"}, `scheme "ftp"`},
		{[]string{"http:///path"}, "has no host"},
		{[]string{"http://{{.Seq}}/"}, "not in the host"},
		{[]string{"--data-mode", "sorted", "http://127.0.0.1:1/"}, "--data-mode"},
		{[]string{"--expect-status", "abc", "http://127.0.0.1:1/"}, "--expect-status"},
		{[]string{"-H", "novalue", "http://127.0.0.1:1/"}, "Name: value"},
		{[]string{"--connections", "-1", "http://127.0.0.1:1/"}, "--connections"},
		{[]string{}, "needs the target URL"},
		{[]string{"http://a/", "http://b/"}, "takes 1 argument"},
		{[]string{"--nope", "http://a/"}, "unknown flag"},
	}
	for _, c := range cases {
		_, err := parse(t, c.args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			// pflag's parse errors become FlagErrors through the root's
			// FlagErrorFunc (tested in package cli); here they are plain.
			parseErr := strings.Contains(c.want, "unknown flag") || strings.Contains(c.want, "invalid argument")
			if !parseErr || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: want a usage error containing %q, got %v", c.args, c.want, err)
			}
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %q lacks %q", c.args, err, c.want)
		}
	}
}

func TestDriverOptionsFiles(t *testing.T) {
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	os.WriteFile(body, []byte(`{"id": {{.Row.id}}}`), 0o644)
	data := filepath.Join(dir, "rows.csv")
	os.WriteFile(data, []byte("id\n1\n2\n"), 0o644)
	o, err := parse(t, "--body", "@"+body, "--data", data, "--expect-status", "2xx", "http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	d, err := o.driverOptions()
	if err != nil {
		t.Fatal(err)
	}
	if d.Body != `{"id": {{.Row.id}}}` || d.Data == nil || len(d.ExpectStatus) != 1 || d.ExpectStatus[0].Lo != 200 {
		t.Fatalf("driver options: %+v", d)
	}
	for _, args := range [][]string{
		{"--body", "@" + filepath.Join(dir, "missing.json"), "http://127.0.0.1:1/"},
		{"--data", filepath.Join(dir, "missing.csv"), "http://127.0.0.1:1/"},
	} {
		o, err := parse(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.driverOptions()
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "missing") {
			t.Fatalf("%v: want FlagError naming the file, got %v", args, err)
		}
	}
}

// fakeDriver satisfies load.Driver for Execute tests that use a fake Runner.
type fakeDriver struct{}

func (fakeDriver) Protocol() string { return "http" }
func (fakeDriver) Target() string   { return "http://127.0.0.1:1/" }
func (fakeDriver) NewWorker(context.Context, int) (load.Worker, error) {
	return nil, errors.New("unused")
}
func (fakeDriver) Close() error        { return nil }
func (fakeDriver) CacheSource() string { return "X-Cache" }

func fakeResult(stop string) *metrics.Result {
	return &metrics.Result{Schema: metrics.Schema, Protocol: "http", Target: "http://127.0.0.1:1/", DurationS: 1,
		Model: metrics.Model{Kind: "closed", Concurrency: 1}, StopReason: stop,
		Requests: metrics.Requests{Total: 3, OK: 3}, Latency: metrics.Summary{P50: 100, N: 3}, ServiceTime: metrics.Summary{P50: 100, N: 3}}
}

func TestExecute(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.json")
	o, err := parse(t, "-c", "1", "-n", "3", "-o", out, "--name", "mine", "http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, stderr := iostreams.Test()
	var sawCfg load.Config
	runner := func(_ context.Context, d load.Driver, cfg load.Config) (*metrics.Result, error) {
		sawCfg = cfg
		return fakeResult(metrics.StopCount), nil
	}
	if err := Execute(t.Context(), Run{IO: ios, Flags: &o.Load, Driver: fakeDriver{}, ToolVersion: "loadrig test", Runner: runner}); err != nil {
		t.Fatal(err)
	}
	if sawCfg.CacheSource != "X-Cache" || sawCfg.Progress != nil || sawCfg.Requests != 3 {
		t.Fatalf("config given to the engine: %+v", sawCfg)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.ToolVersion != "loadrig test" || r.Name != "mine" {
		t.Fatalf("result file: %+v", r)
	}
	if !strings.Contains(stdout.String(), "http load on http://127.0.0.1:1/") || !strings.Contains(stdout.String(), "result written to "+out) {
		t.Fatalf("stdout:\n%s", stdout)
	}
	if stderr.Len() != 0 {
		t.Fatalf("no progress expected off a terminal, got %q", stderr)
	}

	// --format json prints the result file; an interrupted run still
	// prints and writes it, then reports ErrInterrupted (exit 130).
	o, _ = parse(t, "-c", "1", "--format", "json", "-o", out, "http://127.0.0.1:1/")
	ios, _, stdout, _ = iostreams.Test()
	runner = func(context.Context, load.Driver, load.Config) (*metrics.Result, error) {
		return fakeResult(metrics.StopInterrupted), nil
	}
	err = Execute(t.Context(), Run{IO: ios, Flags: &o.Load, Driver: fakeDriver{}, Runner: runner})
	if !errors.Is(err, cmdutil.ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	if r, err := metrics.Decode(stdout); err != nil || r.StopReason != metrics.StopInterrupted {
		t.Fatalf("stdout JSON: %v %+v", err, r)
	}
	if r, err := metrics.Load(out); err != nil || r.StopReason != metrics.StopInterrupted {
		t.Fatalf("partial result file: %v %+v", err, r)
	}

	// An engine error without a result is returned as is.
	boom := errors.New("worker 0: dial: boom")
	runner = func(context.Context, load.Driver, load.Config) (*metrics.Result, error) { return nil, boom }
	if err := Execute(t.Context(), Run{IO: ios, Flags: &o.Load, Driver: fakeDriver{}, Runner: runner}); !errors.Is(err, boom) {
		t.Fatalf("want engine error, got %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	got := formatProgress(load.Progress{Elapsed: 2 * time.Second, Total: 10 * time.Second, Done: 1500, RPS: 749.5, P99: 1234 * time.Microsecond, Errors: 2})
	if want := "2s/10s  1500 done  749.5/s  p99 1.23ms  errors 2"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := formatProgress(load.Progress{Elapsed: time.Second, Total: 5 * time.Second, Warmup: true}); got != "warm-up  1s/5s  0 done  0.0/s  p99 -  errors 0" {
		t.Fatalf("warm-up: %q", got)
	}
	var b strings.Builder
	p := &progressLine{w: &b}
	p.update(load.Progress{Elapsed: time.Second, Done: 10, RPS: 10})
	p.update(load.Progress{Elapsed: 2 * time.Second, Done: 5, RPS: 5})
	p.finish()
	s := b.String()
	if !strings.HasPrefix(s, "\r1s  10 done") || strings.Contains(s, "\n") || !strings.HasSuffix(s, "\r") {
		t.Fatalf("progress drawing: %q", s)
	}
	var nilp *progressLine
	nilp.finish() // must not panic
}

// TestHTTPRunEndToEnd runs the real engine and driver against an
// in-process target, bounded by count.
func TestHTTPRunEndToEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Cache", "HIT")
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parse(t, "-c", "2", "-n", "40", "-d", "30s", "-o", out, "--expect-body-contains", "hello", srv.URL+"/hello")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO, o.ToolVersion = ios, "loadrig e2e"
	if err := httpRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Total != 40 || r.Requests.OK != 40 || r.StopReason != metrics.StopCount || r.ToolVersion != "loadrig e2e" {
		t.Fatalf("result: %+v", r.Requests)
	}
	if r.Cache == nil || r.Cache.Hits != 40 || r.Cache.Source != "X-Cache" {
		t.Fatalf("cache: %+v", r.Cache)
	}
	if r.Client != "fast" {
		t.Fatalf("client = %q, want the HTTP/1.1 fast path for a plain http:// GET", r.Client)
	}
	// Without --name a plain load's workload is the method and URL template.
	if r.Name != "" || r.Workload != "GET "+srv.URL+"/hello" {
		t.Fatalf("name %q workload %q, want the method and URL", r.Name, r.Workload)
	}
	if !strings.Contains(stdout.String(), "40 total, 40 ok, 0 errors") || !strings.Contains(stdout.String(), "hit ratio 100.00%") {
		t.Fatalf("summary:\n%s", stdout)
	}
}

// TestHTTPRunUnreachable checks that a target nobody listens on is a
// measured run of refused errors, not a failure.
func TestHTTPRunUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o, err := parse(t, "-c", "1", "-n", "5", "--format", "json", "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO = ios
	if err := httpRun(t.Context(), o); err != nil {
		t.Fatalf("an unreachable target must not fail the command: %v", err)
	}
	r, err := metrics.Decode(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Errors != 5 || r.Requests.ErrorsByKind["refused"] != 5 {
		t.Fatalf("want 5 refused errors, got %+v", r.Requests)
	}
}

// TestHTTPRunInterrupted cancels the run's context like SIGINT does: the
// partial result is written with stop reason interrupted and the command
// reports ErrInterrupted (exit 130).
func TestHTTPRunInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parse(t, "--rate", "200", "-d", "20s", "--grace", "1s", "-o", out, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO = ios
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	err = httpRun(ctx, o)
	if !errors.Is(err, cmdutil.ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	r, lerr := metrics.Load(out)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if r.StopReason != metrics.StopInterrupted || r.Requests.Total == 0 {
		t.Fatalf("partial result: stop %q, requests %+v", r.StopReason, r.Requests)
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Fatalf("summary does not say interrupted:\n%s", stdout)
	}
}

// statsTarget is an in-process target whose /stats answers with status
// and body; it counts /stats requests.
func statsTarget(t *testing.T, status int, body string) (url string, scrapes *atomic.Int64) {
	t.Helper()
	scrapes = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" {
			scrapes.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		w.Header().Set("X-Cache", "HIT")
		w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, scrapes
}

const loadrigStats = `{"redis_mode":"none","cache":{"hits":30,"misses":10,"hit_ratio":0.75,"strategy":"aside"},` +
	`"store":{"calls":12},"connections":{"active":2,"total":3},"write_behind":{"enabled":false,"backlog":0}}`

// runWithStats runs `load http -c 2 -n 20` against url with extra flags and
// returns the result file and the text summary.
func runWithStats(t *testing.T, url string, extra ...string) (*metrics.Result, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parse(t, append(append([]string{"-c", "2", "-n", "20", "-d", "30s", "-o", out}, extra...), url+"/api/products/{{randInt 1 5}}")...)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	o.IO = ios
	if err := httpRun(t.Context(), o); err != nil {
		t.Fatalf("the run must succeed whatever /stats says: %v", err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.OK != 20 {
		t.Fatalf("requests %+v", r.Requests)
	}
	return r, stdout.String()
}

func TestScrapeStatsLoadrigServer(t *testing.T) {
	url, scrapes := statsTarget(t, http.StatusOK, loadrigStats)
	r, summary := runWithStats(t, url)
	if scrapes.Load() != 1 {
		t.Errorf("/stats read %d times, want once (after the run)", scrapes.Load())
	}
	if r.Server["redis_mode"] != "none" || r.Server["store"].(map[string]any)["calls"] != 12.0 {
		t.Fatalf("server section: %v", r.Server)
	}
	for _, want := range []string{"server (its /stats after the run", "30 hits, 10 misses, hit ratio 75.00% (aside)", "store calls  12", "2 active, 3 total"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "write-behind") {
		t.Errorf("summary shows a disabled write-behind:\n%s", summary)
	}
}

func TestScrapeStatsNotLoadrig(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"404":          {http.StatusNotFound, `{"redis_mode":"none"}`},
		"no signature": {http.StatusOK, `{"cache":{"hits":1}}`},
		"not json":     {http.StatusOK, `<html>stats</html>`},
		"json array":   {http.StatusOK, `[{"redis_mode":"none"}]`},
	} {
		t.Run(name, func(t *testing.T) {
			url, scrapes := statsTarget(t, tc.status, tc.body)
			r, summary := runWithStats(t, url)
			if scrapes.Load() != 1 || r.Server != nil || strings.Contains(summary, "server") {
				t.Fatalf("scrapes %d, server section %v, summary:\n%s", scrapes.Load(), r.Server, summary)
			}
		})
	}
}

func TestScrapeStatsOff(t *testing.T) {
	url, scrapes := statsTarget(t, http.StatusOK, loadrigStats)
	r, _ := runWithStats(t, url, "--scrape-stats=false")
	if scrapes.Load() != 0 || r.Server != nil {
		t.Fatalf("--scrape-stats=false: %d scrapes, server %v", scrapes.Load(), r.Server)
	}
}

// TestScrapeStatsBounded: a /stats that never answers, or a target that is
// gone, gives no section within the timeout.
func TestScrapeStatsBounded(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	if m := scrapeStats(t.Context(), srv.URL+"/x/{{.Seq}}?q=1", false, 50*time.Millisecond); m != nil {
		t.Fatalf("hanging /stats: %v", m)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if m := scrapeStats(t.Context(), "http://"+addr+"/", false, time.Second); m != nil {
		t.Fatalf("refused /stats: %v", m)
	}
}

func TestRevalidateFlag(t *testing.T) {
	o, err := parse(t, "--revalidate", "http://127.0.0.1:1/p/{{.Seq}}")
	if err != nil || !o.Revalidate || !o.ScrapeStats {
		t.Fatalf("parse: %v %+v", err, o)
	}
	dopts, err := o.driverOptions()
	if err != nil || !dopts.Revalidate {
		t.Fatalf("driver options: %v %+v", err, dopts)
	}
	o, err = parse(t, "--revalidate", "--revalidate-shared", "http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	if dopts, err := o.driverOptions(); err != nil || !dopts.Revalidate || !dopts.RevalidateShared {
		t.Fatalf("shared: %v %+v", err, dopts)
	}
	if _, err := parse(t, "--revalidate-shared", "http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "add --revalidate") {
		t.Fatalf("--revalidate-shared alone: %v", err)
	}
	if _, err := parse(t, "--revalidate", "-X", "POST", "http://127.0.0.1:1/"); err == nil ||
		!strings.Contains(err.Error(), "--revalidate applies to GET and HEAD, not POST") {
		t.Fatalf("--revalidate with POST: %v", err)
	}
}

// TestRevalidateEndToEnd: with --revalidate the second request to a URL
// carries its ETag and the 304 counts as revalidated.
func TestRevalidateEndToEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("X-Cache", "MISS")
		w.Write([]byte("entity"))
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "r.json")
	o, err := parse(t, "-c", "1", "-n", "10", "-d", "30s", "-o", out, "--revalidate", srv.URL+"/item")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	o.IO = ios
	if err := httpRun(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cache == nil || r.Cache.Misses != 1 || r.Cache.Revalidated != 9 {
		t.Fatalf("cache: %+v, want 1 miss then 9 revalidated", r.Cache)
	}
}

// By default only a loopback target is asked for /stats after the run; an
// explicit --scrape-stats asks any host; --scrape-stats=false none. The
// decision is checked without a request, as the non-loopback targets here
// must not be contacted.
func TestScrapeStatsOnlyLoopbackByDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"http://127.0.0.1:8080/x"}, true},
		{[]string{"http://127.8.9.10/"}, true},
		{[]string{"http://localhost:8080/api/products/{{zipf 1.1 1 10}}"}, true},
		{[]string{"http://[::1]:8080/"}, true},
		{[]string{"http://user:pw@127.0.0.1:8080/"}, true},
		{[]string{"https://api.example.com/products"}, false},
		{[]string{"http://10.0.0.5:8080/"}, false},
		{[]string{"http://127.0.0.1.example.com/"}, false},
		{[]string{"--scrape-stats", "https://api.example.com/products"}, true},
		{[]string{"--scrape-stats=false", "http://127.0.0.1:8080/"}, false},
	} {
		o, err := parse(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := o.shouldScrape(); got != tc.want {
			t.Errorf("%v: shouldScrape = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// LOADRIG_SCRAPE_STATS=true is as explicit as the flag: the root command's
// flag binding (reproduced here) sets flags from the environment, which
// counts as given.
func TestScrapeStatsFromEnvIsExplicit(t *testing.T) {
	f := testFactory()
	f.Getenv = func(k string) string {
		if k == "LOADRIG_SCRAPE_STATS" {
			return "true"
		}
		return ""
	}
	var got *HTTPOptions
	cmd := NewCmdHTTP(f, func(o *HTTPOptions) error { got = o; return nil })
	cmd.PreRunE = func(c *cobra.Command, _ []string) error { return f.BindFlags(c) }
	cmd.SetArgs([]string{"https://api.example.com/products"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.shouldScrape() {
		t.Fatal("LOADRIG_SCRAPE_STATS=true: a non-loopback target is not scraped")
	}
}

func TestShardFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "4/4"}, "not a shard i/N"},
		{[]string{"--shard", "x"}, "not a shard i/N"},
		{[]string{"--shard", "0/2", "--start-at", "tomorrow"}, "not an RFC 3339 time"},
		{[]string{"-c", "2", "--shard", "2/3"}, "--concurrency 2 cannot be split over 3 shards"},
		{[]string{"--rate", "10", "--shard-by", "tick"}, "--shard-by tick deals the shards of --shard i/N; add --shard"},
		{[]string{"-c", "4", "--shard", "0/2", "--shard-by", "tick"}, "--shard-by tick needs the open model"},
		{[]string{"--rate", "10", "--shard", "0/2", "--shard-by", "time"}, `--shard-by "time": use seq`},
	} {
		var lf LoadFlags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		lf.AddFlags(fs, nil)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if err := lf.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	var lf LoadFlags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	lf.AddFlags(fs, nil)
	_ = fs.Parse([]string{"-c", "10", "-n", "7", "--shard", "1/3", "--start-at", "2030-01-02T03:04:05Z"})
	cfg, err := lf.Config()
	if err != nil {
		t.Fatal(err)
	}
	// 10 workers over 3 shards: 4, 3, 3; 7 requests: 3, 2, 2.
	if cfg.Concurrency != 3 || cfg.Requests != 2 || cfg.ShardIndex != 1 || cfg.ShardCount != 3 || !cfg.IntervalHists ||
		cfg.StartAt.Format(time.RFC3339) != "2030-01-02T03:04:05Z" {
		t.Fatalf("%+v", cfg)
	}
	// Dealt by tick, --requests stays the whole run's.
	lf = LoadFlags{}
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	lf.AddFlags(fs, nil)
	_ = fs.Parse([]string{"--rate", "100", "-n", "7", "--shard", "1/3", "--shard-by", "tick"})
	if err := lf.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg, err := lf.Config(); err != nil || cfg.Requests != 7 || !cfg.ShardByTick || cfg.ShardIndex != 1 || cfg.ShardCount != 3 {
		t.Fatalf("%+v %v", cfg, err)
	}
	if lf.ShardSeed(5) == 5 {
		t.Fatal("shards draw the same template values")
	}
	if at, err := ParseStartAt("+5s", time.Unix(100, 0)); err != nil || !at.Equal(time.Unix(105, 0)) {
		t.Fatalf("+5s: %v %v", at, err)
	}
}
