package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// SummarySchema is the schema id of summary.json (see SUMMARY.md in the
// design notes: the shape diff reads).
const SummarySchema = "loadrig.summary/v1"

// Summary is DIR/summary.json.
type Summary struct {
	Schema     string             `json:"schema"`
	Profile    string             `json:"profile"`
	Command    string             `json:"command"`
	StartedAt  time.Time          `json:"started_at"`
	Variants   []VariantSummary   `json:"variants"`
	Thresholds []ThresholdVerdict `json:"thresholds"`
}

// VariantSummary is one variant's workloads.
type VariantSummary struct {
	Name      string            `json:"name"`
	PlanHash  string            `json:"plan_hash"`
	Workloads []WorkloadSummary `json:"workloads"`
}

// WorkloadSummary is one workload over its repetitions.
type WorkloadSummary struct {
	Name string `json:"name"`
	// Runs are the result files, relative to the summary's directory.
	Runs []string `json:"runs"`
	// Median and Spread (min, max) per metric over the runs; a metric no
	// run has is absent.
	Median map[string]float64    `json:"median"`
	Spread map[string][2]float64 `json:"spread"`

	values  map[string][]float64
	results []*metrics.Result
}

// ThresholdVerdict is one threshold's outcome.
type ThresholdVerdict struct {
	Expr     string  `json:"expr"`
	Scope    string  `json:"scope"`
	Observed float64 `json:"observed"`
	OK       bool    `json:"ok"`
}

// Metric keys of Median and Spread, in table order.
var Metrics = []string{"rps", "p50_us", "p99_us", "error_rate", "hit_ratio", "store_calls_per_op", "connections"}

// ResultMetrics extracts the summary metrics of one result.
func ResultMetrics(r *metrics.Result) map[string]float64 {
	m := map[string]float64{
		"rps":         r.ThroughputRPS,
		"p50_us":      float64(r.Latency.P50),
		"p99_us":      float64(r.Latency.P99),
		"connections": float64(r.Connections.PeakOpen),
	}
	if r.Requests.Total > 0 {
		m["error_rate"] = float64(r.Requests.Errors) / float64(r.Requests.Total)
		if st, ok := r.Server["store"].(map[string]any); ok {
			if calls, ok := st["calls"].(float64); ok {
				m["store_calls_per_op"] = calls / float64(r.Requests.Total)
			}
		}
	}
	if r.Cache != nil && r.Cache.Hits+r.Cache.Misses+r.Cache.Revalidated+r.Cache.Other > 0 {
		m["hit_ratio"] = r.Cache.HitRatio
	}
	// Sessions (ws, sse, poll, subscriptions): what the messages did, which
	// is what a realtime comparison is about (a session's own latency is
	// how long it was held).
	if r.Messages != nil && r.DurationS > 0 {
		m["msgs_rps"] = float64(r.Messages.Received) / r.DurationS
	}
	if ml := r.MessageLatency; ml != nil && ml.N > 0 {
		m["msg_p50_us"], m["msg_p99_us"] = float64(ml.P50), float64(ml.P99)
	}
	return m
}

// Add records one run of workload name of variant v (its result file
// given relative to base).
func (s *Summary) Add(variant, planHash, name, base, file string, r *metrics.Result) {
	vi := slices.IndexFunc(s.Variants, func(v VariantSummary) bool { return v.Name == variant })
	if vi < 0 {
		s.Variants = append(s.Variants, VariantSummary{Name: variant, PlanHash: planHash})
		vi = len(s.Variants) - 1
	}
	v := &s.Variants[vi]
	wi := slices.IndexFunc(v.Workloads, func(w WorkloadSummary) bool { return w.Name == name })
	if wi < 0 {
		v.Workloads = append(v.Workloads, WorkloadSummary{Name: name, values: map[string][]float64{}})
		wi = len(v.Workloads) - 1
	}
	w := &v.Workloads[wi]
	if w.values == nil {
		w.values = map[string][]float64{}
	}
	rel, err := filepath.Rel(base, file)
	if err != nil {
		rel = file
	}
	w.Runs = append(w.Runs, filepath.ToSlash(rel))
	if r == nil {
		return
	}
	w.results = append(w.results, r)
	for k, x := range ResultMetrics(r) {
		w.values[k] = append(w.values[k], x)
	}
	w.Median, w.Spread = map[string]float64{}, map[string][2]float64{}
	for k, xs := range w.values {
		w.Median[k] = Median(xs)
		w.Spread[k] = [2]float64{slices.Min(xs), slices.Max(xs)}
	}
}

// Values returns the per-run values of metric of variant's workload.
func (s *Summary) Values(variant, workload, metric string) []float64 {
	for _, v := range s.Variants {
		if v.Name != variant {
			continue
		}
		for _, w := range v.Workloads {
			if w.Name == workload {
				return w.values[metric]
			}
		}
	}
	return nil
}

// Results returns the results of variant's workload, in run order.
func (s *Summary) Results(variant, workload string) []*metrics.Result {
	for _, v := range s.Variants {
		if v.Name != variant {
			continue
		}
		for _, w := range v.Workloads {
			if w.Name == workload {
				return w.results
			}
		}
	}
	return nil
}

// All returns every result, variant by variant, workload by workload.
func (s *Summary) All() []*metrics.Result {
	var out []*metrics.Result
	for _, v := range s.Variants {
		for _, w := range v.Workloads {
			out = append(out, w.results...)
		}
	}
	return out
}

// Median of xs (NaN when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Write writes the summary as indented JSON.
func (s *Summary) Write(w io.Writer) error {
	if s.Thresholds == nil {
		s.Thresholds = []ThresholdVerdict{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// PrintMedians prints each variant's workloads: the median of every
// metric over the runs, with the runs' range when there are several.
func PrintMedians(w io.Writer, s *Summary) {
	for _, v := range s.Variants {
		for _, wl := range v.Workloads {
			n := len(wl.Runs)
			fmt.Fprintf(w, "%-28s %d run(s), median: %s\n", v.Name+"/"+wl.Name, n, OneLine(wl.Median))
			if n > 1 {
				sp := wl.Spread
				fmt.Fprintf(w, "%-28s range: p99 %s–%s, %.1f–%.1f req/s\n", "", Micros(sp["p99_us"][0]), Micros(sp["p99_us"][1]), sp["rps"][0], sp["rps"][1])
			}
		}
	}
}
