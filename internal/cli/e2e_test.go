package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/metrics"
)

// e2eEnv makes this test binary act as the loadrig binary: `run` and
// `compare` start their child servers with os.Executable, which in a test
// is this binary, so the end-to-end tests below exercise the real child
// process path.
const e2eEnv = "LOADRIG_E2E_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(e2eEnv) == "1" {
		os.Exit(int(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)))
	}
	os.Exit(m.Run())
}

// loadrig runs this binary as loadrig in dir and returns its exit code,
// stdout and stderr.
func loadrig(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), e2eEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestE2ERunCI: `loadrig run ci` starts a child server, runs both
// workloads at once and exits 0 with every file in place.
func TestE2ERunCI(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	code, out, errOut := loadrig(t, dir, "run", "ci", "--duration", "1s", "--rate", "50", "--repeat", "2", "-o", "res")
	var sum struct {
		Schema     string `json:"schema"`
		Profile    string `json:"profile"`
		Thresholds []struct {
			Expr string `json:"expr"`
			OK   bool   `json:"ok"`
		} `json:"thresholds"`
		Variants []struct {
			Name      string `json:"name"`
			PlanHash  string `json:"plan_hash"`
			Workloads []struct {
				Name   string             `json:"name"`
				Runs   []string           `json:"runs"`
				Median map[string]float64 `json:"median"`
			} `json:"workloads"`
		} `json:"variants"`
	}
	readJSON(t, filepath.Join(dir, "res", "summary.json"), &sum)
	// Exit 0; a latency limit breached on an overloaded host (exit 3) is a
	// measurement, not a failure of run: anything else is.
	if code == 3 {
		for _, th := range sum.Thresholds {
			if !th.OK && !strings.Contains(th.Expr, "p99") {
				t.Fatalf("threshold %s failed\n%s", th.Expr, out)
			}
		}
		t.Logf("a latency threshold was breached on this host (exit 3):\n%s", out)
	} else if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if len(sum.Thresholds) != 6 {
		t.Fatalf("want 6 verdicts (error_rate on 4 runs, reads:p99 on 2), got %+v", sum.Thresholds)
	}
	if sum.Schema != "loadrig.summary/v1" || sum.Profile != "ci" || len(sum.Variants) != 1 || len(sum.Variants[0].Workloads) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	for _, w := range sum.Variants[0].Workloads {
		if len(w.Runs) != 2 || w.Median["error_rate"] != 0 || w.Median["rps"] <= 0 {
			t.Fatalf("workload %+v", w)
		}
		for k, run := range w.Runs {
			var r metrics.Result
			readJSON(t, filepath.Join(dir, "res", run), &r)
			if r.Name != w.Name || r.Variant != "default" || r.Repetition != k+1 || r.PlanHash != sum.Variants[0].PlanHash || r.Requests.Errors != 0 {
				t.Fatalf("%s: name %q variant %q rep %d hash %q errors %d", run, r.Name, r.Variant, r.Repetition, r.PlanHash, r.Requests.Errors)
			}
			if r.Model.Rate != 50 {
				t.Fatalf("%s: --rate override not applied: model %+v", run, r.Model)
			}
			checkSent(t, run, &r, 50) // 50/s for 1 s
		}
	}
}

// TestE2EBrokenProfile: a mistake exits 2 naming the file and line, before
// any server starts.
func TestE2EBrokenProfile(t *testing.T) {
	dir := t.TempDir()
	bad := "version: 1\nservers:\n  api: {kind: rest}\nworkloads:\n  - name: r\n    protocol: http\n    target: ${servers.api}/\n    rate: 10\n    timout: 1s\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := loadrig(t, dir, "run", "bad.yaml", "-o", "res")
	if code != 2 || !strings.Contains(errOut, `bad.yaml:9:5: unknown option "timout" for loadrig load http (did you mean "timeout"?)`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "res")); err == nil {
		t.Fatal("a broken profile created the results directory")
	}
	code, _, errOut = loadrig(t, dir, "run", "no-such-profile")
	if code != 2 || !strings.Contains(errOut, "built-ins: cache-compare, ci,") {
		t.Fatalf("unknown profile: exit %d, %s", code, errOut)
	}
}

