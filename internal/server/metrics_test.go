package server

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestRouteCollector: the route counters reach /metrics as the histogram
// and counter client_golang's own types exported before: cumulative "le"
// buckets in seconds, a count and a sum, one series per route and code.
func TestRouteCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Register("GET /a")
	m.Register("GET /b")
	a := m.registered("GET /a")
	a.observe(50*time.Microsecond, 200)  // le 0.0001
	a.observe(100*time.Microsecond, 200) // le 0.0001 (the bound is inclusive)
	a.observe(101*time.Microsecond, 404) // le 0.00025
	a.observe(3*time.Second, 503)        // +Inf only
	a.observe(time.Millisecond, 799)     // a code past 599
	m.unmatched.observe(time.Millisecond, 404)

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	hist := map[string]*dto.Histogram{}
	for _, mt := range byName["loadrig_http_request_duration_seconds"].GetMetric() {
		hist[label(mt, "route")] = mt.GetHistogram()
	}
	for _, r := range []string{"GET /a", "GET /b", RouteUnmatched, RouteRateLimited} {
		if hist[r] == nil {
			t.Errorf("no histogram for route %q", r)
		}
	}
	h := hist["GET /a"]
	if h.GetSampleCount() != 5 {
		t.Errorf("GET /a count = %d, want 5", h.GetSampleCount())
	}
	wantSum := (50e-6 + 100e-6 + 101e-6 + 3 + 1e-3)
	if math.Abs(h.GetSampleSum()-wantSum) > 1e-9 {
		t.Errorf("GET /a sum = %v, want %v", h.GetSampleSum(), wantSum)
	}
	want := map[float64]uint64{0.0001: 2, 0.00025: 3, 0.0005: 3, 0.001: 4, 2.5: 4}
	seen := 0
	for _, b := range h.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok {
			seen++
			if b.GetCumulativeCount() != w {
				t.Errorf("GET /a bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
			}
		}
	}
	if seen != len(want) || len(h.GetBucket()) != len(durBounds) {
		t.Errorf("GET /a has %d buckets (%d checked), want %d", len(h.GetBucket()), seen, len(durBounds))
	}
	if c := hist["GET /b"].GetSampleCount(); c != 0 {
		t.Errorf("GET /b count = %d, want 0", c)
	}

	got := map[[2]string]float64{}
	for _, mt := range byName["loadrig_http_requests_total"].GetMetric() {
		got[[2]string{label(mt, "route"), label(mt, "code")}] = mt.GetCounter().GetValue()
	}
	wantReq := map[[2]string]float64{
		{"GET /a", "200"}: 2, {"GET /a", "404"}: 1, {"GET /a", "503"}: 1, {"GET /a", "799"}: 1,
		{RouteUnmatched, "404"}: 1,
	}
	if len(got) != len(wantReq) {
		t.Errorf("requests_total series = %v, want %v", got, wantReq)
	}
	for k, v := range wantReq {
		if got[k] != v {
			t.Errorf("requests_total%v = %v, want %v", k, got[k], v)
		}
	}
	if n := a.n.Load(); n != 5 {
		t.Errorf("GET /a n = %d, want 5 (/stats reads it)", n)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
