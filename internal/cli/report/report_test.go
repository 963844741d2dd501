package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
)

func factory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

func TestFlags(t *testing.T) {
	var got *Options
	cmd := NewCmdReport(factory(), func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--format", "markdown", "a.json", "b.json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Format != "markdown" || strings.Join(got.Files, ",") != "a.json,b.json" {
		t.Fatalf("got %+v", got)
	}
	for _, args := range [][]string{{}, {"--format", "yaml", "a.json"}, {"--threshold", "p98<1ms", "a.json"}} {
		cmd := NewCmdReport(factory(), func(*Options) error { t.Fatal("must not run"); return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Fatalf("%v: want FlagError, got %v", args, err)
		}
	}
}

func writeResult(t *testing.T, dir, name string, r *metrics.Result) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := cmdutil.WriteFile(p, r.Write); err != nil {
		t.Fatal(err)
	}
	return p
}

func sample(target string, p50 int64) *metrics.Result {
	return &metrics.Result{Schema: metrics.Schema, Protocol: "http", Target: target, DurationS: 1,
		Model: metrics.Model{Kind: "closed", Concurrency: 2}, StopReason: metrics.StopDuration,
		Requests: metrics.Requests{Total: 10, OK: 10}, ThroughputRPS: 10,
		Latency: metrics.Summary{P50: p50, N: 10}, ServiceTime: metrics.Summary{P50: p50, N: 10}}
}

func TestReportRun(t *testing.T) {
	dir := t.TempDir()
	a := writeResult(t, dir, "before.json", sample("http://127.0.0.1:1/a", 1500))
	named := sample("http://127.0.0.1:1/b", 700)
	named.Name = "cached"
	b := writeResult(t, dir, "after.json", named)

	ios, _, out, _ := iostreams.Test()
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{a}, Format: "text"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "http load on http://127.0.0.1:1/a") || !strings.Contains(out.String(), "1.50ms") {
		t.Fatalf("single:\n%s", out)
	}
	out.Reset()
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{a, b}, Format: "text"}); err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(out.String(), "\n", 4)[2]
	if !strings.Contains(header, "before") || !strings.Contains(header, "cached") {
		t.Fatalf("columns not labelled by file name / result name: %q\n%s", header, out)
	}
	out.Reset()
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{a}, Format: "json"}); err != nil {
		t.Fatal(err)
	}
	if r, err := metrics.Decode(out); err != nil || r.Target != "http://127.0.0.1:1/a" {
		t.Fatalf("json: %v %+v", err, r)
	}
}

func TestReportRunBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("{not json"), 0o644)
	foreign := filepath.Join(dir, "foreign.json")
	os.WriteFile(foreign, []byte(`{"schema":"other/v9"}`), 0o644)
	for _, c := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.json"), "missing.json: no such file or directory"},
		{garbage, "garbage.json: not a loadrig result file"},
		{foreign, `unsupported result schema "other/v9"`},
	} {
		ios, _, _, _ := iostreams.Test()
		err := reportRun(t.Context(), &Options{IO: ios, Files: []string{c.file}, Format: "text"})
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: want FlagError containing %q, got %v", c.file, c.want, err)
		}
	}
}

func TestReportOutput(t *testing.T) {
	dir := t.TempDir()
	r := sample("http://127.0.0.1:1/a", 1500)
	h := metrics.NewHistogram()
	h.RecordValue(1500)
	enc, _ := metrics.EncodeHistogram(h)
	r.Histograms = map[string]string{metrics.HistLatency: enc, metrics.HistServiceTime: enc}
	sub := filepath.Join(dir, "runs", "v1")
	os.MkdirAll(sub, 0o755)
	writeResult(t, sub, "get-r1.json", r)
	os.WriteFile(filepath.Join(dir, "runs", "notes.json"), []byte(`{"schema":"something/else"}`), 0o644)

	ios, _, out, _ := iostreams.Test()
	page := filepath.Join(dir, "report.html")
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{filepath.Join(dir, "runs")}, Format: "html", Output: page}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(page); !strings.HasPrefix(string(b), "<!DOCTYPE html>") || out.Len() != 0 {
		t.Fatalf("html file: %q..., stdout %q", string(b)[:min(40, len(b))], out)
	}
	hg := filepath.Join(dir, "hgrm")
	os.Mkdir(hg, 0o755)
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{filepath.Join(sub, "get-r1.json")}, Format: "hgrm", Output: hg}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"result.latency.hgrm", "result.service_time.hgrm"} {
		if _, err := os.Stat(filepath.Join(hg, n)); err == nil {
			continue
		}
		entries, _ := os.ReadDir(hg)
		t.Errorf("missing %s; have %v", n, entries)
	}
	// -o with a trailing slash names a directory for hgrm, made when missing
	// (the README's `-o hgrm/`), through the command as a user runs it.
	fresh := filepath.Join(dir, "fresh", "hgrm") + "/"
	cmd := NewCmdReport(&cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}, nil)
	cmd.SetArgs([]string{"--format", "hgrm", "-o", fresh, filepath.Join(sub, "get-r1.json")})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fresh, "result.latency.hgrm")); err != nil {
		t.Fatalf("hgrm into a new directory: %v", err)
	}
	// A summary.json stands for the runs it lists.
	sum := filepath.Join(dir, "runs", "summary.json")
	os.WriteFile(sum, []byte(`{"schema":"loadrig.summary/v1","profile":"ci","variants":[{"name":"v1","workloads":[{"name":"get","runs":["v1/get-r1.json"],"median":{}}]}]}`), 0o644)
	out.Reset()
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{sum}, Format: "csv"}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 {
		t.Fatalf("csv from a summary: %q", out)
	}
	// An empty directory is bad input.
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	var fe *cmdutil.FlagError
	if err := reportRun(t.Context(), &Options{IO: ios, Files: []string{empty}, Format: "text"}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "no result files") {
		t.Fatalf("empty dir: %v", err)
	}
}
