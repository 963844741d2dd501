package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var sum struct {
		Schema   string `json:"schema"`
		Profile  string `json:"profile"`
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
	code, out, errOut := loadrig(t, dir, "compare", "cache-compare", "--repeat", "2", "--duration", "500ms", "--rate", "200", "-o", "cmp")
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
			if r.Variant != v || r.Requests.Total == 0 {
				t.Fatalf("%s r%s: %+v", v, k, r.Requests)
			}
		}
	}
	if !strings.Contains(out, "workload reads") || !strings.Contains(out, "hit ratio") {
		t.Fatalf("no table:\n%s", out)
	}
}
