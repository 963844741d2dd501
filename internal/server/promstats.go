package server

import (
	"math"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// StatsCollector exposes a /stats snapshot to Prometheus: every numeric leaf
// of the map returned by stats becomes a gauge named
// namespace_<path_joined_by_underscores> (e.g. loadrig_cache_hits). Keeping
// /stats the single source of truth means /metrics and /stats can never
// disagree. Non-numeric leaves are skipped; label-like keys (such as route
// patterns under "requests") are folded into a "key" label.
func StatsCollector(namespace string, stats func() map[string]any) prometheus.Collector {
	return &statsCollector{ns: namespace, stats: stats}
}

type statsCollector struct {
	ns    string
	stats func() map[string]any
}

// Describe sends nothing: the metric set follows the stats map, so the
// collector is "unchecked" in client_golang terms.
func (c *statsCollector) Describe(chan<- *prometheus.Desc) {}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.walk(ch, c.ns, c.stats())
}

func (c *statsCollector) walk(ch chan<- prometheus.Metric, prefix string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := prefix + "_" + sanitize(k)
		switch v := m[k].(type) {
		case map[string]any:
			if labelish(v) {
				c.labelled(ch, name, v)
				continue
			}
			c.walk(ch, name, v)
		case map[string]int64:
			mm := make(map[string]any, len(v))
			for kk, vv := range v {
				mm[kk] = vv
			}
			c.walk(ch, prefix, map[string]any{k: mm})
		default:
			if f, ok := number(v); ok {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "loadrig /stats "+k, nil, nil), prometheus.GaugeValue, f)
			}
		}
	}
}

// labelled emits one gauge with a "key" label for maps keyed by free text.
func (c *statsCollector) labelled(ch chan<- prometheus.Metric, name string, m map[string]any) {
	d := prometheus.NewDesc(name, "loadrig /stats "+name, []string{"key"}, nil)
	for k, v := range m {
		if f, ok := number(v); ok {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, f, k)
		}
	}
}

func labelish(m map[string]any) bool {
	for k := range m {
		if sanitize(k) != k {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x)
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
