package httpdrv_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/metrics"
)

// These end-to-end tests check the instrument against targets of known
// behaviour (MEASUREMENT.md "Checking the instrument"): the real engine,
// the real HTTP driver and a real HTTP server on 127.0.0.1. They run in
// wall-clock time, so their tolerances are wide enough for a loaded 2-core
// CI machine and still far from what a wrong implementation gives.

func run(t *testing.T, o httpdrv.Options, cfg load.Config) (*metrics.Result, *httpdrv.Driver) {
	t.Helper()
	d, err := httpdrv.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := load.Run(t.Context(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests.Errors != 0 {
		t.Fatalf("errors: %+v", res.Requests)
	}
	return res, d
}

// fractionAbove is the fraction of recorded values above x.
func fractionAbove(t *testing.T, res *metrics.Result, hist string, x time.Duration) float64 {
	t.Helper()
	h, err := metrics.DecodeHistogram(res.Histograms[hist])
	if err != nil {
		t.Fatal(err)
	}
	var above int64
	for _, b := range h.Distribution() {
		if b.From > x.Microseconds() {
			above += b.Count
		}
	}
	return float64(above) / float64(h.TotalCount())
}

func ms(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func TestE2EFixedDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("wall-clock end-to-end test")
	}
	const delay = 20 * time.Millisecond
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		io.WriteString(w, "done")
	}))
	defer s.Close()
	for _, force := range []bool{false, true} {
		res, d := run(t, httpdrv.Options{URL: s.URL, ForceNetHTTP: force}, load.Config{Rate: 100, Duration: 1500 * time.Millisecond})
		t.Logf("%s: latency %+v service %+v connections %+v", d.Path(), res.Latency, res.ServiceTime, res.Connections)
		if res.Requests.OK < 140 {
			t.Errorf("%s: only %d requests at 100/s for 1.5 s", d.Path(), res.Requests.OK)
		}
		for name, s := range map[string]metrics.Summary{"latency": res.Latency, "service time": res.ServiceTime} {
			if p := ms(s.P50); p < delay || p > delay+15*time.Millisecond {
				t.Errorf("%s: %s p50 %v, want %v..%v", d.Path(), name, p, delay, delay+15*time.Millisecond)
			}
			if m := ms(s.Min); m < delay {
				t.Errorf("%s: %s min %v below the server's delay", d.Path(), name, m)
			}
		}
		// 100/s × 20 ms is 2 in flight: a few connections (more when the
		// machine stalls this process), kept alive and reused.
		if c := res.Connections; c.Opened < 1 || c.Opened > res.Requests.Total/3 || c.Opened+c.Reused < res.Requests.Total {
			t.Errorf("%s: connections %+v for %d requests", d.Path(), c, res.Requests.Total)
		}
		if _, ok := res.Phases["ttfb"]; !ok {
			t.Errorf("%s: no ttfb phase in %v", d.Path(), res.Phases)
		}
	}
}

