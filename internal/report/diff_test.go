package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/metrics"
)

// synthRuns makes n results of workload w whose latency, throughput and
// errors vary run to run like short runs on a noisy host: each figure is
// its centre times exp(N(0, noise)). slow multiplies latency and divides
// throughput.
func synthRuns(rng *rand.Rand, w string, n int, slow, noise float64) []*metrics.Result {
	out := make([]*metrics.Result, n)
	for i := range out {
		f := func(c float64) float64 { return c * math.Exp(rng.NormFloat64()*noise) }
		p50 := f(2000 * slow)
		p99 := f(9000 * slow)
		total := int64(10000)
		errs := int64(rng.IntN(5))
		out[i] = &metrics.Result{
			Schema: metrics.Schema, Name: w, Protocol: "http", Target: "http://127.0.0.1:1/" + w, DurationS: 10,
			Model:    metrics.Model{Kind: "open", Rate: 1000},
			Requests: metrics.Requests{Total: total, OK: total - errs, Errors: errs},
			Latency:  metrics.Summary{P50: int64(p50), P99: int64(p99), Max: int64(p99 * 3), Mean: p50 * 1.2, N: total - errs},
			// Throughput falls with the slowdown (a closed-loop client
			// would see it); noise as the latency's.
			ThroughputRPS: f(1000 / slow),
		}
	}
	return out
}

// TestDiffAA: base and current drawn from the same distribution, many
// seeds: regressions are called at most at rate alpha.
func TestDiffAA(t *testing.T) {
	const seeds = 300
	calls, rows := 0, 0
	for s := range seeds {
		rng := rand.New(rand.NewPCG(uint64(s), 7))
		base := synthRuns(rng, "get", 6, 1, 0.08)
		cur := synthRuns(rng, "get", 6, 1, 0.08)
		d, err := Diff(base, cur, DiffOptions{})
		if err != nil {
			t.Fatal(err)
		}
		calls += d.Regressions()
		rows += len(d.Rows)
	}
	rate := float64(calls) / float64(rows)
	t.Logf("A/A: %d regressions in %d rows (%.4f)", calls, rows, rate)
	if rate > 0.05 {
		t.Fatalf("A/A regression rate %.4f > alpha 0.05", rate)
	}
}