// TestE2ECompareCacheCompare: `compare cache-compare --repeat 2` on the
// embedded defaults (shortened) runs every variant twice, round robin.
func TestE2ECompareCacheCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	// 50/s, not more: cache=none sends every read to a store of 4
	// connections that sleep 2 ms each, and under -race on a host at load
	// 35 those sleeps took 20 ms and more — 200/s then saturated the server,
	// the in-flight cap (256) filled during the 2 s warm-up and the
	// scheduler reached the planned end with every measured operation
	// unsent: a run of 0 requests (correctly reported so, but not what this
	// test is about). 50/s leaves that server 4x headroom.
	code, out, errOut := loadrig(t, dir, "compare", "cache-compare", "--repeat", "2", "--duration", "500ms", "--rate", "50", "-o", "cmp")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Round robin: r1 of every variant before any r2.
	var order []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "cache=") {
			order = append(order, f[0]+" "+f[1])
		}
	}
	want := "cache=none/reads r1,cache=lru/reads r1,cache=tinylfu/reads r1,cache=redis/reads r1," +
		"cache=none/reads r2,cache=lru/reads r2,cache=tinylfu/reads r2,cache=redis/reads r2"
	if got := strings.Join(order[:min(8, len(order))], ","); got != want {
		t.Fatalf("order %s\nwant  %s\n%s", got, want, out)
	}
	for _, v := range []string{"cache=none", "cache=lru", "cache=tinylfu", "cache=redis"} {
		for _, k := range []string{"1", "2"} {
			var r metrics.Result
			readJSON(t, filepath.Join(dir, "cmp", v, "reads-r"+k+".json"), &r)
			if r.Variant != v || r.Name != "reads" || r.Repetition != map[string]int{"1": 1, "2": 2}[k] {
				t.Fatalf("%s r%s: %+v", v, k, r.Requests)
			}
			// 25 operations are due in the measured 500 ms at 50/s.
			checkSent(t, v+" r"+k, &r, 25)
		}
	}
	if !strings.Contains(out, "workload reads") || !strings.Contains(out, "hit ratio") {
		t.Fatalf("no table:\n%s", out)
	}
}

// twoVariants is a small profile for the compare tests: two identical
// variants (a, b) of a REST server whose cache is in the Redis that
// --redis-url names (or its own), one short workload.
const twoVariants = `version: 1
name: two
servers:
  api:
    kind: rest
    cache: redis
    store-latency: 1ms
variants:
  - name: a
  - name: b
workloads:
  - name: reads
    protocol: http
    target: ${servers.api}/api/products/{{randInt 1 50}}
    rate: 50
    duration: 400ms
    timeout: 10s
    expect-status: "200"
repeat: 1
thresholds:
  - error_rate<1%
`

// checkSent asserts that a run sent its due operations, all successful:
// every one, or — when a starved generator reached the planned end behind
// schedule, which a loaded host can do to the last few — all but those the
// result reports as not sent. Never none.
func checkSent(t *testing.T, what string, r *metrics.Result, due int64) {
	t.Helper()
	n := r.Requests.Total
	if n == 0 || n > due || r.Requests.Errors != 0 ||
		(n < due && !strings.Contains(r.Generator.Note, fmt.Sprintf("%d scheduled operations were still waiting", due-n))) {
		t.Fatalf("%s: requests %+v, want %d without errors; note %q", what, r.Requests, due, r.Generator.Note)
	}
}

// checkTwo asserts that both variants of twoVariants ran and every request
// succeeded: counts, not speed.
func checkTwo(t *testing.T, dir, out string) {
	t.Helper()
	for _, v := range []string{"a", "b"} {
		var r metrics.Result
		readJSON(t, filepath.Join(dir, v, "reads-r1.json"), &r)
		if r.Variant != v {
			t.Fatalf("variant %s: variant %q\n%s", v, r.Variant, out)
		}
		checkSent(t, "variant "+v, &r, 20) // 50/s for 400 ms
	}
}

