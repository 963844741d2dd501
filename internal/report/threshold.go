package report

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/loadrig/loadrig/internal/metrics"
)

// Threshold is one parsed pass/fail rule, `[WORKLOAD:]METRIC OP VALUE`:
// `p99<50ms`, `error_rate<0.1%`, `checkout:rps>=400`,
// `operations.GetProduct.p99<20ms`.
type Threshold struct {
	// Expr is the rule as written (spaces removed).
	Expr string
	// Workload limits the rule to results of that workload (Workload(r));
	// "" applies it to every result.
	Workload string
	// Operation limits the rule to one operation of a result
	// (operations.NAME.METRIC); "" is the whole result.
	Operation string
	// Metric is the canonical metric name without the operation prefix:
	// "p99", "service_time.p99", "error_rate", "rps", "hit_ratio",
	// "late_sends", "store_calls_per_op".
	Metric string
	// Op is one of <, <=, >, >=.
	Op string
	// Limit is the bound in the metric's base unit: microseconds for
	// latencies, a fraction for ratios, operations per second for rps, a
	// count for late_sends (or a fraction when Fraction is set).
	Limit float64
	// Fraction is set for late_sends given in %: compare the fraction of
	// sends, not their count.
	Fraction bool
}

// metricKind says how a metric's value is written and compared.
type metricKind int

const (
	kindLatency metricKind = iota // µs; the value needs a unit us, ms or s
	kindRatio                     // a fraction; the value may carry %
	kindRate                      // per second; no unit
	kindCount                     // late_sends: a count, or a fraction with %
	kindPlain                     // store_calls_per_op: a number
)

// latencyStats are the statistics of a latency distribution.
var latencyStats = []string{"p50", "p90", "p99", "p999", "max", "mean", "min"}

// latencyDists are the distributions a latency statistic may name:
// "p99" alone is latency.p99.
var latencyDists = []string{"latency", "service_time", "schedule_lag", "message_latency"}

// metricKindOf classifies a canonical metric name; ok is false when the
// name is unknown.
func metricKindOf(m string) (metricKind, bool) {
	switch m {
	case "error_rate", "hit_ratio":
		return kindRatio, true
	case "rps":
		return kindRate, true
	case "late_sends":
		return kindCount, true
	case "store_calls_per_op":
		return kindPlain, true
	}
	dist, stat, found := strings.Cut(m, ".")
	if !found {
		dist, stat = "latency", m
	}
	for _, d := range latencyDists {
		if d == dist {
			for _, s := range latencyStats {
				if s == stat {
					return kindLatency, true
				}
			}
		}
	}
	return 0, false
}

// canonicalMetric folds aliases: latency.p99 is p99, p99.9 is p999.
func canonicalMetric(m string) string {
	m = strings.ReplaceAll(m, "p99.9", "p999")
	m = strings.TrimPrefix(m, "latency.")
	return m
}

// maxExprLen bounds a threshold expression.
const maxExprLen = 512

