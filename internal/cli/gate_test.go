package cli

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/metrics"
)

// writeRuns writes n result files of workload w under dir; slow scales the
// latency. Seeded, so the exit codes below are fixed.
func writeRuns(t *testing.T, dir, w string, n int, slow float64, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f := func(c float64) float64 { return c * math.Exp(rng.NormFloat64()*0.05) }
		r := &metrics.Result{Schema: metrics.Schema, Name: w, Protocol: "http", Target: "http://127.0.0.1:1/", DurationS: 10,
			Model: metrics.Model{Kind: "closed", Concurrency: 4}, StopReason: metrics.StopDuration,
			Requests:      metrics.Requests{Total: 1000, OK: 1000},
			ThroughputRPS: f(100 / slow),
			Latency:       metrics.Summary{P50: int64(f(2000 * slow)), P99: int64(f(8000 * slow)), N: 1000},
			ServiceTime:   metrics.Summary{P50: 1, N: 1000}}
		if err := cmdutil.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-r%d.json", w, i+1)), r.Write); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDiffAndThresholdExitCodes runs loadrig diff and report --threshold
// end to end through Main: 0 same, 3 regression or breach, 2 bad input.
func TestDiffAndThresholdExitCodes(t *testing.T) {
	dir := t.TempDir()
	base, same, slow, few, other := filepath.Join(dir, "base"), filepath.Join(dir, "same"), filepath.Join(dir, "slow"), filepath.Join(dir, "few"), filepath.Join(dir, "other")
	writeRuns(t, filepath.Join(base, "v1"), "get", 6, 1, 1) // nested: directories are searched recursively
	writeRuns(t, same, "get", 6, 1, 2)
	writeRuns(t, slow, "get", 6, 1.2, 3)
	writeRuns(t, few, "get", 3, 1, 4)
	writeRuns(t, other, "list", 6, 1, 5)
	foreign := filepath.Join(dir, "foreign.json")
	os.WriteFile(foreign, []byte(`{"schema":"k6.summary/v2"}`), 0o644)
	summary := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_STEP_SUMMARY": summary}

	code, out, _ := run(t, env, "diff", base, same)
	if code != ExitOK || !strings.Contains(out, "no regression") {
		t.Errorf("A/A: exit %d\n%s", code, out)
	}
	code, out, errOut := run(t, env, "diff", "--junit", filepath.Join(dir, "d.xml"), base, slow)
	if code != ExitThreshold || !strings.Contains(out, "regression") || !strings.Contains(errOut, "regression(s)") {
		t.Errorf("20%% slower: exit %d\n%s\n%s", code, out, errOut)
	}
	if j, _ := os.ReadFile(filepath.Join(dir, "d.xml")); !strings.Contains(string(j), "<failure") {
		t.Errorf("junit without failure:\n%s", j)
	}
	md, _ := os.ReadFile(summary)
	if strings.Count(string(md), "## loadrig diff") != 2 {
		t.Errorf("step summary should hold both diffs, appended:\n%s", md)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", base, few}, "at least 4 a side"},
		{[]string{"diff", base, other}, "different workloads"},
		{[]string{"diff", base, foreign}, `unsupported result schema "k6.summary/v2"`},
		{[]string{"diff", base, filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"diff", "--metric", "p95", base, same}, `unknown metric "p95"`},
		{[]string{"diff", "--min-change", "five", base, same}, "--min-change"},
		{[]string{"report", "--threshold", "p99<5", base}, "needs a unit"},
	} {
		code, _, errOut := run(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", c.args, code, errOut, c.want)
		}
	}
	code, out, _ = run(t, nil, "report", "--threshold", "p99<1ms", "--threshold", "get:rps>50", base)
	if code != ExitThreshold || !strings.Contains(out, "6 of 12 threshold checks failed") {
		t.Errorf("report --threshold: exit %d\n%s", code, out)
	}
}