// TestE2ECompareRedisFlush: --redis-flush empties the database --redis-url
// names before every variant run (a key seeded before is gone, and the
// servers' cache entries are in it: they used that Redis); without the flag
// a user's data in that Redis is never touched. A real redis-server.
func TestE2ECompareRedisFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	inst, err := rediscache.Start(t.Context(), rediscache.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	url := inst.URL()
	b, err := rediscache.Open(rediscache.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "two.yaml"), []byte(twoVariants), 0o644); err != nil {
		t.Fatal(err)
	}
	const key = "someone:else's"
	for _, flush := range []bool{false, true} {
		if err := b.Set(t.Context(), key, []byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("cmp-flush-%v", flush)
		args := []string{"compare", "two.yaml", "--redis-url", url, "-o", out}
		if flush {
			args = append(args, "--redis-flush")
		}
		code, stdout, stderr := loadrig(t, dir, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		checkTwo(t, filepath.Join(dir, out), stdout)
		_, kept, err := b.Get(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if kept == flush {
			t.Fatalf("--redis-flush=%v: the seeded key kept = %v", flush, kept)
		}
		n, err := b.Client().DBSize(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n <= 1 {
			t.Fatalf("--redis-flush=%v: %d keys in the Redis after the run; the servers did not cache in it", flush, n)
		}
	}
}

// TestE2ECompareInProc: --inproc runs the servers inside the compare
// process (each variant still gets a fresh one, with its own Redis).
func TestE2ECompareInProc(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "two.yaml"), []byte(twoVariants), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := loadrig(t, dir, "compare", "two.yaml", "--inproc", "-o", "cmp")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	checkTwo(t, filepath.Join(dir, "cmp"), out)
	for _, v := range []string{"a", "b"} {
		var r metrics.Result
		readJSON(t, filepath.Join(dir, "cmp", v, "reads-r1.json"), &r)
		// The server's /stats (scraped after the run) shows a fresh server
		// per variant: its request count is this run's, not the sum.
		if r.Server == nil {
			t.Fatalf("variant %s: no server section", v)
		}
	}
	if !strings.Contains(out, "workload reads") {
		t.Fatalf("no table:\n%s", out)
	}
}

// TestE2EStartAt: --start-at waits for the aligned start: the result's
// started_at is that instant exactly, and the target sees no request
// before it (a lower bound, so no wall-clock speed is assumed).
func TestE2EStartAt(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	var mu sync.Mutex
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if first.IsZero() {
			first = time.Now()
		}
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	start := time.Now().Add(2 * time.Second).UTC()
	code, out, errOut := loadrig(t, dir, "load", "http", "--rate", "20", "-d", "500ms", "-q", "-o", "r.json",
		"--start-at", start.Format(time.RFC3339Nano), srv.URL+"/x")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var r metrics.Result
	readJSON(t, filepath.Join(dir, "r.json"), &r)
	mu.Lock()
	got := first
	mu.Unlock()
	checkSent(t, "--start-at", &r, 10) // 20/s for 500 ms
	if !r.StartedAt.Equal(start) || got.Before(start) {
		t.Fatalf("started_at %v, want %v; first request at %v", r.StartedAt, start, got)
	}
	// +DURATION is from now: the run starts no earlier than 2 s after the
	// command was started.
	before := time.Now()
	code, out, errOut = loadrig(t, dir, "load", "http", "--rate", "20", "-d", "500ms", "-q", "-o", "r2.json",
		"--start-at", "+2s", srv.URL+"/x")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	readJSON(t, filepath.Join(dir, "r2.json"), &r)
	checkSent(t, "--start-at +2s", &r, 10)
	if r.StartedAt.Before(before.Add(2 * time.Second)) {
		t.Fatalf("+2s: started_at %v, command started at %v", r.StartedAt, before)
	}
}

// TestE2EShardsByTick: two shards dealt by tick, started together, send
// the plan between them once (the target counts every request), record
// how they were dealt, and merge; a shard dealt the other way is refused.
func TestE2EShardsByTick(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" { // not the scrape of /stats
			hits.Add(1)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	start := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			code, out, errOut := loadrig(t, dir, "load", "http", "--rate", "400", "-d", "1s", "-q", "-o", fmt.Sprintf("s%d.json", i),
				"--shard", fmt.Sprintf("%d/2", i), "--shard-by", "tick", "--start-at", start, srv.URL+"/x")
			if code != 0 {
				t.Errorf("shard %d: exit %d\n%s\n%s", i, code, out, errOut)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var total int64
	for i := range 2 {
		var r metrics.Result
		readJSON(t, filepath.Join(dir, fmt.Sprintf("s%d.json", i)), &r)
		if r.Shard == nil || r.Shard.By != "tick" || r.Shard.Index != i || r.Model.Rate != 200 {
			t.Fatalf("shard %d: %+v, model %+v", i, r.Shard, r.Model)
		}
		total += r.Requests.Total
	}
	if total != 400 || hits.Load() != 400 {
		t.Fatalf("the shards sent %d (target saw %d), want the plan's 400", total, hits.Load())
	}
	if code, out, errOut := loadrig(t, dir, "merge", "s0.json", "s1.json", "-o", "m.json"); code != 0 {
		t.Fatalf("merge: exit %d\n%s\n%s", code, out, errOut)
	}
	var m metrics.Result
	readJSON(t, filepath.Join(dir, "m.json"), &m)
	checkSent(t, "merged", &m, 400)
	if m.Requests.Total != 400 || m.Model.Rate != 400 {
		t.Fatalf("merged %+v, model %+v", m.Requests, m.Model)
	}
	// Shard 1 dealt by sequence number would repeat some of shard 0's
	// operations and miss others.
	code, out, errOut := loadrig(t, dir, "load", "http", "--rate", "400", "-d", "200ms", "-q", "-o", "seq1.json", "--shard", "1/2", srv.URL+"/x")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = loadrig(t, dir, "merge", "s0.json", "seq1.json", "-o", "bad.json")
	if code != 2 || !strings.Contains(errOut, "another plan") {
		t.Fatalf("merge across dealings: exit %d, stderr %q", code, errOut)
	}
}
