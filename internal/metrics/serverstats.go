package metrics

// ServerStats is what loadrig reads from a result's "server" section, the
// target's /stats scraped after the run: the one place its keys are named.
// A figure the section does not carry is nil, never 0, so a report can tell
// "no data" from "zero". The section itself stays a free-form map in the
// result (servers add keys; another server's stats are kept as they are).
type ServerStats struct {
	// Loadrig is true when the section is a loadrig server's /stats: every
	// one carries a "redis_mode" key.
	Loadrig   bool
	RedisMode string   // "none", "external", "spawned", "embedded"; "" unknown
	UptimeS   *float64 // seconds since the server started

	CacheHits      *float64
	CacheMisses    *float64
	CacheHitRatio  *float64 // as the server computed it, when it did
	CacheBackend   string
	CacheStrategy  string
	StoreCalls     *float64 // calls the store answered
	Requests       *float64 // responses.requests: every request the server answered
	ConnsActive    *float64
	ConnsTotal     *float64
	WriteBehind    bool     // write_behind.enabled
	Backlog        *float64 // write_behind.backlog
	WriteBehindLag *float64 // write_behind.lag_ms
}

// DecodeServerStats reads the figures loadrig uses from a /stats document
// (JSON numbers decoded as float64). A nil or foreign map gives a zero
// ServerStats.
func DecodeServerStats(m map[string]any) ServerStats {
	var s ServerStats
	if m == nil {
		return s
	}
	_, s.Loadrig = m["redis_mode"]
	s.RedisMode, _ = m["redis_mode"].(string)
	s.UptimeS = numAt(m, "uptime_s")
	s.CacheHits = numAt(m, "cache", "hits")
	s.CacheMisses = numAt(m, "cache", "misses")
	s.CacheHitRatio = numAt(m, "cache", "hit_ratio")
	s.CacheBackend, _ = valAt(m, "cache", "backend").(string)
	s.CacheStrategy, _ = valAt(m, "cache", "strategy").(string)
	s.StoreCalls = numAt(m, "store", "calls")
	s.Requests = numAt(m, "responses", "requests")
	s.ConnsActive = numAt(m, "connections", "active")
	s.ConnsTotal = numAt(m, "connections", "total")
	s.WriteBehind = valAt(m, "write_behind", "enabled") == true
	s.Backlog = numAt(m, "write_behind", "backlog")
	s.WriteBehindLag = numAt(m, "write_behind", "lag_ms")
	return s
}

// IsLoadrigStats reports whether a /stats document is a loadrig server's.
func IsLoadrigStats(m map[string]any) bool {
	_, ok := m["redis_mode"]
	return ok
}

// ServerHitRatio is the cache's own hits / (hits + misses); ok is false
// without both counts or with none counted.
func (s ServerStats) ServerHitRatio() (ratio float64, ok bool) {
	if s.CacheHits == nil || s.CacheMisses == nil || *s.CacheHits+*s.CacheMisses <= 0 {
		return 0, false
	}
	return *s.CacheHits / (*s.CacheHits + *s.CacheMisses), true
}

// StoreCallsPerRequest is the store's calls over every request the server
// answered (warm-up and other clients included: /stats counts from the
// server's start); ok is false without both counts.
func (s ServerStats) StoreCallsPerRequest() (perReq float64, ok bool) {
	if s.StoreCalls == nil || s.Requests == nil || *s.Requests <= 0 {
		return 0, false
	}
	return *s.StoreCalls / *s.Requests, true
}

func valAt(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func numAt(m map[string]any, path ...string) *float64 {
	switch f := valAt(m, path...).(type) {
	case float64:
		return &f
	case int:
		g := float64(f)
		return &g
	case int64:
		g := float64(f)
		return &g
	case uint64:
		g := float64(f)
		return &g
	case int32:
		g := float64(f)
		return &g
	}
	return nil
}
