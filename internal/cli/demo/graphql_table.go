package demo

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/loadrig/loadrig/internal/metrics"
)

// writeGraphQLTable prints the section's two comparisons and their notes.
func writeGraphQLTable(w io.Writer, p gqlPlan, screens, n1 []gqlCell) error {
	var notes []string
	if len(screens) > 0 {
		fmt.Fprintf(w, "GraphQL: one product page (the product, its first %d reviews, each review's author) as REST calls vs one GraphQL query;\n", screenReviews)
		fmt.Fprintf(w, "open model at %g screens/s for %v each, store %v per call with %d connections, cache none (every read is a store call)\n\n",
			p.screenRate, p.screenDur, p.storeLatency, p.storePool)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "way\tscreens/s\tp50\tp99\trequests/screen\tB sent/screen\tB recv/screen\tgz B recv/screen\tstore calls/screen\tCPU µs/screen\tconns\terrors\t")
		for i := range screens {
			c := &screens[i]
			if !c.ok() {
				fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\t\t\t\t\t\n", c.label, c.brief())
				continue
			}
			sent, recv := perOpBytes(c)
			gz := "-"
			if c.rawBodies > 0 && recv > 0 {
				gz = fmt.Sprintf("%.0f", recv-c.rawBodies+c.gzBodies)
			}
			cpu := "-"
			if c.cpu >= 0 {
				cpu = fmt.Sprintf("%.0f", float64(c.cpu.Microseconds())/float64(c.ops))
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%.2f\t%.0f\t%.0f\t%s\t%.2f\t%s\t%d\t%s\t\n", c.label, c.res.ThroughputRPS,
				us(c.res.Latency.P50), us(c.res.Latency.P99), c.requests, sent, recv, gz, c.calls, cpu, c.res.Connections.Opened, errCount(c.res))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		notes = append(notes,
			fmt.Sprintf("REST: GET /api/products/{id} and GET /api/products/{id}/reviews?limit=%d at once, then GET /api/users/{id} for each distinct author, at most %d in flight; GraphQL: one POST /graphql selecting only the fields the page shows (DataLoader on)", screenReviews, browserConns),
			fmt.Sprintf("one screen is one operation: p50/p99 are the whole page; each engine worker is one browser, a Go net/http client with at most %d keep-alive HTTP/1.1 connections to the host (both ways use the same client)", browserConns),
			"B sent/recv: bytes on the client's sockets per screen, headers included (every request carries the bearer token, like a browser's cookie); conns: connections opened",
			"gz B recv: the servers do not compress responses (no Accept-Encoding support), so this is B recv with each response body of the first sample screens replaced by its gzipped size (compress/gzip, default level): what gzip would save, compression CPU not counted",
			"store calls/screen: the store's calls during the measured run ÷ screens (REST: 1 product + 1 reviews + 1 per distinct author; GraphQL: one per level with DataLoader)",
			"CPU µs/screen: user+system CPU of the whole loadrig process during the run ÷ screens (getrusage): the browser-like client and both servers together, which share the process; one short run on a shared machine")
	}
	if len(n1) > 0 {
		if len(screens) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "GraphQL N+1: %s, DataLoader off vs on;\nstore %v per call with %d connections, cache none; %g queries/s for %v (open model), then saturation: %d workers for %v (closed model)\n\n",
			gqlNPlusOneQuery, p.storeLatency, p.storePool, p.n1Rate, p.n1Dur, p.satWorkers, p.satDur)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		group := make([]string, 11)
		group[6], group[9] = fmt.Sprintf("at %g/s", p.n1Rate), fmt.Sprintf("saturation, %d workers", p.satWorkers)
		fmt.Fprintln(tw, strings.Join(group, "\t")+"\t")
		fmt.Fprintln(tw, "dataloader\tstore calls/req\tpool wait/call\tΣ pool wait/req\tp50\tp99\terrors\treq/s\tp50\tp99\t")
		rows := pairNPlusOne(n1)
		for _, r := range rows {
			fields := []string{r.label}
			fields = append(fields, n1Fixed(r.fixed)...)
			fields = append(fields, n1Sat(r.sat)...)
			fmt.Fprintln(tw, strings.Join(fields, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		notes = append(notes,
			fmt.Sprintf("store calls/req: the store's calls ÷ queries; without DataLoader 1 list + 1 per product + 1 per review (1 + %d + %d = %d, the demo tops the first %d products up to %d reviews each); with it one batch per level (3) when each level's keys arrive within the loader's wait",
				nPlusOneProducts, nPlusOneProducts*nPlusOneReviews, 1+nPlusOneProducts+nPlusOneProducts*nPlusOneReviews, nPlusOneProducts, nPlusOneReviews),
			"pool wait/call: the mean time a store call waited for one of the store's connections; Σ pool wait/req: those waits summed over a query's calls (they overlap, so the sum can exceed the query's latency)",
			"saturation req/s: queries completed ÷ the run's wall time to the last completion (closed model; the queries in flight at the end are waited for, not cut off)")
		var off, on *gqlCell
		for i := range n1 {
			switch n1[i].name {
			case "graphql-nplus1-off":
				off = &n1[i]
			case "graphql-nplus1-on":
				on = &n1[i]
			}
		}
		if off.ok() && on.ok() && off.res.Latency.P99 > 0 {
			notes = append(notes, fmt.Sprintf("at %g/s, p99 with DataLoader is %.2f× p99 without (%s vs %s), p50 %.2f×",
				p.n1Rate, float64(on.res.Latency.P99)/float64(off.res.Latency.P99), us(on.res.Latency.P99), us(off.res.Latency.P99),
				float64(on.res.Latency.P50)/float64(off.res.Latency.P50)))
		}
		for i := range n1 {
			if c := &n1[i]; c.ok() && c.res.LateSends.Fraction > metrics.LateSaturation && c.res.Model.Kind != "closed" {
				notes = append(notes, fmt.Sprintf("%s: %.1f%% of sends were over 1ms late (the generator or its in-flight cap could not keep the schedule; latency includes that wait)", c.name, 100*c.res.LateSends.Fraction))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\n"+strings.Join(prefixEach(notes, "note: "), "\n"))
	}
	if len(n1) > 0 {
		fmt.Fprintln(w, "\n"+unboundedWarning(n1))
	}
	return nil
}

// unboundedWarning says that a store without a connection limit hides the
// N+1, with the figures measured when the run was there.
func unboundedWarning(n1 []gqlCell) string {
	msg := "WARNING: a store without a connection pool hides the N+1: every one of the query's calls runs at once, so latency stays near one call per level while the database does the work of all of them; only a bounded pool (as in production) shows the queueing"
	var off, ub *gqlCell
	for i := range n1 {
		switch n1[i].name {
		case "graphql-nplus1-off":
			off = &n1[i]
		case "graphql-nplus1-off-unbounded":
			ub = &n1[i]
		}
	}
	if ub.ok() {
		msg += fmt.Sprintf(". Measured, DataLoader off: %.0f store calls per query either way; p50 %s and p99 %s with no pool", ub.calls, us(ub.res.Latency.P50), us(ub.res.Latency.P99))
		if off.ok() {
			msg += fmt.Sprintf(" vs %s and %s with the pool", us(off.res.Latency.P50), us(off.res.Latency.P99))
		}
	}
	return msg + "."
}

type n1Row struct {
	label      string
	fixed, sat *gqlCell
}

// pairNPlusOne puts each fixed-rate run beside its saturation run (same
// label), in run order.
func pairNPlusOne(cells []gqlCell) []n1Row {
	var rows []n1Row
	idx := map[string]int{}
	for i := range cells {
		c := &cells[i]
		j, ok := idx[c.label]
		if !ok {
			j = len(rows)
			idx[c.label] = j
			rows = append(rows, n1Row{label: c.label})
		}
		if c.res != nil && c.res.Model.Kind == "closed" || strings.HasSuffix(c.name, "-saturation") {
			rows[j].sat = c
		} else {
			rows[j].fixed = c
		}
	}
	return rows
}

func n1Fixed(c *gqlCell) []string {
	if !c.ok() {
		out := []string{"-", "-", "-", "-", "-", "-"}
		if c != nil && c.err != nil {
			out[0] = "failed"
		}
		return out
	}
	return []string{fmt.Sprintf("%.1f", c.calls), fmt.Sprintf("%.2fms", c.callWaitMS), waitSum(c.waitMS), us(c.res.Latency.P50), us(c.res.Latency.P99), errCount(c.res)}
}

func n1Sat(c *gqlCell) []string {
	if !c.ok() {
		out := []string{"-", "-", "-"}
		if c != nil && c.err != nil {
			out[0] = "failed"
		}
		return out
	}
	return []string{fmt.Sprintf("%.1f", c.satRPS()), us(c.res.Latency.P50), us(c.res.Latency.P99)}
}

func waitSum(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.2fms", ms)
}

func perOpBytes(c *gqlCell) (sent, recv float64) {
	if c.res == nil || c.res.Bytes == nil || c.ops <= 0 {
		return 0, 0
	}
	return float64(c.res.Bytes.Sent) / float64(c.ops), float64(c.res.Bytes.Received) / float64(c.ops)
}

func errCount(res *metrics.Result) string {
	if res.Requests.Errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%d %v", res.Requests.Errors, res.Requests.ErrorsByKind)
}
