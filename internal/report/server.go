package report

import (
	"sort"
	"strconv"
	"strings"

	"github.com/loadrig/loadrig/internal/metrics"
)

// serverTitle heads the server block: the section is the target's /stats
// read once after the run, so its counters run from the server's start
// (warm-up and other clients included), not from the measured phase.
const serverTitle = "server (its /stats after the run: counts since it started)"

// serverTable renders the result's server section as a short block: the
// figures of a loadrig server's /stats worth reading beside the client's
// view (cache hits, misses and hit ratio, store calls, connections,
// write-behind backlog, Redis mode, uptime), each only when its keys exist.
// A section with none of them (another server's stats) shows its top-level
// scalar values instead; ok is false when there is nothing to show.
func serverTable(m map[string]any) (t table, ok bool) {
	t.title = serverTitle
	add := func(k, v string) { t.rows = append(t.rows, []string{k, v}) }
	s := metrics.DecodeServerStats(m)
	var parts []string
	if s.CacheHits != nil {
		parts = append(parts, integer(*s.CacheHits)+" hits")
	}
	if s.CacheMisses != nil {
		parts = append(parts, integer(*s.CacheMisses)+" misses")
	}
	if s.CacheHitRatio != nil {
		parts = append(parts, "hit ratio "+pct(*s.CacheHitRatio))
	} else if r, ok := s.ServerHitRatio(); ok {
		parts = append(parts, "hit ratio "+pct(r))
	}
	if len(parts) > 0 {
		var kind []string
		for _, k := range []string{s.CacheBackend, s.CacheStrategy} {
			if k != "" {
				kind = append(kind, k)
			}
		}
		line := strings.Join(parts, ", ")
		if len(kind) > 0 {
			line += " (" + strings.Join(kind, ", ") + ")"
		}
		add("cache", line)
	}
	if s.StoreCalls != nil {
		add("store calls", integer(*s.StoreCalls))
	}
	parts = nil
	if s.ConnsActive != nil {
		parts = append(parts, integer(*s.ConnsActive)+" active")
	}
	if s.ConnsTotal != nil {
		parts = append(parts, integer(*s.ConnsTotal)+" total")
	}
	if len(parts) > 0 {
		add("connections", strings.Join(parts, ", "))
	}
	if s.WriteBehind && s.Backlog != nil {
		line := "backlog " + integer(*s.Backlog)
		if s.WriteBehindLag != nil {
			line += ", lag " + num(*s.WriteBehindLag) + "ms"
		}
		add("write-behind", line)
	}
	if s.Loadrig && s.RedisMode != "" && len(t.rows) > 0 {
		add("redis", s.RedisMode)
	}
	if s.UptimeS != nil && len(t.rows) > 0 {
		add("uptime", seconds(*s.UptimeS))
	}
	if len(t.rows) == 0 {
		t.title = "server"
		keys := make([]string, 0, len(m))
		for k, v := range m {
			switch v.(type) {
			case string, float64, bool, int, int64:
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, scalar(m[k]))
		}
	}
	return t, len(t.rows) > 0
}

// integer formats a JSON number that counts something: 2658, not 2658.0
// or 2.658e+03; a fractional value keeps its digits.
func integer(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return num(f)
}
