package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the requests of one HTTP listener: per route pattern, per
// status class, rate limited, limiter failures and panics; and feeds the
// Prometheus request histogram and counter. The pieces Count, RateLimit and
// Recover write to it; Stats reads it. Routes are registered up front
// (Register), so the hot path is one atomic load and one map lookup.
type Metrics struct {
	mu     sync.Mutex                            // serializes Register
	routes atomic.Pointer[map[string]*routeStat] // copy on write

	unmatched, limited *routeStat

	rateLimited, limiterErrors, panics atomic.Int64
	byClass                            [6]atomic.Int64 // responses by status class, index status/100

	reqDur *prometheus.HistogramVec
	reqs   *prometheus.CounterVec
	start  time.Time
}

// NewMetrics returns metrics whose Prometheus collectors are registered in
// reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{start: time.Now()}
	m.reqDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loadrig_http_request_duration_seconds",
		Help:    "Time from request arrival to handler return, by route pattern.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadrig_http_requests_total",
		Help: "Requests by route pattern and status code.",
	}, []string{"route", "code"})
	if reg != nil {
		reg.MustRegister(m.reqDur, m.reqs)
	}
	m.routes.Store(&map[string]*routeStat{})
	m.unmatched = m.newRoute(RouteUnmatched)
	m.limited = m.newRoute(RouteRateLimited)
	return m
}

func (m *Metrics) newRoute(pattern string) *routeStat {
	return &routeStat{dur: m.reqDur.WithLabelValues(pattern), route: pattern}
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
	rs.n.Add(1)
	e.dur = e.elapsed()
	rs.dur.Observe(e.dur.Seconds())
	rs.count(m.reqs, code)
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
	n     atomic.Int64
	dur   prometheus.Observer
	codes [600]atomic.Pointer[prometheus.Counter] // resolved lazily per status code
	route string
}

// count increments loadrig_http_requests_total{route, code} without a
// label lookup after the first request with that code.
func (rs *routeStat) count(vec *prometheus.CounterVec, code int) {
	if code < 100 || code >= 600 {
		vec.WithLabelValues(rs.route, strconv.Itoa(code)).Inc()
		return
	}
	c := rs.codes[code].Load()
	if c == nil {
		cc := vec.WithLabelValues(rs.route, strconv.Itoa(code))
		c = &cc
		rs.codes[code].Store(c)
	}
	(*c).Inc()
}
