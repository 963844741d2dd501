package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/loadrig/loadrig/internal/metrics"
)

// DiffSchema is the schema id of `loadrig diff --format json`.
const DiffSchema = "loadrig.diff/v1"

// Diff verdicts.
const (
	VerdictRegression  = "regression"
	VerdictImprovement = "improvement"
	VerdictSame        = "same"
)

// MinRunsPerSide is the fewest runs per side diff accepts: with 3 a side
// the smallest p a Mann-Whitney U test can give is 0.10, so nothing could
// be significant at 0.05. RecommendedRuns is what to ask for (a 95 %
// interval of the median needs 6).
const (
	MinRunsPerSide  = 4
	RecommendedRuns = 6
)

// DefaultDiffMetrics are the metrics diff compares unless told otherwise.
var DefaultDiffMetrics = []string{"p50", "p99", "rps", "error_rate"}

// SessionDiffMetrics are compared too, with the defaults, for workloads
// whose runs all timed messages (ws, sse, poll, subscriptions).
var SessionDiffMetrics = []string{"message_latency.p50", "message_latency.p99"}

// hasMessageLatency reports whether every run timed messages.
func hasMessageLatency(rs []*metrics.Result) bool {
	for _, r := range rs {
		if r.MessageLatency == nil || r.MessageLatency.N == 0 {
			return false
		}
	}
	return len(rs) > 0
}

// DiffOptions tune Diff.
type DiffOptions struct {
	// Metrics to compare, threshold metric names (p50, p99, rps,
	// error_rate, service_time.p99, hit_ratio, ...). Default
	// DefaultDiffMetrics.
	Metrics []string
	// Alpha is the significance level: a change needs p < Alpha. Default
	// 0.05.
	Alpha float64
	// MinChange is the smallest relative change (a fraction: 0.05 = 5 %)
	// worth calling, in the bad direction for a regression. Default 0.05.
	MinChange float64
}

