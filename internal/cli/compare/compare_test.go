package compare

import (
	"math"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/cli/runner"
	"github.com/loadrig/loadrig/internal/metrics"
)

func TestSeparationP(t *testing.T) {
	// 3 a side: the smallest p there is, 0.10 — nothing can be significant.
	if p := separationP(3, 3); math.Abs(p-0.1) > 1e-12 {
		t.Fatalf("p(3,3) = %v, want 0.1", p)
	}
	if p := separationP(4, 4); math.Abs(p-2.0/70) > 1e-12 {
		t.Fatalf("p(4,4) = %v, want 2/70", p)
	}
	if p := separationP(6, 6); math.Abs(p-2.0/924) > 1e-12 {
		t.Fatalf("p(6,6) = %v", p)
	}
}

func TestSignificantBest(t *testing.T) {
	sep4 := map[string][]float64{"a": {10, 11, 12, 13}, "b": {20, 21, 22, 23}}
	if b, ok := SignificantBest(sep4, -1); !ok || b != "a" {
		t.Fatalf("lower better: %q %v", b, ok)
	}
	if b, ok := SignificantBest(sep4, +1); !ok || b != "b" {
		t.Fatalf("higher better: %q %v", b, ok)
	}
	sep3 := map[string][]float64{"a": {10, 11, 12}, "b": {20, 21, 22}}
	if _, ok := SignificantBest(sep3, -1); ok {
		t.Fatal("3 runs a side marked significant (p = 0.1)")
	}
	overlap := map[string][]float64{"a": {10, 11, 12, 25}, "b": {20, 21, 22, 23}}
	if _, ok := SignificantBest(overlap, -1); ok {
		t.Fatal("overlapping samples marked")
	}
	if _, ok := SignificantBest(sep4, 0); ok {
		t.Fatal("a neutral metric marked")
	}
	three := map[string][]float64{"a": {1, 2, 3, 4}, "b": {5, 6, 7, 8}, "c": {3.5, 9, 9, 9}}
	if _, ok := SignificantBest(three, -1); ok {
		t.Fatal("best not separated from every other")
	}
}

func TestTableMarksOnlySignificant(t *testing.T) {
	s := &runner.Summary{}
	for k, p99 := range []int64{1000, 1100, 1200, 1300} {
		_ = k
		s.Add("fast", "h", "reads", "/d", "/d/fast/reads.json", &metrics.Result{Name: "reads", ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99, N: 10}, Requests: metrics.Requests{Total: 10}})
		s.Add("slow", "h", "reads", "/d", "/d/slow/reads.json", &metrics.Result{Name: "reads", ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99 * 3, N: 10}, Requests: metrics.Requests{Total: 10}})
	}
	var b strings.Builder
	Table(&b, s)
	out := b.String()
	if !strings.Contains(out, "1.15ms (1.00ms–1.30ms) *") {
		t.Fatalf("fast p99 not marked:\n%s", out)
	}
	if strings.Count(out, ") *") != 1 {
		t.Fatalf("want exactly one mark (equal rps and p50 are not better):\n%s", out)
	}
}

func TestFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.NewFactory(ios, func(string) string { return "" })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ci", "--redis-flush"}, "--redis-flush flushes the Redis that --redis-url names"},
		{[]string{"ci", "--inproc", "--server-cpus", "0"}, "--server-cpus pins child servers"},
		{[]string{"ci", "--load-cpus", "x"}, "--load-cpus"},
		{[]string{"ci", "--repeat", "-1"}, "--repeat must be"},
		{[]string{"ci", "--duration", "soon"}, "--duration"},
	} {
		cmd := NewCmdCompare(f, func(*Options) error { return nil })
		cmd.SetArgs(tc.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	var got *Options
	cmd := NewCmdCompare(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"cache-compare", "--variants", "cache=lru,cache=none", "--redis-url", "redis://127.0.0.1:1/2", "--redis-flush"})
	if err := cmd.Execute(); err != nil || len(got.Variants) != 2 || !got.RedisFlush {
		t.Fatalf("%v %+v", err, got)
	}
}

