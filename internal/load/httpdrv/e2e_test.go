package httpdrv_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/pipenet"
)

// These end-to-end tests check the instrument against targets of known
// behaviour (MEASUREMENT.md "Checking the instrument"): the real engine,
// the real HTTP driver and a real http.Server. The ones that check timing
// (a fixed delay, a stalling target) run in a testing/synctest bubble over
// an in-memory network (runPipe), so their figures are exact; the rest
// use 127.0.0.1 and assert no durations.

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

// runPipe serves h with a real http.Server over an in-memory network
// (internal/pipenet) and runs the real engine and driver against it; called
// inside a testing/synctest bubble, the whole run is on the bubble's fake
// clock, so a schedule, a server's delay and the latency the instrument
// records are exact, however loaded the machine.
func runPipe(t *testing.T, h http.Handler, o httpdrv.Options, cfg load.Config) (*metrics.Result, *httpdrv.Driver) {
	t.Helper()
	ln := pipenet.Listen()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	o.URL = "http://" + ln.Addr().String() + "/"
	d, err := httpdrv.New(o)
	if err != nil {
		t.Fatal(err)
	}
	httpdrv.SetDial(d, ln.Dial)
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

// TestE2EFixedDelay: a target that answers every request after exactly
// 20 ms, at 100/s for 1.5 s, on both client paths: latency and service time
// are the delay (nothing queues: 2 in flight), connections are kept alive
// and reused, and the ttfb phase is recorded.
func TestE2EFixedDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		io.WriteString(w, "done")
	})
	for _, force := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			res, d := runPipe(t, h, httpdrv.Options{ForceNetHTTP: force}, load.Config{Rate: 100, Duration: 1500 * time.Millisecond})
			t.Logf("%s: latency %+v service %+v connections %+v", d.Path(), res.Latency, res.ServiceTime, res.Connections)
			if res.Requests.OK != 150 {
				t.Errorf("%s: %d requests at 100/s for 1.5 s, want 150", d.Path(), res.Requests.OK)
			}
			for name, s := range map[string]metrics.Summary{"latency": res.Latency, "service time": res.ServiceTime} {
				// HDR buckets hold 3 significant digits.
				if p, m := ms(s.P50), ms(s.Max); p < delay || m > delay+delay/100 {
					t.Errorf("%s: %s p50 %v max %v, want %v", d.Path(), name, p, m, delay)
				}
				if m := ms(s.Min); m < delay {
					t.Errorf("%s: %s min %v below the server's delay", d.Path(), name, m)
				}
			}
			// 100/s × 20 ms is 2 in flight: two connections, kept alive
			// and reused (a third when an operation falls due at the
			// instant another's response arrives, before its connection is
			// back in the pool).
			if c := res.Connections; c.Opened < 2 || c.Opened > 3 || c.Opened+c.Reused != res.Requests.Total {
				t.Errorf("%s: connections %+v for %d requests", d.Path(), c, res.Requests.Total)
			}
			if _, ok := res.Phases["ttfb"]; !ok {
				t.Errorf("%s: no ttfb phase in %v", d.Path(), res.Phases)
			}
		})
	}
}

// stallHandler answers at once, except that a request arriving during a
// stall window (the first S of every T since the handler was made) is held
// until the window ends — a GC pause or a lock convoy at the target.
func stallHandler(S, T time.Duration) http.Handler {
	t0 := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if phase := time.Since(t0) % T; phase < S {
			time.Sleep(S - phase)
		}
		io.WriteString(w, "ok")
	})
}

