package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
)

// row is one variant's line of the comparison table.
type row struct {
	name        string
	rps         float64
	p50, p99    int64 // µs
	clientHit   float64
	clientKnown bool
	serverHit   float64
	serverKnown bool
	storePerReq float64
	storeKnown  bool
	connsClient int64
	connsServer int64
	serverConns bool
	errors      int64
	total       int64
	backlog     float64
	late        float64
	interrupted bool
	durationS   float64
	bytesPerReq float64 // response bytes received per request; 0: unknown
}

func newRow(v profile.VariantPlan, res *metrics.Result) row {
	r := row{
		name: v.Name, rps: res.ThroughputRPS, p50: res.Latency.P50, p99: res.Latency.P99,
		connsClient: res.Connections.Opened, errors: res.Requests.Errors, total: res.Requests.Total,
		late: res.LateSends.Fraction, interrupted: res.StopReason == metrics.StopInterrupted, durationS: res.DurationS,
	}
	if res.Bytes != nil && res.Requests.Total > 0 {
		r.bytesPerReq = float64(res.Bytes.Received) / float64(res.Requests.Total)
	}
	if c := res.Cache; c != nil && c.Hits+c.Misses+c.Revalidated+c.Other > 0 {
		r.clientHit, r.clientKnown = c.HitRatio, true
	}
	s := metrics.DecodeServerStats(res.Server)
	r.serverHit, r.serverKnown = s.ServerHitRatio()
	r.storePerReq, r.storeKnown = s.StoreCallsPerRequest()
	if s.ConnsTotal != nil {
		r.connsServer, r.serverConns = int64(*s.ConnsTotal), true
	}
	if s.Backlog != nil {
		r.backlog = *s.Backlog
	}
	return r
}

func (r row) brief() string {
	return fmt.Sprintf("%.0f req/s, p50 %s, p99 %s, hit %s (server %s), store calls/req %s, errors %d",
		r.rps, us(r.p50), us(r.p99), pct(r.clientHit, r.clientKnown), pct(r.serverHit, r.serverKnown),
		ratio(r.storePerReq, r.storeKnown), r.errors)
}

func us(v int64) string {
	d := time.Duration(v) * time.Microsecond
	switch {
	case v == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", v)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fms", float64(v)/1000)
	}
	return d.Round(time.Millisecond).String()
}

func pct(v float64, known bool) string {
	if !known {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func ratio(v float64, known bool) string {
	if !known {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// writeTable prints the comparison.
func writeTable(w io.Writer, rows []row, redisMode string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\treq/s\tp50\tp99\thit% client\thit% server\tstore calls/req\tB/resp\tconns client/server\terrors\t")
	for _, r := range rows {
		name := r.name
		if r.interrupted {
			name += "*"
		}
		server := "-"
		if r.serverConns {
			server = fmt.Sprint(r.connsServer)
		}
		errs := fmt.Sprint(r.errors)
		if r.total > 0 && r.errors > 0 {
			errs = fmt.Sprintf("%d (%.1f%%)", r.errors, 100*float64(r.errors)/float64(r.total))
		}
		bytes := "-"
		if r.bytesPerReq > 0 {
			bytes = fmt.Sprintf("%.0f", r.bytesPerReq)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%s\t%s\t\n", name, r.rps, us(r.p50), us(r.p99),
			pct(r.clientHit, r.clientKnown), pct(r.serverHit, r.serverKnown), ratio(r.storePerReq, r.storeKnown),
			bytes, r.connsClient, server, errs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	notes = append(notes,
		"latency is measured from each request's intended start (open model)",
		"hit% client: X-Cache as the load generator saw it over all requests, writes included (a 304 counts as revalidated); hit% server: the cache's own hits/(hits+misses)",
		"store calls/req: the store's calls over every request the server answered (warm-up and login included); B/resp: response bytes on the wire per request (a 304 has no body)")
	if redisMode != "" {
		notes = append(notes, "Redis for the Redis variants: "+redisMode)
	}
	var late []string
	for _, r := range rows {
		if r.late > metrics.LateSaturation {
			late = append(late, fmt.Sprintf("%s %.1f%%", r.name, 100*r.late))
		}
	}
	if len(late) > 0 {
		notes = append(notes, "more than 1% of sends were over 1ms late (the generator or its in-flight cap could not keep the schedule; latency includes that wait): "+strings.Join(late, ", "))
	}
	for _, r := range rows {
		if r.interrupted {
			notes = append(notes, fmt.Sprintf("%s* was interrupted after %.1fs of measurement: its row is partial", r.name, r.durationS))
		}
		if r.backlog > 0 {
			notes = append(notes, fmt.Sprintf("%s: %.0f writes were still queued for the store when /stats was read (drained at shutdown)", r.name, r.backlog))
		}
	}
	_, err := fmt.Fprintln(w, "\n"+strings.Join(prefixEach(notes, "note: "), "\n"))
	return err
}

func prefixEach(ss []string, p string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