// ParseThreshold parses `[WORKLOAD:]METRIC OP VALUE`. Spaces are ignored.
// Errors say what was wrong and give an example.
func ParseThreshold(expr string) (Threshold, error) {
	if len(expr) > maxExprLen {
		return Threshold{}, fmt.Errorf("threshold longer than %d bytes", maxExprLen)
	}
	s := strings.Join(strings.Fields(expr), "")
	t := Threshold{Expr: s}
	if s == "" {
		return t, errors.New("empty threshold; write METRIC OP VALUE, e.g. p99<50ms")
	}
	i := strings.IndexAny(s, "<>")
	if i < 0 {
		return t, fmt.Errorf("threshold %q has no comparison; write METRIC OP VALUE with OP one of < <= > >=, e.g. p99<50ms", s)
	}
	lhs, rest := s[:i], s[i:]
	t.Op = rest[:1]
	if len(rest) > 1 && rest[1] == '=' {
		t.Op += "="
	}
	value := rest[len(t.Op):]
	if strings.ContainsAny(value, "<>=") || strings.ContainsAny(lhs, "=") {
		return t, fmt.Errorf("threshold %q: one comparison (< <= > >=) between a metric and a value, e.g. p99<50ms", s)
	}
	if w, m, ok := strings.Cut(lhs, ":"); ok {
		if w == "" {
			return t, fmt.Errorf("threshold %q: empty workload before ':'; write WORKLOAD:METRIC, e.g. checkout:p99<50ms", s)
		}
		t.Workload, lhs = w, m
	}
	if rest, ok := strings.CutPrefix(lhs, "operations."); ok {
		j := strings.LastIndex(rest, ".")
		// The metric after the operation name may itself contain a dot
		// (service_time.p99): try the longest known suffix.
		name, metric := "", ""
		for k := 0; k < len(rest); k++ {
			if rest[k] != '.' {
				continue
			}
			if _, ok := metricKindOf(canonicalMetric(rest[k+1:])); ok {
				name, metric = rest[:k], rest[k+1:]
				break
			}
		}
		if name == "" {
			if j <= 0 {
				return t, fmt.Errorf("threshold %q: write operations.NAME.METRIC, e.g. operations.GetProduct.p99<20ms", s)
			}
			name, metric = rest[:j], rest[j+1:]
		}
		t.Operation, lhs = name, metric
	}
	t.Metric = canonicalMetric(lhs)
	kind, ok := metricKindOf(t.Metric)
	if !ok {
		return t, fmt.Errorf("threshold %q: unknown metric %q%s; known: p50 p90 p99 p999 max mean (also service_time.p99, message_latency.p99), error_rate, rps, hit_ratio, late_sends, store_calls_per_op",
			s, lhs, didYouMean(lhs))
	}
	if t.Operation != "" {
		switch {
		case kind == kindLatency && (strings.HasPrefix(t.Metric, "service_time.") || strings.HasPrefix(t.Metric, "schedule_lag.")):
			return t, fmt.Errorf("threshold %q: an operation has its latency only; use operations.%s.%s", s, t.Operation, t.Metric[strings.Index(t.Metric, ".")+1:])
		case kind == kindLatency, t.Metric == "error_rate", t.Metric == "rps":
		default:
			return t, fmt.Errorf("threshold %q: %s is not recorded per operation; per operation: latency (p99 ...), error_rate, rps", s, t.Metric)
		}
	}
	lim, frac, err := parseValue(value, kind)
	if err != nil {
		return t, fmt.Errorf("threshold %q: %v", s, err)
	}
	t.Limit, t.Fraction = lim, frac
	return t, nil
}

// parseValue reads VALUE for a metric of kind k.
func parseValue(v string, k metricKind) (limit float64, fraction bool, err error) {
	num := strings.TrimRightFunc(v, func(r rune) bool { return r == '%' || r == 'µ' || (r >= 'a' && r <= 'z') || r == '/' })
	unit := v[len(num):]
	if v == "" {
		return 0, false, fmt.Errorf("missing value after the comparison, e.g. p99<50ms")
	}
	if num == "" {
		return 0, false, fmt.Errorf("value %q is not a number", v)
	}
	f, perr := strconv.ParseFloat(num, 64)
	if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("value %q is not a number", num)
	}
	if f < 0 {
		return 0, false, fmt.Errorf("value %q is negative", v)
	}
	switch k {
	case kindLatency:
		switch unit {
		case "us", "µs":
			return f, false, nil
		case "ms":
			return f * 1e3, false, nil
		case "s":
			return f * 1e6, false, nil
		case "":
			return 0, false, fmt.Errorf("latency %q needs a unit: us, ms or s (e.g. 50ms)", v)
		}
		return 0, false, fmt.Errorf("unknown latency unit %q; use us, ms or s", unit)
	case kindRatio, kindCount:
		switch unit {
		case "%":
			return f / 100, true, nil
		case "":
			return f, false, nil
		}
		if k == kindCount {
			return 0, false, fmt.Errorf("unit %q: late_sends is a count (late_sends<10) or a share of sends (late_sends<1%%)", unit)
		}
		return 0, false, fmt.Errorf("unit %q: a ratio is a fraction (0.001) or a percentage (0.1%%)", unit)
	default:
		if unit == "/s" && k == kindRate {
			return f, false, nil
		}
		if unit != "" {
			return 0, false, fmt.Errorf("unit %q: this metric is a plain number", unit)
		}
		return f, false, nil
	}
}