func (o *DiffOptions) defaults() {
	if len(o.Metrics) == 0 {
		o.Metrics = DefaultDiffMetrics
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	if o.MinChange <= 0 {
		o.MinChange = 0.05
	}
}

// DiffRow is one workload's (and operation's) metric compared.
type DiffRow struct {
	// Variant is the profile variant the runs measured (compare -o
	// directories hold several); "" (and no key) for results without one.
	Variant   string `json:"variant,omitempty"`
	Workload  string `json:"workload"`
	Operation string `json:"operation"`
	Metric    string `json:"metric"`
	// BaseMedian and CurrentMedian are the medians of the per-run values,
	// in the metric's base unit (µs, a fraction, operations per second).
	BaseMedian    float64 `json:"base_median"`
	CurrentMedian float64 `json:"current_median"`
	// DeltaPct is (current − base) / base × 100; null when the base median
	// is 0 and the current is not.
	DeltaPct *float64 `json:"delta_pct"`
	// P is the Mann-Whitney U test's two-sided p-value (1 when the test
	// cannot run, e.g. every value equal).
	P        float64 `json:"p"`
	NBase    int     `json:"n_base"`
	NCurrent int     `json:"n_current"`
	Verdict  string  `json:"verdict"`
}

// DiffReport is what `loadrig diff` prints, loadrig.diff/v1.
type DiffReport struct {
	Schema    string    `json:"schema"`
	Alpha     float64   `json:"alpha"`
	MinChange float64   `json:"min_change"`
	Rows      []DiffRow `json:"rows"`
}

// Regressions counts the rows whose verdict is a regression.
func (d *DiffReport) Regressions() int {
	n := 0
	for _, r := range d.Rows {
		if r.Verdict == VerdictRegression {
			n++
		}
	}
	return n
}

// ErrTooFewRuns is wrapped by Diff's error when a side has fewer than
// MinRunsPerSide runs of a workload.
var ErrTooFewRuns = errors.New("too few runs")

// DiffMetricsValid checks metric names for Diff (the CLI checks them before
// reading anything).
func DiffMetricsValid(ms []string) error {
	for _, m := range ms {
		if _, ok := metricKindOf(canonicalMetric(m)); !ok {
			return fmt.Errorf("unknown metric %q%s; use p50 p90 p99 p999 max mean, service_time.p99, error_rate, rps, hit_ratio, late_sends, store_calls_per_op", m, didYouMean(m))
		}
	}
	return nil
}

// higherIsWorse says which direction of change is a regression.
func higherIsWorse(metric string) bool {
	switch metric {
	case "rps", "hit_ratio":
		return false
	}
	return true
}

// Diff compares per-run values of base and current, per variant (Variant
// of each result: compare -o directories hold several), workload (Workload
// of each result) and metric, with benchstat's Mann-Whitney U test
// (benchmath.AssumeNothing). A row is a regression when p < Alpha and the
// medians moved past MinChange in the bad direction, an improvement when
// they moved as far the other way, else same. Both sides must hold the
// same variants and workloads, each with at least MinRunsPerSide runs —
// except that a side of one variant against a side of another compares
// those two variants (rows' Variant "a vs b").
func Diff(base, current []*metrics.Result, opts DiffOptions) (*DiffReport, error) {
	opts.defaults()
	if err := DiffMetricsValid(opts.Metrics); err != nil {
		return nil, err
	}
	b, c := byWorkload(base, ""), byWorkload(current, "")
	if len(b) == 0 || len(c) == 0 {
		return nil, errors.New("a side has no results")
	}
	if vb, vc := variants(b), variants(c); len(vb) == 1 && len(vc) == 1 && vb[0] != vc[0] {
		// One variant a side, and not the same (DIR/a against DIR/b of one
		// compare): the two variants are what is compared, workload by
		// workload; the rows say which against which.
		label := shortVariant(vb[0]) + " vs " + shortVariant(vc[0])
		b, c = byWorkload(base, label), byWorkload(current, label)
	}
	if missing, extra := setDiff(variants(b), variants(c)); len(missing) > 0 || len(extra) > 0 {
		return nil, fmt.Errorf("the sides have different variants (%s); diff runs of the same variants, e.g. two compare -o directories of one profile, or one variant's directory on each side (DIR/<variant>)",
			onlyIn(missing, extra, variantLabel))
	}
	if missing, extra := setDiff(keys(b), keys(c)); len(missing) > 0 || len(extra) > 0 {
		return nil, fmt.Errorf("the sides have different workloads (%s); compare runs of the same workloads", onlyIn(missing, extra, keyLabel))
	}
	for _, k := range keys(b) {
		if nb, nc := len(b[k]), len(c[k]); nb < MinRunsPerSide || nc < MinRunsPerSide {
			return nil, fmt.Errorf("%w: workload %q has %d base and %d current runs; a significance test needs at least %d a side (with 3 the smallest p is 0.10) — run --repeat %d",
				ErrTooFewRuns, keyLabel(k), nb, nc, MinRunsPerSide, RecommendedRuns)
		}
	}
	th := &benchmath.Thresholds{CompareAlpha: opts.Alpha}
	rep := &DiffReport{Schema: DiffSchema, Alpha: opts.Alpha, MinChange: opts.MinChange}
	for _, k := range keys(b) {
		v, w := splitKey(k)
		// The whole workload first, then each operation both sides ran
		// (operations.NAME in the results), for the metrics recorded per
		// operation.
		scopes := []string{""}
		scopes = append(scopes, commonOperations(b[k], c[k])...)
		for _, opName := range scopes {
			ms := opts.Metrics
			if opName == "" && slices.Equal(ms, DefaultDiffMetrics) && hasMessageLatency(b[k]) && hasMessageLatency(c[k]) {
				// Sessions: their latency is how long they were held; what
				// they delivered is in their messages.
				ms = append(slices.Clip(ms), SessionDiffMetrics...)
			}
			for _, m := range ms {
				m = canonicalMetric(m)
				t := Threshold{Metric: m, Fraction: true, Operation: opName}
				if opName != "" && !perOperation(m) {
					continue
				}
				row := diffRow(w, t, b[k], c[k], th, opts)
				row.Variant = v
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	return rep, nil
}

// A group key is the variant and the workload, split by a NUL (neither
// holds one: both come from names in a profile or a command line).
func groupKey(variant, workload string) string { return variant + "\x00" + workload }

func splitKey(k string) (variant, workload string) {
	variant, workload, _ = strings.Cut(k, "\x00")
	return variant, workload
}

// keyLabel names a group for people: variant/workload, or the workload
// alone for results without a variant.
func keyLabel(k string) string {
	if v, w := splitKey(k); v != "" {
		return v + "/" + w
	}
	return k[1:]
}

func variantLabel(v string) string {
	if v == "" {
		return "(none: results of a plain load)"
	}
	return v
}

// variants lists, sorted, the variants of a side's groups.
func variants(groups map[string][]*metrics.Result) []string {
	seen := map[string]bool{}
	var out []string
	for k := range groups {
		if v, _ := splitKey(k); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// onlyIn says what is only in BASE and only in CURRENT.
func onlyIn(missing, extra []string, label func(string) string) string {
	list := func(xs []string) string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = label(x)
		}
		return strings.Join(out, ", ")
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "only in BASE: "+list(missing))
	}
	if len(extra) > 0 {
		parts = append(parts, "only in CURRENT: "+list(extra))
	}
	return strings.Join(parts, "; ")
}

// perOperation says whether a metric is recorded per operation.
func perOperation(m string) bool {
	if m == "error_rate" || m == "rps" {
		return true
	}
	k, _ := metricKindOf(m)
	return k == kindLatency && !strings.Contains(m, ".")
}

// commonOperations lists, sorted, the operations that appear in some run of
// each side.
func commonOperations(b, c []*metrics.Result) []string {
	names := func(rs []*metrics.Result) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			for n := range r.Operations {
				m[n] = true
			}
		}
		return m
	}
	nb, nc := names(b), names(c)
	var out []string
	for n := range nb {
		if nc[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// diffRow compares one metric of one workload (or operation).
func diffRow(w string, t Threshold, b, c []*metrics.Result, th *benchmath.Thresholds, opts DiffOptions) DiffRow {
	bv, cv := values(t, b), values(t, c)
	row := DiffRow{Workload: w, Operation: t.Operation, Metric: t.Metric, NBase: len(bv), NCurrent: len(cv), P: 1, Verdict: VerdictSame}
	if len(bv) > 0 {
		row.BaseMedian = median(bv)
	}
	if len(cv) > 0 {
		row.CurrentMedian = median(cv)
	}
	if len(bv) > 0 && len(cv) > 0 {
		cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(bv, th), benchmath.NewSample(cv, th))
		row.P = cmp.P
		row.DeltaPct = deltaPct(row.BaseMedian, row.CurrentMedian)
		row.Verdict = verdict(t.Metric, row, opts)
	}
	return row
}

func verdict(metric string, r DiffRow, o DiffOptions) string {
	if r.P >= o.Alpha || r.NBase < MinRunsPerSide || r.NCurrent < MinRunsPerSide {
		return VerdictSame
	}
	up := r.CurrentMedian > r.BaseMedian
	far := r.DeltaPct == nil || math.Abs(*r.DeltaPct) > o.MinChange*100
	if !far || r.CurrentMedian == r.BaseMedian {
		return VerdictSame
	}
	if up == higherIsWorse(metric) {
		return VerdictRegression
	}
	return VerdictImprovement
}

func deltaPct(base, cur float64) *float64 {
	var d float64
	switch {
	case base == 0 && cur == 0:
		d = 0
	case base == 0:
		return nil
	default:
		d = (cur - base) / math.Abs(base) * 100
	}
	return &d
}

// values reads t's metric from every run that has it.
func values(t Threshold, rs []*metrics.Result) []float64 {
	var out []float64
	for _, r := range rs {
		if v, reason := observe(t, r); reason == "" {
			out = append(out, v)
		}
	}
	return out
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// byWorkload groups results by variant and workload (groupKey); a
// non-empty variant replaces every result's own.
func byWorkload(rs []*metrics.Result, variant string) map[string][]*metrics.Result {
	m := map[string][]*metrics.Result{}
	for _, r := range rs {
		if r != nil {
			v := variant
			if v == "" {
				v = r.Variant
			}
			k := groupKey(v, Workload(r))
			m[k] = append(m[k], r)
		}
	}
	return m
}

func shortVariant(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// setDiff returns what is only in a and only in b (both sorted).
func setDiff(a, b []string) (onlyA, onlyB []string) {
	in := func(s []string, x string) bool {
		i := sort.SearchStrings(s, x)
		return i < len(s) && s[i] == x
	}
	for _, x := range a {
		if !in(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}

// diffDoc lays the diff out as a report table.
func diffDoc(d *DiffReport) doc {
	out := doc{heading: fmt.Sprintf("loadrig diff (Mann-Whitney U, alpha %s, min change %s)", num(d.Alpha), num(d.MinChange*100)+"%")}
	// A variant column only when the runs have variants (compare and run
	// directories), so a diff of plain load results reads as before.
	withVariant := slices.ContainsFunc(d.Rows, func(r DiffRow) bool { return r.Variant != "" })
	t := table{header: []string{"workload", "metric", "base", "current", "delta", "p", "n", "verdict"}}
	if withVariant {
		t.header = append([]string{"variant"}, t.header...)
		t.labels = 2
	}
	for _, r := range d.Rows {
		w := r.Workload
		if r.Operation != "" {
			w += " " + r.Operation
		}
		th := Threshold{Metric: r.Metric, Fraction: true}
		v := r.Verdict
		if v == VerdictSame {
			v = "~"
		}
		row := []string{w, r.Metric, diffValue(th, r.BaseMedian, r.NBase), diffValue(th, r.CurrentMedian, r.NCurrent),
			deltaText(r.DeltaPct), strconv.FormatFloat(r.P, 'f', 3, 64), fmt.Sprintf("%d+%d", r.NBase, r.NCurrent), v}
		if withVariant {
			row = append([]string{r.Variant}, row...)
		}
		t.rows = append(t.rows, row)
	}
	out.tables = []table{t}
	if n := d.Regressions(); n > 0 {
		out.notes = append(out.notes, note{warning: true, text: fmt.Sprintf("%d regression(s): p < %s and a change past %s in the bad direction", n, num(d.Alpha), num(d.MinChange*100)+"%")})
	} else {
		out.notes = append(out.notes, note{text: fmt.Sprintf("no regression: no metric moved past %s in the bad direction with p < %s (~ = same)", num(d.MinChange*100)+"%", num(d.Alpha))})
	}
	return out
}

func diffValue(t Threshold, v float64, n int) string {
	if n == 0 {
		return "-"
	}
	kind, _ := metricKindOf(t.Metric)
	if kind == kindRatio || kind == kindCount {
		return pctSig(v)
	}
	return formatValue(t, v)
}

func deltaText(d *float64) string {
	if d == nil {
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", *d)
}

// WriteDiff writes d as text, markdown or json (loadrig.diff/v1).
func WriteDiff(w io.Writer, format string, d *DiffReport) error {
	switch format {
	case FormatJSON:
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return err
		}
		return bw.Flush()
	case FormatMarkdown:
		return writeMarkdown(w, diffDoc(d))
	case FormatText:
		return writeText(w, diffDoc(d), false)
	}
	return fmt.Errorf("unknown --format %q; use text, json or markdown", format)
}

// DiffCases turns diff rows into JUnit test cases: a regression fails with
// its delta and p against min-change and alpha.
func DiffCases(d *DiffReport) []JUnitCase {
	out := make([]JUnitCase, 0, len(d.Rows))
	for _, r := range d.Rows {
		name := r.Workload
		if r.Variant != "" {
			name = r.Variant + "/" + name
		}
		if r.Operation != "" {
			name += " " + r.Operation
		}
		msg := fmt.Sprintf("%s: delta %s (min change %s), p %.4f (alpha %s), median %s -> %s, n %d+%d: %s",
			r.Metric, deltaText(r.DeltaPct), num(d.MinChange*100)+"%", r.P, num(d.Alpha),
			num(r.BaseMedian), num(r.CurrentMedian), r.NBase, r.NCurrent, r.Verdict)
		c := JUnitCase{Class: "loadrig.diff", Name: name + " " + r.Metric, Output: msg}
		if r.Verdict == VerdictRegression {
			c.Failure = msg
		}
		out = append(out, c)
	}
	return out
}
