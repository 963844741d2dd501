package merge

import (
	"errors"
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
	cmd := NewCmdMerge(factory(), func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"a.json", "b.json", "-o", "out.json", "-q"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Output != "out.json" || !got.Quiet || len(got.Files) != 2 || got.Format != "text" {
		t.Fatalf("got %+v", got)
	}
	for _, args := range [][]string{{"a.json"}, {"-o", "x.json"}, {"a.json", "-o", "x", "--format", "xml"}} {
		cmd := NewCmdMerge(factory(), func(*Options) error { t.Fatal("must not run"); return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) {
			t.Fatalf("%v: want FlagError, got %v", args, err)
		}
	}
}

// result builds a result whose summaries come from real histograms, as
// metrics.Merge requires.
func result(t *testing.T, values ...int64) *metrics.Result {
	t.Helper()
	h := metrics.NewHistogram()
	for _, v := range values {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := metrics.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(values))
	return &metrics.Result{Schema: metrics.Schema, Protocol: "http", Target: "http://127.0.0.1:1/", DurationS: 1,
		Model: metrics.Model{Kind: "closed", Concurrency: 1}, StopReason: metrics.StopDuration,
		Requests: metrics.Requests{Total: n, OK: n, ErrorsByKind: map[string]int64{}}, ThroughputRPS: float64(n),
		Latency: metrics.Summarize(h), ServiceTime: metrics.Summarize(h),
		Histograms: map[string]string{metrics.HistLatency: enc, metrics.HistServiceTime: enc}}
}

func TestMergeRun(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for p, r := range map[string]*metrics.Result{a: result(t, 100, 100, 100), b: result(t, 5000)} {
		if err := cmdutil.WriteFile(p, r.Write); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "total.json")
	ios, _, stdout, _ := iostreams.Test()
	if err := mergeRun(t.Context(), &Options{IO: ios, Files: []string{a, b}, Output: out, Format: "text"}); err != nil {
		t.Fatal(err)
	}
	m, err := metrics.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests.Total != 4 || m.Latency.N != 4 || !metrics.Equivalent(m.Latency.Max, 5000) || !metrics.Equivalent(m.Latency.P50, 100) {
		t.Fatalf("merged wrong: %+v", m)
	}
	if strings.Join(m.Inputs, ",") != a+","+b {
		t.Fatalf("inputs: %v", m.Inputs)
	}
	if !strings.Contains(stdout.String(), "merged from") || !strings.Contains(stdout.String(), "merged 2 results into "+out) {
		t.Fatalf("summary:\n%s", stdout)
	}

	stdout.Reset()
	if err := mergeRun(t.Context(), &Options{IO: ios, Files: []string{a, b}, Output: "-", Format: "text"}); err != nil {
		t.Fatal(err)
	}
	if m, err := metrics.Decode(stdout); err != nil || m.Requests.Total != 4 {
		t.Fatalf("-o -: %v %+v", err, m)
	}
}

func TestMergeRunBadInput(t *testing.T) {
	dir := t.TempDir()
	noHist := result(t, 100)
	noHist.Histograms = nil
	p := filepath.Join(dir, "nohist.json")
	if err := cmdutil.WriteFile(p, noHist.Write); err != nil {
		t.Fatal(err)
	}
	for _, files := range [][]string{{filepath.Join(dir, "missing.json")}, {p}} {
		ios, _, _, _ := iostreams.Test()
		err := mergeRun(t.Context(), &Options{IO: ios, Files: files, Output: filepath.Join(dir, "o.json"), Format: "text"})
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), filepath.Base(files[0])) {
			t.Fatalf("%v: want FlagError naming the file, got %v", files, err)
		}
	}
}