// TestE2EStall: a target that stalls S = 100 ms of every T = 500 ms, loaded
// at a constant 100/s for 3 s. Operations scheduled during a stall are
// delayed until its end: the ones sent 0, 10, ..., 90 ms into a window wait
// 100, 90, ..., 10 ms, so with latency measured from the intended start, 8
// of every 50 operations (16 %) are above S/4 and p99 is S (the one sent as
// each window opens). A generator with coordinated omission reports ~0 and a
// p99 of a few ms.
//
// What service time shows depends on where the wait happens:
//
//   - Ample connections: every request is sent on schedule and waits AT THE
//     SERVER, so service time shows the stall just like latency (a server
//     that only delays responses cannot hide from service time).
//   - One connection: requests queue IN THE GENERATOR behind the stalled
//     one; only one per stall waits at the server, so service time looks
//     healthy while latency does not. This is the case where service time
//     hides the stall and only the corrected latency reveals it.
//
// The run is on a synctest bubble's fake clock (runPipe), so these are exact.
func TestE2EStall(t *testing.T) {
	const S, T = 100 * time.Millisecond, 500 * time.Millisecond
	cfg := load.Config{Rate: 100, Duration: 3 * time.Second}
	checkLatency := func(t *testing.T, res *metrics.Result) {
		t.Helper()
		if res.Requests.OK != 300 {
			t.Fatalf("%d requests at 100/s for 3 s, want 300", res.Requests.OK)
		}
		if f := fractionAbove(t, res, metrics.HistLatency, S/4); f != 0.16 {
			t.Errorf("latency: %.3f of operations above S/4, want 0.16", f)
		}
		if p := ms(res.Latency.P99); p < S || p > S+S/100 {
			t.Errorf("latency p99 %v, want %v", p, S)
		}
		if p := ms(res.Latency.P50); p != 0 {
			t.Errorf("latency p50 %v, want that of an idle server (0 on the fake clock)", p)
		}
	}
	t.Run("ample connections: service time shows the stall too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res, _ := runPipe(t, stallHandler(S, T), httpdrv.Options{}, cfg)
			checkLatency(t, res)
			if f := fractionAbove(t, res, metrics.HistServiceTime, S/4); f != 0.16 {
				t.Errorf("service time: %.3f above S/4, want 0.16 (requests wait at the server)", f)
			}
		})
	})
	t.Run("one connection: service time hides the stall, latency does not", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			res, d := runPipe(t, stallHandler(S, T), httpdrv.Options{Connections: 1}, cfg)
			checkLatency(t, res)
			// Per stall one request waits at the server: 6 of 300.
			if f := fractionAbove(t, res, metrics.HistServiceTime, S/4); f != 0.02 {
				t.Errorf("service time: %.3f above S/4, want 0.02 (the wait is in the generator)", f)
			}
			if p := ms(res.ServiceTime.P90); p != 0 {
				t.Errorf("service time p90 %v shows the stall", p)
			}
			if c := d.Connections(); c.Opened != 1 || c.PeakOpen != 1 {
				t.Errorf("connections %+v, want exactly one", c)
			}
			t.Logf("latency %+v\nservice %+v\nlag %+v", res.Latency, res.ServiceTime, res.ScheduleLag)
		})
	})
}

// runErrs runs and returns the result, expecting every operation to fail.
// A non-nil dial replaces the network (an in-memory one, in a bubble).
func runErrs(t *testing.T, o httpdrv.Options, cfg load.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *metrics.Result {
	t.Helper()
	d, err := httpdrv.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if dial != nil {
		httpdrv.SetDial(d, dial)
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
		res := runErrs(t, httpdrv.Options{URL: "http://" + addr + "/", ForceNetHTTP: force}, load.Config{Rate: 100, Duration: 300 * time.Millisecond}, nil)
		if n := res.Requests.ErrorsByKind[string(metrics.ErrRefused)]; n != res.Requests.Total {
			t.Errorf("errors %v, want all refused", res.Requests.ErrorsByKind)
		}
	}
}

// The engine's per-operation timeout ends a request the server never
// answers, on both paths, as a timeout, exactly at the timeout (a synctest
// bubble's fake clock, over an in-memory network).
func TestE2ETimeout(t *testing.T) {
	for _, force := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			ln := pipenet.Listen()
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})}
			go srv.Serve(ln)
			defer srv.Close()
			defer close(release)
			cfg := load.Config{Rate: 50, Duration: 400 * time.Millisecond, Timeout: 100 * time.Millisecond}
			res := runErrs(t, httpdrv.Options{URL: "http://" + ln.Addr().String() + "/", ForceNetHTTP: force}, cfg, ln.Dial)
			if n := res.Requests.ErrorsByKind[string(metrics.ErrTimeout)]; n != res.Requests.Total || n != 20 {
				t.Errorf("errors %v of %d, want 20 timeouts", res.Requests.ErrorsByKind, res.Requests.Total)
			}
			// HDR buckets hold 3 significant digits (64 µs wide at 100 ms).
			if e := res.ErrorLatency; e == nil || ms(e.Min) < cfg.Timeout-cfg.Timeout/1000 || ms(e.Max) > cfg.Timeout+cfg.Timeout/1000 || e.N != 20 {
				t.Errorf("error latency %+v, want %v", res.ErrorLatency, cfg.Timeout)
			}
		})
	}
}
