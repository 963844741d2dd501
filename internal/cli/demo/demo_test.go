package demo

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
	var got *Options
	cmd := NewCmdDemo(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return got, cmd.Execute()
}

func TestFlags(t *testing.T) {
	t.Parallel()
	o, err := parse(t, "--quick", "-o", "out", "--variant", "lru,none", "--variant", "http-etag")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Quick || o.OutDir != "out" || strings.Join(o.Variants, " ") != "lru none http-etag" {
		t.Fatalf("options = %+v", o)
	}
	pl, err := loadPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Variants) != 3 || pl.Variants[0].Name != "lru" || pl.Load.Duration != 3*time.Second {
		t.Fatalf("plan variants %v, duration %v", pl.Variants, pl.Load.Duration)
	}
	_, err = loadPlan(&Options{Variants: []string{"memcached"}})
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "choose from none, lru") {
		t.Fatalf("unknown variant: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nname: x\nspeed: 3\n"), 0o644)
	if _, err := loadPlan(&Options{Profile: bad}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "bad.yaml:3: unknown key speed") {
		t.Fatalf("bad profile: %v", err)
	}
	if o, err := parse(t, "--quick"); err != nil || !strings.HasPrefix(o.OutDir, "loadrig-demo-") {
		t.Fatalf("default output folder: %v %q", err, o.OutDir)
	}
	if _, err := parse(t, "extra"); !errors.As(err, &fe) {
		t.Fatalf("positional argument: %v", err)
	}
}

// TestDemoRun runs a shrunken demo end to end: real servers, real driver,
// real Redis (spawned or embedded), a few hundred requests per variant.
func TestDemoRun(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	opts := &Options{
		IO: ios, OutDir: dir, // every section: the cache variants, a one-size protocols grid, a tiny realtime section
		Variants: []string{"none", "lru", "redis-aside", "write-behind", "http-etag"},
		tuneRealtime: func(p *realtimePlan) {
			*p = realtimePlan{clients: 3, connect: 250 * time.Millisecond, dur: 300 * time.Millisecond, pollDur: 300 * time.Millisecond,
				rates: []float64{50}, chatRoom: 3, chatRate: 10, drain: 2 * time.Second, chatDrain: 300 * time.Millisecond}
		},
		Tune: func(p *profile.Plan) {
			p.Load.Rate, p.Load.Duration, p.Load.Warmup = 200, 700*time.Millisecond, 0
			pp := p.Protocols
			pp.Operations, pp.Sizes = []string{profile.OpGet}, []profile.ByteSize{1000}
			pp.Load.Concurrency, pp.Load.Duration, pp.Load.Warmup = 2, 200*time.Millisecond, 0
		},
		TuneGraphQL: shrinkGraphQL,
	}
	if err := DemoRun(t.Context(), opts); err != nil {
		t.Fatalf("DemoRun: %v\nstderr:\n%s", err, errOut)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	table := out.String()
	if i, j, k := strings.Index(table, "store calls/req"), strings.Index(table, "gRPC/protobuf"), strings.Index(table, "Realtime: the ticker to 3 clients"); i < 0 || j < i || k < j {
		t.Errorf("want the cache table, then the protocols table, then the realtime table")
	}
	if _, err := metrics.Load(filepath.Join(dir, "realtime-50-WebSocket.json")); err != nil {
		t.Errorf("realtime result file: %v", err)
	}
	if i, j := strings.Index(table, "gRPC/protobuf"), strings.Index(table, "GraphQL N+1"); j < i {
		t.Errorf("want the protocols table, then the graphql tables")
	}
	for _, name := range []string{"protocols-get-1KB-rest", "protocols-get-1KB-grpc"} {
		if _, err := metrics.Load(filepath.Join(dir, name+".json")); err != nil {
			t.Errorf("result file of %s: %v", name, err)
		}
	}
	for _, want := range []string{"variant", "req/s", "p99", "hit% client", "hit% server", "store calls/req", "B/resp", "conns client/server", "errors"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks column %q", want)
		}
	}
	rows := map[string]row{}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatalf("report.html: %v", err)
	}
	for _, want := range []string{"<h2 class=\"section\">Cache strategies", "<h2 class=\"section\">REST/JSON vs gRPC/protobuf", "<h2 class=\"section\">Realtime", "s1-spectrum", "<th>redis-aside</th>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, name := range opts.Variants {
		res, err := metrics.Load(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatalf("result file of %s: %v", name, err)
		}
		if res.Name != name || res.Server == nil || res.Requests.Total == 0 {
			t.Fatalf("%s result: name %q, server %v, %d requests", name, res.Name, res.Server != nil, res.Requests.Total)
		}
		if res.Requests.Errors != 0 {
			t.Errorf("%s: %d errors: %v", name, res.Requests.Errors, res.Requests.ErrorsByKind)
		}
		st := metrics.DecodeServerStats(res.Server)
		for path, v := range map[string]*float64{"cache.hits": st.CacheHits, "store.calls": st.StoreCalls, "write_behind.backlog": st.Backlog, "connections.total": st.ConnsTotal} {
			if v == nil {
				t.Errorf("%s: server section lacks %s", name, path)
			}
		}
		rows[name] = newRow(profile.VariantPlan{Name: name}, res)
		if !strings.Contains(table, name) {
			t.Errorf("table lacks variant %s", name)
		}
	}
	if r := rows["none"]; r.storePerReq < 0.99 {
		t.Errorf("no cache: %.3f store calls per request, want ~1", r.storePerReq)
	}
	if r := rows["lru"]; !r.serverKnown || r.serverHit < 0.3 || r.storePerReq >= rows["none"].storePerReq {
		t.Errorf("lru: server hit %.2f, store calls/req %.3f (none: %.3f)", r.serverHit, r.storePerReq, rows["none"].storePerReq)
	}
	res, _ := metrics.Load(filepath.Join(dir, "http-etag.json"))
	if res.Cache == nil || res.Cache.Revalidated == 0 {
		t.Errorf("http-etag: no revalidated responses: %+v", res.Cache)
	}
	if rm, _ := res.Server["redis_mode"].(string); rm != "none" {
		t.Errorf("http-etag redis_mode = %q", rm)
	}
	res, _ = metrics.Load(filepath.Join(dir, "redis-aside.json"))
	if rm, _ := res.Server["redis_mode"].(string); rm != "spawned" && rm != "embedded-miniredis" {
		t.Errorf("redis-aside redis_mode = %q", rm)
	}
}

func TestFailedVariantKeepsOthers(t *testing.T) {
	t.Parallel()
	prof := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(prof, []byte(`version: 1
name: partial
server:
  store_latency: 1ms
workload:
  rate: 100
  duration: 300ms
  keys: {n: 50}
  operations:
    - name: read
      weight: 1
      path: /api/products/{{.id}}
variants:
  - name: bad
    cache: none
    strategy: write-through
  - name: ok
    cache: lru
`), 0o644)
	ios, _, out, errOut := iostreams.Test()
	err := DemoRun(t.Context(), &Options{IO: ios, Profile: prof, Section: SectionCache})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 variants failed: bad") {
		t.Fatalf("error = %v, want the failed variant named", err)
	}
	if !strings.Contains(out.String(), "ok") || strings.Contains(out.String(), "bad ") {
		t.Fatalf("table:\n%s\nstderr:\n%s", out, errOut)
	}
}
