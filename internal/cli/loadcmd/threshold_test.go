package loadcmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// TestThresholds: a breach is exit 3 after the result, the summary with
// its verdict table, the JUnit file and the step summary are all written;
// a bad threshold is a usage error before anything runs.
func TestThresholds(t *testing.T) {
	dir := t.TempDir()
	out, junit, summary := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml"), filepath.Join(dir, "summary.md")
	os.WriteFile(summary, []byte("earlier step\n"), 0o644)
	o, err := parse(t, "-c", "1", "-n", "3", "-o", out, "--threshold", "p50<1ms", "--threshold", "error_rate < 1%",
		"--threshold", "hit_ratio>0.5", "--junit", junit, "http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, _ := iostreams.Test()
	runner := func(context.Context, load.Driver, load.Config) (*metrics.Result, error) {
		return fakeResult(metrics.StopCount), nil
	}
	getenv := func(k string) string {
		if k == "GITHUB_STEP_SUMMARY" {
			return summary
		}
		return ""
	}
	err = Execute(t.Context(), Run{IO: ios, Flags: &o.Load, Driver: fakeDriver{}, Runner: runner, Getenv: getenv})
	var te *cmdutil.ThresholdError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "1 of 3 threshold checks failed") {
		t.Fatalf("want ThresholdError, got %v", err)
	}
	if _, err := metrics.Load(out); err != nil {
		t.Fatalf("result file not written before the verdict: %v", err)
	}
	s := stdout.String()
	for _, want := range [][2]string{{"✓", "p50<1ms"}, {"✓", "error_rate<1%"}, {"✗", "hit_ratio>0.5"}} {
		found := false
		for _, line := range strings.Split(s, "\n") {
			f := strings.Fields(line)
			found = found || len(f) > 1 && f[0] == want[0] && f[1] == want[1]
		}
		if !found {
			t.Errorf("stdout lacks verdict %s %s:\n%s", want[0], want[1], s)
		}
	}
	j, _ := os.ReadFile(junit)
	if !strings.Contains(string(j), `tests="3" failures="1"`) {
		t.Errorf("junit:\n%s", j)
	}
	md, _ := os.ReadFile(summary)
	if !strings.HasPrefix(string(md), "earlier step\n") || !strings.Contains(string(md), "| ✗ | hit_ratio>0.5 |") {
		t.Errorf("step summary not appended:\n%s", md)
	}

	// All pass: nil.
	o, _ = parse(t, "-c", "1", "--threshold", "p50<=100us", "http://127.0.0.1:1/")
	ios, _, _, _ = iostreams.Test()
	if err := Execute(t.Context(), Run{IO: ios, Flags: &o.Load, Driver: fakeDriver{}, Runner: runner, Getenv: func(string) string { return "" }}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ arg, want string }{
		{"p98<1ms", `unknown metric "p98"`},
		{"p99<5", "needs a unit"},
	} {
		_, err := parse(t, "-c", "1", "--threshold", c.arg, "http://127.0.0.1:1/")
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want FlagError with %q, got %v", c.arg, c.want, err)
		}
	}
	_, err = parse(t, "-c", "1", "--junit", filepath.Join(dir, "nope", "j.xml"), "http://127.0.0.1:1/")
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Errorf("--junit into a missing directory: want FlagError, got %v", err)
	}
}