// didYouMean suggests the closest known metric name.
func didYouMean(m string) string {
	cands := []string{"error_rate", "rps", "hit_ratio", "late_sends", "store_calls_per_op"}
	cands = append(cands, latencyStats...)
	for _, d := range latencyDists[1:] {
		for _, s := range latencyStats {
			cands = append(cands, d+"."+s)
		}
	}
	best, bestD := "", 4
	for _, c := range cands {
		if d := editDistance(m, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParseThresholds parses each expression; the first bad one is the error.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// String is the rule as written.
func (t Threshold) String() string { return t.Expr }

// Verdict is one threshold judged on one result (its scope).
type Verdict struct {
	Threshold Threshold
	// Scope names what was judged: the result's workload, "" when no result
	// matched the threshold's workload.
	Scope string
	// Observed is the measured value in the metric's base unit; valid when
	// HasData.
	Observed float64
	HasData  bool
	// OK is true when the rule held. A rule without data is never OK.
	OK bool
	// Reason says why there is no data ("no cache signal", ...).
	Reason string
}

// Workload names the workload a result belongs to: its name (--name, a
// profile's workload), else its target (for a plain load, the URL
// template it drove).
func Workload(r *metrics.Result) string {
	switch {
	case r.Name != "":
		return r.Name
	case r.Workload != "":
		return r.Workload
	}
	return r.Target
}

// Evaluate judges every threshold against every result of its workload (or
// every result). A threshold whose workload matches no result, and a metric
// without data in a result, fail.
func Evaluate(ths []Threshold, results ...*metrics.Result) []Verdict {
	var out []Verdict
	for _, t := range ths {
		matched := false
		for _, r := range results {
			if r == nil || (t.Workload != "" && Workload(r) != t.Workload) {
				continue
			}
			matched = true
			out = append(out, judge(t, r))
		}
		if !matched {
			reason := "no result"
			if t.Workload != "" {
				reason = fmt.Sprintf("no result of workload %q", t.Workload)
			}
			out = append(out, Verdict{Threshold: t, Reason: reason})
		}
	}
	return out
}

// Breached reports whether any verdict failed.
func Breached(vs []Verdict) bool {
	for _, v := range vs {
		if !v.OK {
			return true
		}
	}
	return false
}

// Failed counts the verdicts that failed.
func Failed(vs []Verdict) int {
	n := 0
	for _, v := range vs {
		if !v.OK {
			n++
		}
	}
	return n
}

func judge(t Threshold, r *metrics.Result) Verdict {
	v := Verdict{Threshold: t, Scope: Workload(r)}
	if t.Operation != "" {
		v.Scope += " " + t.Operation
	}
	v.Observed, v.Reason = observe(t, r)
	v.HasData = v.Reason == ""
	if !v.HasData {
		return v
	}
	switch t.Op {
	case "<":
		v.OK = v.Observed < t.Limit
	case "<=":
		v.OK = v.Observed <= t.Limit
	case ">":
		v.OK = v.Observed > t.Limit
	case ">=":
		v.OK = v.Observed >= t.Limit
	}
	return v
}

// observe returns t's metric in r, or a reason why r has no such figure.
func observe(t Threshold, r *metrics.Result) (float64, string) {
	if t.Operation != "" {
		return observeOperation(t, r)
	}
	switch t.Metric {
	case "error_rate":
		if r.Requests.Total == 0 {
			return 0, "no operation completed"
		}
		return float64(r.Requests.Errors) / float64(r.Requests.Total), ""
	case "rps":
		if r.DurationS <= 0 {
			return 0, "no measured phase"
		}
		return r.ThroughputRPS, ""
	case "hit_ratio":
		if r.Cache != nil {
			return r.Cache.HitRatio, ""
		}
		if h, ok := metrics.DecodeServerStats(r.Server).ServerHitRatio(); ok {
			return h, ""
		}
		return 0, "no cache signal (no cache header seen, no cache counts in the server's /stats)"
	case "late_sends":
		if !isOpen(r) {
			return 0, "closed model: no schedule, so no late sends"
		}
		if t.Fraction {
			return r.LateSends.Fraction, ""
		}
		return float64(r.LateSends.Count), ""
	case "store_calls_per_op":
		if c, ok := metrics.DecodeServerStats(r.Server).StoreCallsPerRequest(); ok {
			return c, ""
		}
		return 0, "no store counts (the target's /stats is not a loadrig server's)"
	}
	s, reason := distribution(t.Metric, r)
	if reason != "" {
		return 0, reason
	}
	return statOf(t.Metric, s)
}

// distribution returns the summary a latency metric reads.
func distribution(m string, r *metrics.Result) (metrics.Summary, string) {
	dist, _, found := strings.Cut(m, ".")
	if !found {
		dist = "latency"
	}
	var s *metrics.Summary
	switch dist {
	case "latency":
		s = &r.Latency
	case "service_time":
		s = &r.ServiceTime
	case "schedule_lag":
		s = r.ScheduleLag
	case "message_latency":
		s = r.MessageLatency
	}
	if s == nil {
		return metrics.Summary{}, "no " + strings.ReplaceAll(dist, "_", " ") + " in this result"
	}
	return *s, ""
}

// statOf picks a statistic out of a summary; no sample is no data.
func statOf(m string, s metrics.Summary) (float64, string) {
	if s.N == 0 {
		return 0, "no sample"
	}
	stat := m
	if _, after, ok := strings.Cut(m, "."); ok {
		stat = after
	}
	switch stat {
	case "p50":
		return float64(s.P50), ""
	case "p90":
		return float64(s.P90), ""
	case "p99":
		return float64(s.P99), ""
	case "p999":
		return float64(s.P999), ""
	case "max":
		return float64(s.Max), ""
	case "min":
		return float64(s.Min), ""
	case "mean":
		return s.Mean, ""
	}
	return 0, "unknown statistic " + stat
}

// formatValue writes a metric value in its unit.
func formatValue(t Threshold, v float64) string {
	kind, _ := metricKindOf(t.Metric)
	switch kind {
	case kindLatency:
		return usf(v)
	case kindRatio:
		return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
	case kindRate:
		return rate(v)
	case kindCount:
		if t.Fraction {
			return strconv.FormatFloat(v*100, 'f', -1, 64) + "%"
		}
		return num(v)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// observedText formats a verdict's observed value (rounded for reading).
func observedText(v Verdict) string {
	if !v.HasData {
		return "no data: " + v.Reason
	}
	kind, _ := metricKindOf(v.Threshold.Metric)
	switch {
	case kind == kindRatio, kind == kindCount && v.Threshold.Fraction:
		return pctSig(v.Observed)
	}
	return formatValue(v.Threshold, v.Observed)
}

// pctSig formats a fraction as a percentage with enough digits to compare
// with small limits: 0.00012 -> "0.012%".
func pctSig(f float64) string {
	p := f * 100
	switch {
	case p == 0:
		return "0%"
	case math.Abs(p) >= 1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'g', 3, 64) + "%"
}

// limitText is "< 50.00ms".
func limitText(t Threshold) string { return t.Op + " " + formatValue(t, t.Limit) }

// verdictTable is the verdicts as a report table.
func verdictTable(vs []Verdict) table {
	t := table{title: "thresholds", header: []string{"", "threshold", "scope", "observed", "limit"}}
	for _, v := range vs {
		mark := "✓"
		if !v.OK {
			mark = "✗"
		}
		scope := v.Scope
		if scope == "" {
			scope = "-"
		}
		obs := observedText(v)
		if !v.HasData {
			obs = "no data"
		}
		t.rows = append(t.rows, []string{mark, v.Threshold.Expr, scope, obs, limitText(v.Threshold)})
	}
	return t
}

// verdictNote summarizes the verdicts in one line.
func verdictNote(vs []Verdict) note {
	n := Failed(vs)
	if n == 0 {
		return note{text: fmt.Sprintf("all %d threshold checks passed", len(vs))}
	}
	var names []string
	seen := map[string]bool{}
	for _, v := range vs {
		if !v.OK && !seen[v.Threshold.Expr] {
			seen[v.Threshold.Expr] = true
			names = append(names, v.Threshold.Expr)
		}
	}
	sort.Strings(names)
	return note{warning: true, text: fmt.Sprintf("%d of %d threshold checks failed: %s", n, len(vs), strings.Join(names, ", "))}
}

// noDataNotes explains each verdict that failed for want of data.
func noDataNotes(vs []Verdict) []note {
	var out []note
	for _, v := range vs {
		if !v.HasData {
			scope := ""
			if v.Scope != "" {
				scope = " [" + v.Scope + "]"
			}
			out = append(out, note{text: fmt.Sprintf("%s%s has no data, so it fails: %s", v.Threshold.Expr, scope, v.Reason)})
		}
	}
	return out
}

// observeOperation reads a per-operation figure from the result's
// operations section (operations.NAME.{requests, latency_us}): latency
// statistics, error_rate, and rps as the operation's ok count over the
// measured duration.
func observeOperation(t Threshold, r *metrics.Result) (float64, string) {
	op := r.Operations[t.Operation]
	if op == nil {
		return 0, "no operation " + strconv.Quote(t.Operation) + " in this result"
	}
	switch t.Metric {
	case "error_rate":
		if op.Requests.Total == 0 {
			return 0, "no operation completed"
		}
		return float64(op.Requests.Errors) / float64(op.Requests.Total), ""
	case "rps":
		if r.DurationS <= 0 {
			return 0, "no measured phase"
		}
		return float64(op.Requests.OK) / r.DurationS, ""
	}
	return statOf(t.Metric, op.Latency)
}
