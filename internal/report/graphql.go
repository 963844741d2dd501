package report

import (
	"fmt"
	"sort"

	"github.com/loadrig/loadrig/internal/metrics"
)

// graphqlTables are the per-operation breakdown, GraphQL error codes, APQ
// counts and subscription delivery of a result, when it has them.
func graphqlTables(r *metrics.Result) []table {
	var out []table
	if len(r.Operations) > 0 {
		names := make([]string, 0, len(r.Operations))
		for n := range r.Operations {
			names = append(names, n)
		}
		sort.Strings(names)
		t := table{title: "operations", header: []string{"operation", "requests", "errors", "p50", "p90", "p99", "max"}}
		for _, n := range names {
			o := r.Operations[n]
			lat := func(v int64) string {
				if o.Latency.N == 0 {
					return "-" // no success: no latency
				}
				return us(v)
			}
			t.rows = append(t.rows, []string{n, count(o.Requests.Total), count(o.Requests.Errors),
				lat(o.Latency.P50), lat(o.Latency.P90), lat(o.Latency.P99), lat(o.Latency.Max)})
		}
		out = append(out, t)
	}
	if g := r.GraphQL; g != nil {
		t := table{title: "graphql"}
		if len(g.ErrorsByCode) > 0 {
			t.rows = append(t.rows, []string{"errors by code", kindList(g.ErrorsByCode)})
		}
		if a := g.APQ; a != nil {
			saved := fmt.Sprintf("%s of request bytes saved", byteSize(a.BytesSaved))
			if a.BytesSaved < 0 {
				saved = fmt.Sprintf("%s more request bytes than without APQ (the hash is longer than the query)", byteSize(-a.BytesSaved))
			}
			t.rows = append(t.rows, []string{"apq", fmt.Sprintf("%d hits, %d misses, %s", a.Hits, a.Misses, saved)})
		}
		if len(t.rows) > 0 {
			out = append(out, t)
		}
	}
	if s := r.Subscriptions; s != nil {
		t := table{title: "subscriptions"}
		t.rows = append(t.rows, []string{"subscribers", count(s.Subscribers)})
		if s.Published > 0 || s.PublishErrors > 0 {
			pub := fmt.Sprintf("%d ok, %d failed", s.Published, s.PublishErrors)
			if s.PublishLate > 0 {
				pub += fmt.Sprintf(", %d sent late (16 in flight)", s.PublishLate)
			}
			t.rows = append(t.rows, []string{"published", pub})
			if len(s.PublishErrorsByKind) > 0 {
				t.rows = append(t.rows, []string{"publish errors", kindList(s.PublishErrorsByKind)})
			}
		}
		if s.Expected > 0 {
			t.rows = append(t.rows, []string{"delivery", fmt.Sprintf("%d of %d expected events (%s), %d dropped", s.Received, s.Expected, pct(s.DeliveryRatio), s.Drops)})
		} else {
			t.rows = append(t.rows, []string{"events", count(s.Received)})
		}
		if len(s.CloseCodes) > 0 {
			t.rows = append(t.rows, []string{"server close codes", kindList(s.CloseCodes)})
		}
		out = append(out, t)
	}
	return out
}

// kindList is "A 3, B 1", most frequent first.
func kindList(m map[string]int64) string {
	s := ""
	for i, k := range sortedKinds(m) {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, m[k])
	}
	return s
}