// stallServer answers at once, except that a request arriving during a
// stall window (the first S of every T since t0) is held until the window
// ends — a GC pause or a lock convoy at the target.
func stallServer(t *testing.T, S, T time.Duration) string {
	t0 := time.Now()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if phase := time.Since(t0) % T; phase < S {
			time.Sleep(S - phase)
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestE2EStall: a target that stalls S = 100 ms of every T = 500 ms, loaded
// at a constant 100/s for 3 s. Operations scheduled during a stall are
// delayed until its end, uniformly over 0..S, so the latency (from the
// intended start) of a fraction S/T = 20 % is spread over 0..100 ms: the
// fraction above S/4 is (S − S/4)/T = 15 %, and p99 is ~0.95·S.
//
// What service time shows depends on where the wait happens:
//
//   - Ample connections: every request is sent on schedule and waits AT THE
//     SERVER, so service time shows the stall just like latency (a server
//     that only delays responses cannot hide from service time).
//   - One connection (Connections: 1): during a stall one request holds the
//     connection at the server; the others wait IN THE GENERATOR for the
//     connection and are sent after the stall. Their service time is short:
//     service time hides the stall (coordinated omission, as in a tool that
//     times from the actual send), while latency from the intended start
//     still shows the analytic distribution.
func TestE2EStall(t *testing.T) {
	if testing.Short() {
		t.Skip("wall-clock end-to-end test")
	}
	const S, T = 100 * time.Millisecond, 500 * time.Millisecond
	url := stallServer(t, S, T)
	cfg := load.Config{Rate: 100, Duration: 3 * time.Second}
	checkLatency := func(t *testing.T, res *metrics.Result) {
		t.Helper()
		if res.Requests.OK < 280 {
			t.Fatalf("only %d requests at 100/s for 3 s", res.Requests.OK)
		}
		// The lower bounds catch coordinated omission (a stall hidden from
		// latency gives ~0.01 and a p99 of a few ms); the upper bounds are
		// loose because a loaded machine that pauses this process adds its
		// own late sends on top of the stall.
		if f := fractionAbove(t, res, metrics.HistLatency, S/4); f < 0.09 || f > 0.28 {
			t.Errorf("latency: %.3f of operations above S/4, want ~0.15", f)
		}
		if p := ms(res.Latency.P99); p < 70*time.Millisecond || p > 250*time.Millisecond {
			t.Errorf("latency p99 %v, want ~95 ms", p)
		}
		if p := ms(res.Latency.P50); p > 15*time.Millisecond {
			t.Errorf("latency p50 %v, want that of an idle server", p)
		}
	}
	t.Run("ample connections: service time shows the stall too", func(t *testing.T) {
		res, _ := run(t, httpdrv.Options{URL: url}, cfg)
		checkLatency(t, res)
		if f := fractionAbove(t, res, metrics.HistServiceTime, S/4); f < 0.09 || f > 0.28 {
			t.Errorf("service time: %.3f above S/4, want ~0.15 (requests wait at the server)", f)
		}
	})
	t.Run("one connection: service time hides the stall, latency does not", func(t *testing.T) {
		res, d := run(t, httpdrv.Options{URL: url, Connections: 1}, cfg)
		checkLatency(t, res)
		// Per stall one request waits at the server: 6 of ~300.
		if f := fractionAbove(t, res, metrics.HistServiceTime, S/4); f > 0.05 {
			t.Errorf("service time: %.3f above S/4, want ~0.01 (the wait is in the generator)", f)
		}
		if p := ms(res.ServiceTime.P90); p > S/4 {
			t.Errorf("service time p90 %v shows the stall", p)
		}
		if c := d.Connections(); c.Opened != 1 || c.PeakOpen != 1 {
			t.Errorf("connections %+v, want exactly one", c)
		}
		t.Logf("latency %+v\nservice %+v\nlag %+v", res.Latency, res.ServiceTime, res.ScheduleLag)
	})
}

// runErrs runs and returns the result, expecting every operation to fail.
func runErrs(t *testing.T, o httpdrv.Options, cfg load.Config) *metrics.Result {
	t.Helper()
	d, err := httpdrv.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	res, err := load.Run(t.Context(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > cfg.Duration+cfg.Timeout+3*time.Second {
		t.Errorf("%s: the run took %v", d.Path(), el)
	}
	if res.Requests.Total < 10 || res.Requests.OK != 0 || res.Requests.Errors != res.Requests.Total {
		t.Errorf("%s: requests %+v", d.Path(), res.Requests)
	}
	return res
}

// An unreachable target is a measured run full of refused errors.
func TestE2ERefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, force := range []bool{false, true} {
		res := runErrs(t, httpdrv.Options{URL: "http://" + addr + "/", ForceNetHTTP: force}, load.Config{Rate: 100, Duration: 300 * time.Millisecond})
		if n := res.Requests.ErrorsByKind[string(metrics.ErrRefused)]; n != res.Requests.Total {
			t.Errorf("errors %v, want all refused", res.Requests.ErrorsByKind)
		}
	}
}

// The engine's per-operation timeout ends a request the server never
// answers, on both paths, as a timeout.
func TestE2ETimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	for _, force := range []bool{false, true} {
		res := runErrs(t, httpdrv.Options{URL: s.URL, ForceNetHTTP: force}, load.Config{Rate: 50, Duration: 400 * time.Millisecond, Timeout: 100 * time.Millisecond})
		if n := res.Requests.ErrorsByKind[string(metrics.ErrTimeout)]; n != res.Requests.Total {
			t.Errorf("errors %v, want all timeouts", res.Requests.ErrorsByKind)
		}
		if res.ErrorLatency == nil || ms(res.ErrorLatency.P50) < 100*time.Millisecond || ms(res.ErrorLatency.P50) > 160*time.Millisecond {
			t.Errorf("error latency %+v, want ~100 ms", res.ErrorLatency)
		}
	}
}
