package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// CSVHeader is the fixed header of the CSV format: one row per result.
// Durations are microseconds, ratios fractions (0..1); an empty cell means
// the result has no such figure (e.g. service time of a closed-model run
// is its latency, schedule lag is open-model only, cache without cache
// headers). The mean is rounded to the nanosecond. Columns are only ever
// added at the end.
var CSVHeader = []string{
	"name", "workload", "protocol", "target", "model", "rate", "concurrency", "started_at", "duration_s", "stop_reason",
	"requests", "ok", "errors", "error_rate", "throughput_rps",
	"latency_min_us", "latency_mean_us", "latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_p999_us", "latency_max_us",
	"service_time_p50_us", "service_time_p99_us", "schedule_lag_p99_us", "late_sends", "late_fraction",
	"conns_opened", "conns_reused", "conns_peak_open", "cache_hit_ratio",
	"messages_sent", "messages_received", "message_latency_p50_us", "message_latency_p99_us",
	"store_calls_per_request", "saturated",
	"variant", "repetition",
}

// CSV writes one row per result under CSVHeader.
func CSV(w io.Writer, results ...*metrics.Result) error {
	if err := check(results); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	f64 := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range results {
		errRate := ""
		if r.Requests.Total > 0 {
			errRate = f64(float64(r.Requests.Errors) / float64(r.Requests.Total))
		}
		dist := func(s *metrics.Summary, get func(metrics.Summary) string) string {
			if s == nil || s.N == 0 {
				return ""
			}
			return get(*s)
		}
		p50 := func(s metrics.Summary) string { return i64(s.P50) }
		p99 := func(s metrics.Summary) string { return i64(s.P99) }
		lat := &r.Latency
		var svc, lag *metrics.Summary
		lateN, lateF := "", ""
		if isOpen(r) {
			svc, lag = &r.ServiceTime, r.ScheduleLag
			lateN, lateF = i64(r.LateSends.Count), f64(r.LateSends.Fraction)
		}
		started := ""
		if !r.StartedAt.IsZero() {
			started = r.StartedAt.UTC().Format(time.RFC3339)
		}
		rate, conc := "", ""
		if r.Model.Rate > 0 {
			rate = f64(r.Model.Rate)
		}
		if r.Model.Concurrency > 0 {
			conc = strconv.Itoa(r.Model.Concurrency)
		}
		hit := ""
		if r.Cache != nil {
			hit = f64(r.Cache.HitRatio)
		}
		sent, recv := "", ""
		if r.Messages != nil {
			sent, recv = i64(r.Messages.Sent), i64(r.Messages.Received)
		}
		store := ""
		if c, ok := metrics.DecodeServerStats(r.Server).StoreCallsPerRequest(); ok {
			store = f64(c)
		}
		rep := ""
		if r.Repetition > 0 {
			rep = strconv.Itoa(r.Repetition)
		}
		row := []string{
			r.Name, Workload(r), r.Protocol, r.Target, r.Model.Kind, rate, conc, started, f64(r.DurationS), r.StopReason,
			i64(r.Requests.Total), i64(r.Requests.OK), i64(r.Requests.Errors), errRate, f64(r.ThroughputRPS),
			dist(lat, func(s metrics.Summary) string { return i64(s.Min) }), dist(lat, func(s metrics.Summary) string { return f64(math.Round(s.Mean*1000) / 1000) }),
			dist(lat, p50), dist(lat, func(s metrics.Summary) string { return i64(s.P90) }), dist(lat, p99),
			dist(lat, func(s metrics.Summary) string { return i64(s.P999) }), dist(lat, func(s metrics.Summary) string { return i64(s.Max) }),
			dist(svc, p50), dist(svc, p99), dist(lag, p99), lateN, lateF,
			i64(r.Connections.Opened), i64(r.Connections.Reused), i64(r.Connections.PeakOpen), hit,
			sent, recv, dist(r.MessageLatency, p50), dist(r.MessageLatency, p99),
			store, strconv.FormatBool(generatorWarning(r) != ""),
			r.Variant, rep,
		}
		if len(row) != len(CSVHeader) {
			return fmt.Errorf("report: csv row has %d cells for %d columns", len(row), len(CSVHeader))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
