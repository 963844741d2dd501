package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
)

func TestListenerLine(t *testing.T) {
	for in, want := range map[string][2]string{
		"loadrig rest listening on http://127.0.0.1:5\n": {"rest", "http://127.0.0.1:5"},
		"loadrig grpc admin listening on http://x:1":     {"grpc-admin", "http://x:1"},
	} {
		n, a, ok := listenerLine(in)
		if !ok || n != want[0] || a != want[1] {
			t.Errorf("%q: %q %q %v", in, n, a, ok)
		}
	}
	if _, _, ok := listenerLine("level=INFO msg=listening"); ok {
		t.Error("a log line parsed as a listener")
	}
}

func TestWorkloadArgsOverrides(t *testing.T) {
	w := profile.WorkloadPlan{Name: "r", Protocol: "http", Target: "http://x/", Args: []string{"--rate=10", "--duration=9s"}}
	got := strings.Join(WorkloadArgs(w, Overrides{Duration: "1s", Rate: "5", Extra: []string{"--shard=0/2"}}, "o.json"), " ")
	if got != "http http://x/ --duration=1s --rate=5 --shard=0/2 --name=r --output=o.json --quiet --format=text" {
		t.Fatalf("args %s", got)
	}
	closed := profile.WorkloadPlan{Name: "c", Protocol: "http", Target: "http://x/", Args: []string{"--concurrency=3", "--stages=1s:5"}}
	got = strings.Join(WorkloadArgs(closed, Overrides{Duration: "1s", Rate: "5"}, "o.json"), " ")
	if strings.Contains(got, "--rate") || strings.Contains(got, "--duration") {
		t.Fatalf("overrode a closed/staged workload's model: %s", got)
	}
	// Dealt by tick: only workloads with a rate or stages.
	tick := Overrides{Extra: []string{"--shard=0/2"}, ShardByTick: true}
	if got := strings.Join(WorkloadArgs(w, tick, "o.json"), " "); !strings.Contains(got, "--shard=0/2 --shard-by=tick") {
		t.Fatalf("open workload: %s", got)
	}
	cc := profile.WorkloadPlan{Name: "c", Protocol: "http", Target: "http://x/", Args: []string{"--concurrency=3"}}
	if got := strings.Join(WorkloadArgs(cc, tick, "o.json"), " "); strings.Contains(got, "--shard-by") {
		t.Fatalf("closed workload dealt by tick: %s", got)
	}
}

func TestSummaryMedians(t *testing.T) {
	s := &Summary{}
	for _, p99 := range []int64{300, 100, 200} {
		s.Add("v", "h", "w", "/base", "/base/v/w-r1.json", &metrics.Result{ThroughputRPS: float64(p99), Latency: metrics.Summary{P99: p99},
			Requests: metrics.Requests{Total: 100, Errors: 1}, Server: map[string]any{"store": map[string]any{"calls": 50.0}}})
	}
	w := s.Variants[0].Workloads[0]
	if w.Median["p99_us"] != 200 || w.Spread["p99_us"] != [2]float64{100, 300} || w.Median["error_rate"] != 0.01 || w.Median["store_calls_per_op"] != 0.5 {
		t.Fatalf("%+v", w)
	}
	if _, ok := w.Median["hit_ratio"]; ok {
		t.Fatal("hit_ratio without a cache signal")
	}
	if w.Runs[0] != "v/w-r1.json" {
		t.Fatalf("runs %v", w.Runs)
	}
	var b bytes.Buffer
	if err := s.Write(&b); err != nil || !strings.Contains(b.String(), `"thresholds": []`) {
		t.Fatalf("%v %s", err, b.String())
	}
}

// TestRepetitionInProc runs a two-workload profile against an in-process
// REST server: both workloads run, results are labelled, the server stops.
func TestRepetitionInProc(t *testing.T) {
	flags := cmdflags.New(nil)
	y := "version: 1\nservers:\n  api: {kind: rest, cache: lru, store-latency: 0s}\nworkloads:\n" +
		"  - {name: one, protocol: http, target: '${servers.api}/api/products/{{randInt 1 50}}', rate: 40, duration: 300ms}\n" +
		"  - {name: two, protocol: http, target: '${servers.api}/api/products', concurrency: 2, requests: 20}\n"
	spec, err := profile.ParseSpec("t.yaml", []byte(y), flags)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := spec.Plan("", nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum := &Summary{}
	var out bytes.Buffer
	err = Repetition{Plan: plan, Hash: plan.Hash(), K: 1, Dir: filepath.Join(dir, "default"), Base: dir, Summary: sum, Out: &out,
		Servers: ServerOptions{InProc: true, Flags: flags}}.Do(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Variants) != 1 || len(sum.Variants[0].Workloads) != 2 {
		t.Fatalf("%+v\n%s", sum, out.String())
	}
	r, err := metrics.Load(filepath.Join(dir, "default", "two-r1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Total != 20 || r.Requests.Errors != 0 || r.Name != "two" || r.Variant != "default" || r.PlanHash != plan.Hash() || r.Repetition != 1 {
		t.Fatalf("result: %+v name %q variant %q", r.Requests, r.Name, r.Variant)
	}
}

func TestLoadSpecThresholds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "th.yaml")
	y := "version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'http://127.0.0.1:1/', rate: 5}\nthresholds:\n  - p99<50ms\n  - p98<50ms\n"
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSpec(path, cmdflags.New(nil))
	if err == nil || !strings.Contains(err.Error(), path+":6:5: ") || !strings.Contains(err.Error(), "p98") {
		t.Fatalf("%v", err)
	}
	if _, err := LoadSpec("nope-not-a-profile", cmdflags.New(nil)); err == nil || !strings.Contains(err.Error(), "built-ins: cache-compare") {
		t.Fatalf("%v", err)
	}
}

// TestShardedRepetition: run --shard passes the shard to every workload
// and the result keeps it, with the profile's plan hash.
func TestShardedRepetition(t *testing.T) {
	flags := cmdflags.New(nil)
	y := "version: 1\nservers:\n  api: {kind: rest}\nworkloads:\n" +
		"  - {name: one, protocol: http, target: '${servers.api}/healthz', concurrency: 4, requests: 20}\n"
	spec, err := profile.ParseSpec("t.yaml", []byte(y), flags)
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := spec.Plan("", nil, flags)
	dir := t.TempDir()
	err = Repetition{Plan: plan, Hash: plan.Hash(), K: 1, Dir: dir, Base: dir, Summary: &Summary{},
		Servers: ServerOptions{InProc: true, Flags: flags}, Overrides: Overrides{Extra: []string{"--shard=1/4"}}}.Do(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Load(filepath.Join(dir, "one-r1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Shard == nil || *r.Shard != (metrics.ShardInfo{Index: 1, Count: 4}) || r.PlanHash != plan.Hash() || r.Requests.Total != 5 || r.Model.Concurrency != 1 {
		t.Fatalf("shard %+v hash %q requests %+v model %+v", r.Shard, r.PlanHash, r.Requests, r.Model)
	}
}
