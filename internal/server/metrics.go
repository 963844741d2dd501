package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the requests of one HTTP listener: per route pattern, per
// status class, rate limited, limiter failures and panics; and exports the
// request histogram and counter to Prometheus. The pieces Count, RateLimit
// and Recover write to it; Stats reads it. Routes are registered up front
// (Register); a request that matched a route brings its counters along
// (Exchange.stat), and only the others are looked up by pattern.
//
// A route's counters (requests, status codes, the duration histogram) sit
// in its routeStat, side by side, and are turned into Prometheus metrics
// only when /metrics is scraped (routeCollector): a request adds to two
// cache lines of one struct instead of walking client_golang's
// histogram and counter objects (a dozen lines on a cold cache).
type Metrics struct {
	mu     sync.Mutex                            // serializes Register
	routes atomic.Pointer[map[string]*routeStat] // copy on write

	unmatched, limited *routeStat

	rateLimited, limiterErrors, panics atomic.Int64
	byClass                            [6]atomic.Int64 // responses by status class, index status/100

	start time.Time
}

// NewMetrics returns metrics whose Prometheus collector is registered in
// reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{start: time.Now()}
	m.routes.Store(&map[string]*routeStat{})
	m.unmatched = m.newRoute(RouteUnmatched)
	m.limited = m.newRoute(RouteRateLimited)
	if reg != nil {
		reg.MustRegister(newRouteCollector(m))
	}
	return m
}

func (m *Metrics) newRoute(pattern string) *routeStat {
	return &routeStat{route: pattern}
}

// Register adds a route pattern, so its requests are counted under it.
// Requests whose pattern was never registered count as "unmatched".
func (m *Metrics) Register(pattern string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.routes.Load()
	if _, ok := old[pattern]; ok {
		return
	}
	next := make(map[string]*routeStat, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[pattern] = m.newRoute(pattern)
	m.routes.Store(&next)
}

// registered returns the counters of a registered pattern, nil for others.
func (m *Metrics) registered(pattern string) *routeStat {
	return (*m.routes.Load())[pattern]
}

func (m *Metrics) stat(route string) *routeStat {
	switch route {
	case RouteRateLimited:
		return m.limited
	case RouteUnmatched:
		return m.unmatched
	}
	if rs := (*m.routes.Load())[route]; rs != nil {
		return rs
	}
	return m.unmatched
}

// record counts a finished request.
func (m *Metrics) record(e *Exchange) {
	code := e.Status()
	if code == 0 {
		code = 200
	}
	if c := code / 100; c >= 1 && c <= 5 {
		m.byClass[c].Add(1)
	}
	rs := e.stat
	if rs == nil || e.route != "" {
		rs = m.stat(e.Route())
	}
	e.dur = e.elapsed()
	rs.observe(e.dur, code)
}

// Stats adds the listener's sections to out: "requests" (per route, only
// routes with requests), "responses" (total, by status class, rate
// limited, limiter errors, panics) and "uptime_s".
func (m *Metrics) Stats(out map[string]any) {
	reqs := map[string]any{}
	var total int64
	for p, rs := range *m.routes.Load() {
		if n := rs.n.Load(); n > 0 {
			reqs[p] = n
			total += n
		}
	}
	for _, rs := range []*routeStat{m.unmatched, m.limited} {
		if n := rs.n.Load(); n > 0 {
			reqs[rs.route] = n
			total += n
		}
	}
	out["requests"] = reqs
	resp := map[string]any{
		"requests":       total,
		"rate_limited":   m.rateLimited.Load(),
		"limiter_errors": m.limiterErrors.Load(),
		"panics":         m.panics.Load(),
	}
	for c := 1; c <= 5; c++ {
		resp[strconv.Itoa(c)+"xx"] = m.byClass[c].Load()
	}
	out["responses"] = resp
	out["uptime_s"] = time.Since(m.start).Seconds()
}

// Panics is the number of handler panics recovered.
func (m *Metrics) Panics() int64 { return m.panics.Load() }

type routeStat struct {
	n   atomic.Int64 // requests
	sum atomic.Int64 // their durations, nanoseconds
	// buckets counts the requests per duration bucket (durBounds; the last
	// is +Inf), not cumulated.
	buckets [len(durBounds) + 1]atomic.Uint64
	// codes counts the requests per status code from 100 to 599; other
	// codes (net/http allows up to 999) go to more.
	codes [500]atomic.Uint64
	route string

	moreMu sync.Mutex
	more   map[int]uint64 // guarded by moreMu
}

// durBounds are the upper bounds of the request duration histogram's
// buckets (loadrig_http_request_duration_seconds), in nanoseconds.
var durBounds = [...]int64{100e3, 250e3, 500e3, 1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6, 1e9, 2.5e9}

// observe counts one request that took d and answered code.
func (rs *routeStat) observe(d time.Duration, code int) {
	rs.n.Add(1)
	rs.sum.Add(int64(d))
	b := 0
	for b < len(durBounds) && int64(d) > durBounds[b] {
		b++
	}
	rs.buckets[b].Add(1)
	if i := code - 100; i >= 0 && i < len(rs.codes) {
		rs.codes[i].Add(1)
		return
	}
	rs.moreMu.Lock()
	if rs.more == nil {
		rs.more = map[int]uint64{}
	}
	rs.more[code]++
	rs.moreMu.Unlock()
}

// routeCollector exports every route's counters as
// loadrig_http_request_duration_seconds{route} (a histogram; every
// registered route, requests or not) and
// loadrig_http_requests_total{route, code} (codes seen only). A scrape
// during requests may see a histogram's sum a request ahead of or behind
// its count, as a metric scraped a moment later would.
type routeCollector struct {
	m        *Metrics
	dur, req *prometheus.Desc
}

func newRouteCollector(m *Metrics) *routeCollector {
	return &routeCollector{
		m: m,
		dur: prometheus.NewDesc("loadrig_http_request_duration_seconds",
			"Time from request arrival to handler return, by route pattern.", []string{"route"}, nil),
		req: prometheus.NewDesc("loadrig_http_requests_total",
			"Requests by route pattern and status code.", []string{"route", "code"}, nil),
	}
}

func (c *routeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dur
	ch <- c.req
}

func (c *routeCollector) Collect(ch chan<- prometheus.Metric) {
	routes := *c.m.routes.Load()
	all := make([]*routeStat, 0, len(routes)+2)
	for _, rs := range routes {
		all = append(all, rs)
	}
	all = append(all, c.m.unmatched, c.m.limited)
	for _, rs := range all {
		// A new map each: the metric keeps it until the registry has
		// written it out.
		bounds := make(map[float64]uint64, len(durBounds))
		var cum uint64
		for i, ub := range durBounds {
			cum += rs.buckets[i].Load()
			bounds[float64(ub)/1e9] = cum
		}
		count := cum + rs.buckets[len(durBounds)].Load()
		ch <- prometheus.MustNewConstHistogram(c.dur, count, float64(rs.sum.Load())/1e9, bounds, rs.route)
		for i := range rs.codes {
			if v := rs.codes[i].Load(); v > 0 {
				ch <- prometheus.MustNewConstMetric(c.req, prometheus.CounterValue, float64(v), rs.route, strconv.Itoa(i+100))
			}
		}
		rs.moreMu.Lock()
		for code, v := range rs.more {
			ch <- prometheus.MustNewConstMetric(c.req, prometheus.CounterValue, float64(v), rs.route, strconv.Itoa(code))
		}
		rs.moreMu.Unlock()
	}
}
