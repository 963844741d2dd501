package report

import (
	"sort"
	"strconv"
	"strings"
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
	if c, _ := m["cache"].(map[string]any); c != nil {
		var parts []string
		hits, hok := c["hits"].(float64)
		misses, mok := c["misses"].(float64)
		if hok {
			parts = append(parts, integer(hits)+" hits")
		}
		if mok {
			parts = append(parts, integer(misses)+" misses")
		}
		if r, rok := c["hit_ratio"].(float64); rok {
			parts = append(parts, "hit ratio "+pct(r))
		} else if hok && mok && hits+misses > 0 {
			parts = append(parts, "hit ratio "+pct(hits/(hits+misses)))
		}
		if len(parts) > 0 {
			var kind []string
			for _, k := range []string{"backend", "strategy"} {
				if s, _ := c[k].(string); s != "" {
					kind = append(kind, s)
				}
			}
			line := strings.Join(parts, ", ")
			if len(kind) > 0 {
				line += " (" + strings.Join(kind, ", ") + ")"
			}
			add("cache", line)
		}
	}
	if s, _ := m["store"].(map[string]any); s != nil {
		if n, ok := s["calls"].(float64); ok {
			add("store calls", integer(n))
		}
	}
	if c, _ := m["connections"].(map[string]any); c != nil {
		var parts []string
		if n, ok := c["active"].(float64); ok {
			parts = append(parts, integer(n)+" active")
		}
		if n, ok := c["total"].(float64); ok {
			parts = append(parts, integer(n)+" total")
		}
		if len(parts) > 0 {
			add("connections", strings.Join(parts, ", "))
		}
	}
	if wb, _ := m["write_behind"].(map[string]any); wb != nil && wb["enabled"] == true {
		if n, ok := wb["backlog"].(float64); ok {
			line := "backlog " + integer(n)
			if lag, ok := wb["lag_ms"].(float64); ok {
				line += ", lag " + num(lag) + "ms"
			}
			add("write-behind", line)
		}
	}
	if s, ok := m["redis_mode"].(string); ok && len(t.rows) > 0 {
		add("redis", s)
	}
	if u, ok := m["uptime_s"].(float64); ok && len(t.rows) > 0 {
		add("uptime", seconds(u))
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