// A protocol comparison (each variant runs a workload of its own) is one
// table, the variants side by side with their workloads named, and a
// significant best is marked across them.
func TestTableOwnWorkloads(t *testing.T) {
	s := &runner.Summary{}
	for _, p99 := range []int64{1000, 1100, 1200, 1300} {
		s.Add("rest", "h", "rest", "/d", "/d/rest/rest.json", &metrics.Result{Name: "rest", ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99, N: 10}, Requests: metrics.Requests{Total: 10}})
		s.Add("grpc", "h", "grpc", "/d", "/d/grpc/grpc.json", &metrics.Result{Name: "grpc", ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99 * 3, N: 10}, Requests: metrics.Requests{Total: 10},
			Operations: map[string]*metrics.Operation{"GetProduct": {Requests: metrics.Requests{Total: 10}, Latency: metrics.Summary{P50: 500, P99: p99 * 3, N: 10}}}})
	}
	var b strings.Builder
	Table(&b, s)
	out := b.String()
	if strings.Count(out, "workload") < 2 || strings.Contains(out, "workload rest\n") || !strings.Contains(out, "each variant on its own workloads") {
		t.Fatalf("want one table naming each variant's workload:\n%s", out)
	}
	if !strings.Contains(out, "1.15ms (1.00ms–1.30ms) *") || strings.Count(out, ") *") != 1 {
		t.Fatalf("rest's p99 should be the one mark:\n%s", out)
	}
	for _, line := range []string{"rest     rest", "grpc     grpc"} {
		if !strings.Contains(out, line) {
			t.Fatalf("no row %q:\n%s", line, out)
		}
	}
}

// A variant with several workloads of its own (rest-vs-graphql: two REST
// requests against one query) shares the one table, unmarked: no single row
// stands for that variant.
func TestTableOwnWorkloadsSeveral(t *testing.T) {
	s := &runner.Summary{}
	for _, p99 := range []int64{1000, 1100, 1200, 1300} {
		for _, wl := range []string{"rest-product", "rest-reviews"} {
			s.Add("rest", "h", wl, "/d", "/d/rest/"+wl+".json", &metrics.Result{Name: wl, ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99, N: 10}, Requests: metrics.Requests{Total: 10}})
		}
		s.Add("graphql", "h", "graphql", "/d", "/d/graphql/graphql.json", &metrics.Result{Name: "graphql", ThroughputRPS: 100, Latency: metrics.Summary{P50: 500, P99: p99 * 3, N: 10}, Requests: metrics.Requests{Total: 10}})
	}
	var b strings.Builder
	Table(&b, s)
	out := b.String()
	for _, want := range []string{"each variant on its own workloads", "rest-product", "rest-reviews", "graphql  "} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ") *") || strings.Contains(out, "workload rest-product\n") {
		t.Fatalf("want one unmarked table:\n%s", out)
	}
}

// Sessions are compared on their messages: messages/s and message latency
// columns, a best tested like any other metric.
func TestTableMessages(t *testing.T) {
	s := &runner.Summary{}
	for _, p99 := range []int64{1000, 1100, 1200, 1300} {
		for v, scale := range map[string]int64{"memory": 1, "redis": 3} {
			s.Add(v, "h", "echo", "/d", "/d/"+v+"/echo.json", &metrics.Result{Name: "echo", DurationS: 10, ThroughputRPS: 20,
				Latency: metrics.Summary{P50: 9e6, P99: 10e6, N: 200}, Requests: metrics.Requests{Total: 200},
				Messages:       &metrics.Messages{Sent: 4000, Received: 4000},
				MessageLatency: &metrics.Summary{P50: 400 * scale, P99: p99 * scale, N: 4000}})
		}
	}
	var b strings.Builder
	Table(&b, s)
	out := b.String()
	for _, want := range []string{"msgs/s", "msg p50", "msg p99", "400.0", "1.15ms (1.00ms–1.30ms) *", "400µs (400µs–400µs) *"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q:\n%s", want, out)
		}
	}
	if m := runner.ResultMetrics(&metrics.Result{DurationS: 2, Messages: &metrics.Messages{Received: 10}}); m["msgs_rps"] != 5 {
		t.Fatalf("msgs_rps %v", m["msgs_rps"])
	}
}