// TestDiffFindsSlowdown: a planted 20 % slowdown with 6 runs a side is
// called a regression on p50, p99 and rps, for every seed.
func TestDiffFindsSlowdown(t *testing.T) {
	for s := range 50 {
		rng := rand.New(rand.NewPCG(uint64(s), 11))
		base := synthRuns(rng, "get", 6, 1, 0.05)
		cur := synthRuns(rng, "get", 6, 1.2, 0.05)
		d, err := Diff(base, cur, DiffOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range d.Rows {
			if r.Metric == "error_rate" {
				continue // not slowed: an A/A comparison, covered by TestDiffAA
			}
			if r.Verdict != VerdictRegression {
				t.Errorf("seed %d %s: verdict %s (p %.4f), want regression", s, r.Metric, r.Verdict, r.P)
			}
		}
		// The other way round it is an improvement.
		d, _ = Diff(cur, base, DiffOptions{Metrics: []string{"p99"}})
		if d.Rows[0].Verdict != VerdictImprovement {
			t.Errorf("seed %d: reversed: %+v", s, d.Rows[0])
		}
	}
}

// TestDiffMinChange: a significant but small change is not a regression.
func TestDiffMinChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := synthRuns(rng, "get", 8, 1, 0.001)
	cur := synthRuns(rng, "get", 8, 1.03, 0.001)
	d, err := Diff(base, cur, DiffOptions{Metrics: []string{"p50"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Rows[0]; r.P >= 0.05 || r.Verdict != VerdictSame {
		t.Fatalf("3%% change: %+v", r)
	}
	d, _ = Diff(base, cur, DiffOptions{Metrics: []string{"p50"}, MinChange: 0.01})
	if r := d.Rows[0]; r.Verdict != VerdictRegression {
		t.Fatalf("3%% change with min-change 1%%: %+v", r)
	}
}

func TestDiffBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	six := synthRuns(rng, "get", 6, 1, 0.05)
	if _, err := Diff(synthRuns(rng, "get", 3, 1, 0.05), six, DiffOptions{}); !errors.Is(err, ErrTooFewRuns) ||
		!strings.Contains(err.Error(), "--repeat 6") {
		t.Errorf("3 runs: %v", err)
	}
	if _, err := Diff(six, synthRuns(rng, "list", 6, 1, 0.05), DiffOptions{}); err == nil ||
		!strings.Contains(err.Error(), "only in BASE: get; only in CURRENT: list") {
		t.Errorf("different workloads: %v", err)
	}
	if _, err := Diff(six, six, DiffOptions{Metrics: []string{"p95"}}); err == nil || !strings.Contains(err.Error(), `unknown metric "p95"`) {
		t.Errorf("bad metric: %v", err)
	}
}

func TestDiffFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := append(synthRuns(rng, "get", 6, 1, 0.05), synthRuns(rng, "list", 6, 1, 0.05)...)
	cur := append(synthRuns(rng, "get", 6, 1.2, 0.05), synthRuns(rng, "list", 6, 1, 0.05)...)
	d, err := Diff(base, cur, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FormatText, FormatMarkdown, FormatJSON} {
		var buf bytes.Buffer
		if err := WriteDiff(&buf, f, d); err != nil {
			t.Fatal(err)
		}
		golden(t, "diff."+map[string]string{FormatText: "txt", FormatMarkdown: "md", FormatJSON: "json"}[f], buf.Bytes())
		if f == FormatJSON {
			var back struct {
				Schema string           `json:"schema"`
				Rows   []map[string]any `json:"rows"`
			}
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Schema != DiffSchema || len(back.Rows) != 8 {
				t.Fatalf("json: %v %+v", err, back)
			}
			for _, k := range []string{"workload", "operation", "metric", "base_median", "current_median", "delta_pct", "p", "n_base", "n_current", "verdict"} {
				if _, ok := back.Rows[0][k]; !ok {
					t.Errorf("row lacks %q", k)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, "loadrig diff", DiffCases(d)); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.junit.xml", buf.Bytes())
}

// TestDiffPerOperation: operations both sides ran get rows of their own,
// and a slowdown of one operation is called on that operation.
func TestDiffPerOperation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	withOps := func(rs []*metrics.Result, slowList float64) []*metrics.Result {
		for _, r := range rs {
			f := func(c float64) int64 { return int64(c * math.Exp(rng.NormFloat64()*0.05)) }
			r.Operations = map[string]*metrics.Operation{
				"GetProduct":   {Requests: metrics.Requests{Total: 8000, OK: 8000}, Latency: metrics.Summary{P50: f(1500), P99: f(7000), N: 8000}},
				"ListProducts": {Requests: metrics.Requests{Total: 2000, OK: 2000}, Latency: metrics.Summary{P50: f(4000 * slowList), P99: f(20000 * slowList), N: 2000}},
			}
		}
		return rs
	}
	base := withOps(synthRuns(rng, "shop", 6, 1, 0.05), 1)
	cur := withOps(synthRuns(rng, "shop", 6, 1, 0.05), 1.3)
	d, err := Diff(base, cur, DiffOptions{Metrics: []string{"p99", "service_time.p99"}})
	if err != nil {
		t.Fatal(err)
	}
	// shop p99, shop service_time.p99, GetProduct p99, ListProducts p99:
	// service time is not recorded per operation.
	if len(d.Rows) != 4 {
		t.Fatalf("rows: %+v", d.Rows)
	}
	for _, r := range d.Rows {
		slowed := r.Operation == "ListProducts"
		if slowed != (r.Verdict == VerdictRegression) {
			t.Errorf("%s %s %s: %s (p %.4f); only ListProducts was slowed", r.Workload, r.Operation, r.Metric, r.Verdict, r.P)
		}
	}
	var buf bytes.Buffer
	WriteDiff(&buf, FormatText, d)
	if !strings.Contains(buf.String(), "shop ListProducts") {
		t.Errorf("text lacks the operation:\n%s", buf.String())
	}
}

// TestDiffVariants: compare -o directories hold DIR/<variant>/<workload>;
// diff compares variant by variant (the same workload name in two variants
// is two groups), names the variant in every format, and refuses sides of
// different variants.
func TestDiffVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	side := func(slowB float64) []*metrics.Result {
		a := synthRuns(rng, "reads", 6, 1, 0.05)
		b := synthRuns(rng, "reads", 6, slowB, 0.05)
		for _, r := range a {
			r.Variant = "cache=none"
		}
		for _, r := range b {
			r.Variant = "cache=lru"
		}
		return append(a, b...)
	}
	base, cur := side(1), side(1.3)
	d, err := Diff(base, cur, DiffOptions{Metrics: []string{"p99"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 2 || d.Rows[0].Variant != "cache=lru" || d.Rows[1].Variant != "cache=none" {
		t.Fatalf("rows: %+v", d.Rows)
	}
	if d.Rows[0].Verdict != VerdictRegression || d.Rows[1].Verdict != VerdictSame {
		t.Fatalf("only cache=lru was slowed: %+v", d.Rows)
	}
	var txt, js, ju bytes.Buffer
	if err := WriteDiff(&txt, FormatText, d); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	if !strings.HasPrefix(lines[2], "  variant     workload  metric") || !strings.HasPrefix(lines[3], "  cache=lru   reads        p99") {
		t.Errorf("text:\n%s", txt.String())
	}
	if err := WriteDiff(&js, FormatJSON, d); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Rows[0]["variant"] != "cache=lru" {
		t.Errorf("json: %v %s", err, js.String())
	}
	if err := WriteJUnit(&ju, "loadrig diff", DiffCases(d)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ju.String(), `name="cache=lru/reads p99"`) {
		t.Errorf("junit:\n%s", ju.String())
	}
	other := side(1)
	for _, r := range other[6:] {
		r.Variant = "cache=redis"
	}
	_, err = Diff(base, other, DiffOptions{})
	if err == nil || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), "different variants (only in BASE: cache=lru; only in CURRENT: cache=redis)") {
		t.Errorf("different variants: %v", err)
	}
	_, err = Diff(base, append(synthRuns(rng, "reads", 6, 1, 0.05), other[6:]...), DiffOptions{})
	if err == nil || !strings.Contains(err.Error(), "only in CURRENT: (none: results of a plain load), cache=redis") {
		t.Errorf("variants against plain results: %v", err)
	}
	// One variant a side, two different ones (DIR/a against DIR/b of one
	// compare): those two variants are compared.
	d, err = Diff(base[6:], cur[:6], DiffOptions{Metrics: []string{"p99"}})
	if err != nil || len(d.Rows) != 1 || d.Rows[0].Variant != "cache=lru vs cache=none" || d.Rows[0].Workload != "reads" {
		t.Fatalf("variant against variant: %v %+v", err, d)
	}
}

// TestDiffSessions: runs that timed messages (ws, sse, poll,
// subscriptions) are compared on their message latency too by default, so
// a slower delivery is found although the sessions were held as long; a
// chosen --metric list is kept as given.
func TestDiffSessions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	withMessages := func(rs []*metrics.Result, slow float64) []*metrics.Result {
		for _, r := range rs {
			p50 := 500 * slow * math.Exp(rng.NormFloat64()*0.05)
			r.MessageLatency = &metrics.Summary{P50: int64(p50), P99: int64(4 * p50), N: 5000}
		}
		return rs
	}
	base := withMessages(synthRuns(rng, "echo", 6, 1, 0.05), 1)
	cur := withMessages(synthRuns(rng, "echo", 6, 1, 0.05), 1.3)
	d, err := Diff(base, cur, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range d.Rows {
		got[r.Metric] = r.Verdict
	}
	for _, m := range SessionDiffMetrics {
		if got[m] != VerdictRegression {
			t.Errorf("%s: %q, want regression (rows %v)", m, got[m], got)
		}
	}
	if len(d.Rows) != len(DefaultDiffMetrics)+len(SessionDiffMetrics) {
		t.Errorf("%d rows, want the defaults and the session metrics: %v", len(d.Rows), got)
	}
	if d, _ = Diff(base, cur, DiffOptions{Metrics: []string{"p99"}}); len(d.Rows) != 1 {
		t.Errorf("a chosen metric list grew: %+v", d.Rows)
	}
	// Plain requests get no message rows.
	if d, _ = Diff(synthRuns(rng, "get", 6, 1, 0.05), synthRuns(rng, "get", 6, 1, 0.05), DiffOptions{}); len(d.Rows) != len(DefaultDiffMetrics) {
		t.Errorf("%d rows for plain requests", len(d.Rows))
	}
}
