package load

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// fakeDriver is a hand-written Driver whose operations run do.
type fakeDriver struct {
	do      func(ctx context.Context, op *Op) Outcome
	newErr  error
	workers atomic.Int64
	closed  atomic.Int64
	conns   *metrics.Connections
}

func (f *fakeDriver) Protocol() string { return "fake" }
func (f *fakeDriver) Target() string   { return "fake://target" }
func (f *fakeDriver) Close() error     { return nil }
func (f *fakeDriver) NewWorker(ctx context.Context, id int) (Worker, error) {
	if f.newErr != nil {
		return nil, f.newErr
	}
	f.workers.Add(1)
	return fakeWorker{f}, nil
}

type fakeWorker struct{ f *fakeDriver }

func (w fakeWorker) Do(ctx context.Context, op *Op) Outcome { return w.f.do(ctx, op) }
func (w fakeWorker) Close() error                           { w.f.closed.Add(1); return nil }

type connDriver struct{ *fakeDriver }

func (c connDriver) Connections() metrics.Connections { return *c.conns }

// sleep waits d or until ctx is done; a canceled operation reports "other",
// so the tests can see the engine reclassify it.
func sleep(ctx context.Context, d time.Duration) metrics.ErrKind {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return metrics.OK
	case <-ctx.Done():
		return metrics.ErrOther
	}
}

func fixedDelay(d time.Duration) *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		return Outcome{Err: sleep(ctx, d)}
	}}
}

func run(t *testing.T, ctx context.Context, d Driver, cfg Config) *metrics.Result {
	t.Helper()
	res, err := Run(ctx, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// equiv asserts a microsecond figure equals want at histogram precision.
func equiv(t *testing.T, what string, got int64, want time.Duration) {
	t.Helper()
	if !metrics.Equivalent(got, want.Microseconds()) {
		t.Errorf("%s = %dµs, want %v", what, got, want)
	}
}

func TestOpenFixedDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 7 ms: no completion lands on a timeline boundary (those race the
		// collector at the same instant).
		fd := fixedDelay(7 * time.Millisecond)
		res := run(t, t.Context(), fd, Config{Rate: 100, Duration: 3 * time.Second})
		if res.StopReason != metrics.StopDuration || res.DurationS != 3 {
			t.Fatalf("stop %q after %vs", res.StopReason, res.DurationS)
		}
		if res.Requests.OK != 300 || res.Requests.Errors != 0 || res.ThroughputRPS != 100 {
			t.Fatalf("requests %+v throughput %v", res.Requests, res.ThroughputRPS)
		}
		for name, s := range map[string]metrics.Summary{"latency": res.Latency, "service": res.ServiceTime} {
			equiv(t, name+" min", s.Min, 7*time.Millisecond)
			equiv(t, name+" max", s.Max, 7*time.Millisecond)
		}
		if res.ScheduleLag == nil || res.ScheduleLag.Max != 0 || res.LateSends.Count != 0 || res.Generator.Saturated {
			t.Fatalf("lag %+v late %+v generator %+v", res.ScheduleLag, res.LateSends, res.Generator)
		}
		if res.Model != (metrics.Model{Kind: "open", Rate: 100, MaxInflight: DefaultMaxInflight}) {
			t.Fatalf("model %+v", res.Model)
		}
		// Workers are started lazily: 100/s with 7 ms each needs one or two.
		if n := fd.workers.Load(); n > 3 || n != fd.closed.Load() {
			t.Fatalf("%d workers started, %d closed", n, fd.closed.Load())
		}
		if len(res.Timeline) != 3 {
			t.Fatalf("timeline %+v", res.Timeline)
		}
		for i, p := range res.Timeline {
			if p.TS != float64(i+1) || p.OfferedRPS != 100 || p.CompletedRPS != 100 || p.P99US == 0 {
				t.Errorf("point %d = %+v", i, p)
			}
		}
		if res.Messages != nil || res.MessageLatency != nil || res.Cache != nil || res.Phases != nil {
			t.Errorf("empty sections present: %+v %+v %+v %+v", res.Messages, res.MessageLatency, res.Cache, res.Phases)
		}
	})
}

func TestClosedFixedDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fd := fixedDelay(10 * time.Millisecond)
		res := run(t, t.Context(), fd, Config{Concurrency: 4, Duration: time.Second, ThinkTime: 15 * time.Millisecond})
		// Each worker: an operation every 25 ms from 0 to 975 ms.
		if res.Requests.OK != 160 || res.StopReason != metrics.StopDuration {
			t.Fatalf("requests %+v stop %q", res.Requests, res.StopReason)
		}
		equiv(t, "latency p50", res.Latency.P50, 10*time.Millisecond)
		if res.Latency != res.ServiceTime {
			t.Fatalf("closed model latency %+v != service %+v", res.Latency, res.ServiceTime)
		}
		if res.ScheduleLag != nil || res.Generator.Note != ClosedModelNote || res.Generator.Saturated {
			t.Fatalf("lag %+v generator %+v", res.ScheduleLag, res.Generator)
		}
		if res.Model != (metrics.Model{Kind: "closed", Concurrency: 4, ThinkTimeUS: 15000}) {
			t.Fatalf("model %+v", res.Model)
		}
		if len(res.Timeline) != 1 || res.Timeline[0].CompletedRPS != 160 {
			t.Fatalf("timeline %+v", res.Timeline)
		}
	})
}

// stallTarget models a server that stalls for s every period: a request
// arriving during a stall is held until the stall ends, then answered
// after service; otherwise it is answered after service. If a driver sends
// the request late, the stall it meets is the one at the actual send.
type stallTarget struct {
	t0            time.Time
	s, period     time.Duration
	service       time.Duration
	maxInflightAt atomic.Int64
}

func (st *stallTarget) driver() *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		op.MarkSent()
		phase := time.Since(st.t0) % st.period
		wait := st.service
		if phase < st.s {
			wait += st.s - phase
		}
		return Outcome{Err: sleep(ctx, wait)}
	}}
}

// TestStallAnalytic: at a constant rate the latency distribution of a target
// stalling S every T is analytic: a fraction S/T of operations, uniformly
// spread over 0..S (plus service time). With ample in-flight capacity every
// request is sent on time, so service time shows the stall too; with a
// small cap (or a closed model, see TestStallClosedModelHidesIt) the
// requests queue inside the generator, service time no longer shows it, and
// only latency from the intended start stays true.
func TestStallAnalytic(t *testing.T) {
	const S, T = 100 * time.Millisecond, time.Second
	check := func(t *testing.T, res *metrics.Result, svc time.Duration) {
		t.Helper()
		// 10,000 ops at 1 ms spacing; per second, ops at phase 0..99 ms see
		// latency S − phase + svc = 100..1 ms + svc, 10 times each; the rest svc.
		if res.Requests.OK != 10000 {
			t.Fatalf("requests %+v", res.Requests)
		}
		l := res.Latency
		equiv(t, "p50", l.P50, svc)
		equiv(t, "p90", l.P90, svc) // exactly 90 % are unstalled
		equiv(t, "p99", l.P99, 90*time.Millisecond+svc)
		equiv(t, "p99.9", l.P999, 99*time.Millisecond+svc)
		equiv(t, "max", l.Max, S+svc)
		// Exact mean: svc + 0.1·mean(1..100 ms) = svc + 5.05 ms.
		if want := float64((svc + 5050*time.Microsecond).Microseconds()); l.Mean < want-10 || l.Mean > want+10 {
			t.Errorf("mean %.1fµs, want ~%v", l.Mean, want)
		}
		h, err := metrics.DecodeHistogram(res.Histograms[metrics.HistLatency])
		if err != nil {
			t.Fatal(err)
		}
		// The fraction above x ms + svc is (S − x)/T for x in 0..100 ms.
		for _, x := range []int64{10, 25, 50, 75, 99} {
			var above int64
			for _, b := range h.Distribution() {
				if b.From > x*1000+svc.Microseconds() {
					above += b.Count
				}
			}
			want := int64(10 * (100 - x))
			if above != want {
				t.Errorf("ops with latency > %d ms + svc = %d, want %d", x, above, want)
			}
		}
	}
	t.Run("ample in-flight: service time shows the stall too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := &stallTarget{t0: time.Now(), s: S, period: T, service: time.Millisecond}
			res := run(t, t.Context(), st.driver(), Config{Rate: 1000, Duration: 10 * time.Second})
			check(t, res, time.Millisecond)
			if res.ServiceTime != res.Latency || res.LateSends.Count != 0 || res.Generator.Saturated {
				t.Fatalf("service %+v latency %+v lag %+v late %+v", res.ServiceTime, res.Latency, res.ScheduleLag, res.LateSends)
			}
		})
	})
	t.Run("in-flight cap 2: service time hides the stall, latency does not", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Instant service, so the backlog behind the cap clears at each
			// stall's end and the latency is exactly the analytic one.
			st := &stallTarget{t0: time.Now(), s: S, period: T}
			res := run(t, t.Context(), st.driver(), Config{Rate: 1000, Duration: 10 * time.Second, MaxInflight: 2})
			check(t, res, 0)
			// Per stall only the 2 in-flight requests see it at the target:
			// 20 of 10,000 ops, so service time p99 is the (zero) service.
			s := res.ServiceTime
			if s.P99 != 0 || s.P90 != 0 {
				t.Errorf("service time %+v shows the stall at p90/p99", s)
			}
			if s.Max < 99000 {
				t.Errorf("service max %dµs: the two stuck requests should show the stall", s.Max)
			}
			// The other ~98 per stall were sent late, and the result says so.
			if res.LateSends.Count < 900 || !res.Generator.Saturated ||
				!strings.Contains(res.Generator.Note, "in-flight cap of 2 was reached") {
				t.Fatalf("late %+v generator %+v", res.LateSends, res.Generator)
			}
			// ~98 sends per stall wait for its end: lag 1..98 ms, p99 ≈ 88 ms.
			if res.ScheduleLag.P99 < 85000 {
				t.Errorf("schedule lag p99 %dµs, want the stall", res.ScheduleLag.P99)
			}
		})
	})
}

// TestStallClosedModelHidesIt: the closed model (wrk's) measures only
// service time, and with 2 workers only 2 requests per stall meet it.
func TestStallClosedModelHidesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &stallTarget{t0: time.Now(), s: 100 * time.Millisecond, period: time.Second, service: time.Millisecond}
		res := run(t, t.Context(), st.driver(), Config{Concurrency: 2, Duration: 10 * time.Second})
		// The open model's p99 for this target is 91 ms (TestStallAnalytic).
		equiv(t, "closed p99", res.Latency.P99, time.Millisecond)
		if res.Latency.Max < 99000 || res.Requests.OK < 17000 {
			t.Fatalf("closed: %+v %+v", res.Latency, res.Requests)
		}
	})
}

func TestInflightCapLateSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fd := fixedDelay(10 * time.Millisecond)
		res := run(t, t.Context(), fd, Config{Rate: 1000, Duration: 2 * time.Second, MaxInflight: 5})
		// Capacity 5 / 10 ms = 500/s: half the schedule cannot be kept.
		if fd.workers.Load() != 5 {
			t.Fatalf("%d workers, want the cap 5", fd.workers.Load())
		}
		if res.Requests.OK < 990 || res.Requests.OK > 1010 {
			t.Fatalf("ok %d, want ~1000 (500/s for 2 s)", res.Requests.OK)
		}
		if !res.Generator.Saturated || res.LateSends.Fraction < 0.9 ||
			!strings.Contains(res.Generator.Note, "in-flight cap of 5") ||
			!strings.Contains(res.Generator.Note, "latency above includes that wait") {
			t.Fatalf("late %+v generator %+v", res.LateSends, res.Generator)
		}
		equiv(t, "service max", res.ServiceTime.Max, 10*time.Millisecond)
		if res.Latency.Max < 900000 {
			t.Fatalf("latency max %dµs: the queue behind the cap must show", res.Latency.Max)
		}
	})
}

func TestWarmupNotRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var firstMeasured atomic.Int64
		firstMeasured.Store(-1)
		var warm []Progress
		var mu sync.Mutex
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			if op.Recording() {
				firstMeasured.CompareAndSwap(-1, int64(op.Seq()))
			}
			op.MessageSent(1) // dropped in warm-up
			return Outcome{Err: sleep(ctx, 5*time.Millisecond)}
		}}
		res := run(t, t.Context(), fd, Config{Rate: 100, Duration: 2 * time.Second, Warmup: 2 * time.Second,
			Progress: func(p Progress) { mu.Lock(); warm = append(warm, p); mu.Unlock() }})
		if res.Requests.Total != 200 || res.Messages.Sent != 200 || firstMeasured.Load() != 200 {
			t.Fatalf("requests %+v messages %+v first measured seq %d", res.Requests, res.Messages, firstMeasured.Load())
		}
		if len(res.Timeline) != 2 || res.DurationS != 2 {
			t.Fatalf("timeline %+v duration %v", res.Timeline, res.DurationS)
		}
		if len(warm) != 2 || !warm[0].Warmup || warm[0].Total != 2*time.Second || warm[1].Warmup || warm[1].Done != 100 {
			t.Fatalf("progress %+v", warm)
		}
	})
}

func TestRequestsCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := run(t, t.Context(), fixedDelay(10*time.Millisecond), Config{Rate: 100, Requests: 50})
		// Op 49 is sent at 490 ms and completes at 500 ms.
		if res.Requests.Total != 50 || res.StopReason != metrics.StopCount || res.DurationS != 0.5 {
			t.Fatalf("open: requests %+v stop %q duration %v", res.Requests, res.StopReason, res.DurationS)
		}
		res = run(t, t.Context(), fixedDelay(10*time.Millisecond), Config{Concurrency: 3, Requests: 50, Warmup: time.Second})
		if res.Requests.Total != 50 || res.StopReason != metrics.StopCount {
			t.Fatalf("closed: requests %+v stop %q", res.Requests, res.StopReason)
		}
		// Duration and count together: whichever comes first.
		res = run(t, t.Context(), fixedDelay(10*time.Millisecond), Config{Rate: 100, Requests: 1000, Duration: time.Second})
		if res.Requests.Total != 100 || res.StopReason != metrics.StopDuration {
			t.Fatalf("both: requests %+v stop %q", res.Requests, res.StopReason)
		}
	})
}

func TestMaxErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			sleep(ctx, 10*time.Millisecond)
			if op.Seq()%2 == 1 {
				return Outcome{Err: metrics.ErrRefused}
			}
			return Outcome{}
		}}
		res := run(t, t.Context(), fd, Config{Rate: 100, Duration: 10 * time.Second, MaxErrors: 10})
		// The 10th error is op 19, completing at 200 ms.
		if res.StopReason != metrics.StopErrorBudget || res.Requests.Errors < 10 || res.Requests.Errors > 11 ||
			res.Requests.ErrorsByKind["refused"] != res.Requests.Errors || res.DurationS != 0.2 {
			t.Fatalf("stop %q requests %+v duration %v", res.StopReason, res.Requests, res.DurationS)
		}
		equiv(t, "error latency", res.ErrorLatency.P50, 10*time.Millisecond)
		if res.Latency.N != res.Requests.OK {
			t.Fatalf("errors leaked into latency: n %d ok %d", res.Latency.N, res.Requests.OK)
		}
	})
}

func TestInterruptReturnsPartialResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		res, err := Run(ctx, fixedDelay(7*time.Millisecond), Config{Rate: 100, Duration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		// The op due at 1.5 s races the cancel at the same instant.
		if res.StopReason != metrics.StopInterrupted || res.DurationS != 1.5 || res.Requests.OK < 150 ||
			res.Requests.OK > 151 || res.Requests.Errors != 0 {
			t.Fatalf("stop %q duration %v requests %+v", res.StopReason, res.DurationS, res.Requests)
		}
		if len(res.Timeline) != 2 || res.Timeline[1].TS != 1.5 || res.Timeline[1].CompletedRPS < 100 || res.Timeline[1].CompletedRPS > 102 {
			t.Fatalf("timeline %+v", res.Timeline)
		}
	})
}

func TestInterruptGraceCancelsSlowOps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		res, err := Run(ctx, fixedDelay(10*time.Second), Config{Rate: 10, Duration: time.Minute, Grace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Fatalf("Run took %v, want interrupt 1s + grace 2s", took)
		}
		// Ops sent at 0..0.9 s (and maybe the one due at 1 s, racing the
		// cancel) were cut by the stop: canceled, not target errors.
		c := res.Requests.ErrorsByKind["canceled"]
		if res.StopReason != metrics.StopInterrupted || c < 10 || c > 11 ||
			res.Requests.Errors != c || res.ErrorLatency != nil {
			t.Fatalf("stop %q requests %+v error latency %+v", res.StopReason, res.Requests, res.ErrorLatency)
		}
	})
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sawDeadline, sawErr atomic.Bool
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			start := time.Now()
			dl, ok := ctx.Deadline()
			sawDeadline.Store(ok && dl.Sub(start) == 100*time.Millisecond)
			k := sleep(ctx, time.Hour)
			sawErr.Store(errors.Is(ctx.Err(), context.DeadlineExceeded))
			return Outcome{Err: k} // "other": the engine knows it was the timeout
		}}
		res := run(t, t.Context(), fd, Config{Rate: 10, Duration: time.Second, Timeout: 100 * time.Millisecond})
		if res.Requests.ErrorsByKind["timeout"] != 10 || res.Requests.OK != 0 {
			t.Fatalf("requests %+v", res.Requests)
		}
		equiv(t, "error latency", res.ErrorLatency.Max, 100*time.Millisecond)
		if !sawDeadline.Load() || !sawErr.Load() {
			t.Fatalf("driver saw deadline %v, DeadlineExceeded %v", sawDeadline.Load(), sawErr.Load())
		}
	})
}

func TestTimeoutDoesNotLeakIntoNextOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Alternating: an op that times out, then quick ones on the same
		// worker; the quick ones must keep a live context.
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			if op.Seq()%3 == 0 {
				return Outcome{Err: sleep(ctx, time.Hour)}
			}
			return Outcome{Err: sleep(ctx, time.Millisecond)}
		}}
		res := run(t, t.Context(), fd, Config{Concurrency: 1, Requests: 30, Timeout: 50 * time.Millisecond})
		if res.Requests.OK != 20 || res.Requests.ErrorsByKind["timeout"] != 10 {
			t.Fatalf("requests %+v", res.Requests)
		}
	})
}

// streamDriver performs one "session" per operation: it sends n messages and
// a reader goroutine receives each reply after (j+1) ms, as a gRPC stream or
// WebSocket session would.
func streamDriver(n int) *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		op.MarkSent()
		op.MessageSent(n)
		done := make(chan struct{})
		go func() { // the session's reader
			defer close(done)
			start := time.Now()
			for j := range n {
				time.Sleep(start.Add(time.Duration(j+1) * time.Millisecond).Sub(time.Now()))
				op.MessageReceived(time.Duration(j+1) * time.Millisecond)
			}
		}()
		<-done
		return Outcome{BytesSent: int64(10 * n), BytesReceived: int64(20 * n)}
	}}
}

func TestStreamIsOneOperationWithMessageEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := run(t, t.Context(), streamDriver(5), Config{Rate: 20, Duration: 2 * time.Second})
		if res.Requests.OK != 40 {
			t.Fatalf("sessions %+v, want 40 operations", res.Requests)
		}
		if res.Messages == nil || res.Messages.Sent != 200 || res.Messages.Received != 200 {
			t.Fatalf("messages %+v", res.Messages)
		}
		m := res.MessageLatency
		if m == nil || m.N != 200 || m.Mean < 2995 || m.Mean > 3005 {
			t.Fatalf("message latency %+v", m)
		}
		equiv(t, "message min", m.Min, time.Millisecond)
		equiv(t, "message p50", m.P50, 3*time.Millisecond)
		equiv(t, "message p90", m.P90, 5*time.Millisecond)
		equiv(t, "message max", m.Max, 5*time.Millisecond)
		// The session's own latency is its whole length.
		equiv(t, "session latency", res.Latency.P50, 5*time.Millisecond)
		if res.Histograms[metrics.HistMessageLatency] == "" || *res.Bytes != (metrics.Bytes{Sent: 2000, Received: 4000}) {
			t.Fatalf("histograms %v bytes %+v", res.Histograms, res.Bytes)
		}
	})
}

func TestPhasesCacheConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			op.Phase(PhaseConnect, 2*time.Millisecond)
			op.Phase(PhaseTTFB, 3*time.Millisecond)
			sleep(ctx, 4*time.Millisecond)
			c := metrics.CacheHit
			if op.Seq()%4 == 0 {
				c = metrics.CacheMiss
			}
			return Outcome{Cache: c}
		}, conns: &metrics.Connections{Opened: 2, Reused: 98, PeakOpen: 2}}
		res := run(t, t.Context(), connDriver{fd}, Config{Rate: 100, Duration: time.Second, CacheSource: "X-Cache"})
		if len(res.Phases) != 2 || res.Phases["connect"].P50 != 2000 || res.Phases["ttfb"].N != 100 {
			t.Fatalf("phases %+v", res.Phases)
		}
		if res.Histograms["phase_ttfb"] == "" || res.Histograms["phase_dns"] != "" {
			t.Fatalf("phase histograms %v", res.Histograms)
		}
		if res.Cache == nil || res.Cache.Hits != 75 || res.Cache.Misses != 25 || res.Cache.HitRatio != 0.75 || res.Cache.Source != "X-Cache" {
			t.Fatalf("cache %+v", res.Cache)
		}
		if res.Connections != *fd.conns {
			t.Fatalf("connections %+v", res.Connections)
		}
	})
}

func TestStagesTimeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, _ := ParseStages("4s:0-1000,2s:1000")
		res := run(t, t.Context(), fixedDelay(time.Millisecond), Config{Stages: st})
		// N(t) = 125t² over the ramp: 125, 375, 625, 875 per second, then 1000.
		want := []float64{125, 375, 625, 875, 1000, 1000}
		if len(res.Timeline) != len(want) || res.Requests.OK != 2000+2000 {
			t.Fatalf("timeline %+v requests %+v", res.Timeline, res.Requests)
		}
		for i, p := range res.Timeline {
			if p.OfferedRPS != want[i] || p.CompletedRPS < want[i]-1 || p.CompletedRPS > want[i]+1 {
				t.Errorf("point %d = %+v, want offered %v", i, p, want[i])
			}
		}
		if res.Model.Stages != "4s:0-1000,2s:1000" || res.Model.Rate != 1000 || res.DurationS != 6 {
			t.Fatalf("model %+v duration %v", res.Model, res.DurationS)
		}
	})
}

func TestTimelineOnePointPerSecondAndBoundedMemory(t *testing.T) {
	counts := map[time.Duration]int{}
	for _, d := range []time.Duration{5 * time.Second, 60 * time.Second} {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine(fixedDelay(2*time.Millisecond), Config{Rate: 500, Duration: d}.withDefaults())
			res, err := e.run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Timeline) != int(d/time.Second) || res.Requests.OK != int64(500*d/time.Second) {
				t.Fatalf("%v: %d points, %d ok", d, len(res.Timeline), res.Requests.OK)
			}
			for i, p := range res.Timeline {
				if p.TS != float64(i+1) {
					t.Fatalf("point %d at t_s %v", i, p.TS)
				}
			}
			counts[d] = e.rec.HistogramCount()
		})
	}
	if counts[5*time.Second] != counts[60*time.Second] {
		t.Fatalf("histograms grow with run length: %v", counts)
	}
}

func TestNewWorkerErrorFailsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fd := fixedDelay(time.Millisecond)
		fd.newErr = errors.New("no such service")
		_, err := Run(t.Context(), fd, Config{Rate: 10, Duration: time.Second})
		if err == nil || !strings.Contains(err.Error(), "no such service") {
			t.Fatalf("err = %v", err)
		}
		_, err = Run(t.Context(), fd, Config{Concurrency: 2, Duration: time.Second})
		if err == nil {
			t.Fatal("closed model: no error")
		}
	})
	if _, err := Run(context.Background(), fixedDelay(0), Config{Rate: -1}); err == nil {
		t.Fatal("invalid config accepted")
	}
}

func TestMarkSentSplitsServiceAndLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The driver waits 5 ms for a pooled connection, then sends; the
		// response takes 2 ms.
		fd := &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			sleep(ctx, 5*time.Millisecond)
			op.MarkSent()
			return Outcome{Err: sleep(ctx, 2*time.Millisecond)}
		}}
		res := run(t, t.Context(), fd, Config{Rate: 10, Duration: time.Second})
		equiv(t, "latency", res.Latency.Max, 7*time.Millisecond)
		equiv(t, "service", res.ServiceTime.Max, 2*time.Millisecond)
		equiv(t, "lag", res.ScheduleLag.Max, 5*time.Millisecond)
		if !res.Generator.Saturated || !strings.Contains(res.Generator.Note, "never reached") {
			t.Fatalf("generator %+v", res.Generator)
		}
	})
}

// TestRealClockSmoke runs the engine on the real clock (the fine-sleep and
// end-of-schedule paths synctest does not reach). It asserts counts only,
// never speed.
func TestRealClockSmoke(t *testing.T) {
	res := run(t, t.Context(), noop(), Config{Rate: 2000, Requests: 200})
	if res.Requests.OK != 200 || res.StopReason != metrics.StopCount {
		t.Fatalf("count run: %+v %q", res.Requests, res.StopReason)
	}
	res = run(t, t.Context(), noop(), Config{Rate: 1000, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if res.StopReason != metrics.StopDuration || res.DurationS != 0.2 || res.Requests.OK > 200 || res.Requests.OK == 0 {
		t.Fatalf("duration run: %+v %q %v", res.Requests, res.StopReason, res.DurationS)
	}
	if res.Requests.OK < 200 && !strings.Contains(res.Generator.Note, "were not sent") {
		t.Fatalf("%d of 200 sent, but the note does not say so: %q", res.Requests.OK, res.Generator.Note)
	}
	if res.ScheduleLag == nil || res.ScheduleLag.N != res.Requests.OK {
		t.Fatalf("lag %+v", res.ScheduleLag)
	}
}

// fakeFine is a fineWaiter on the (synctest) clock that counts its sleeps
// and remembers the longest; interrupt ends a sleep like the timerfd's.
type fakeFine struct {
	sleeps, longest atomic.Int64
	stop            chan struct{}
	once            sync.Once
}

func newFakeFine() *fakeFine { return &fakeFine{stop: make(chan struct{})} }

func (f *fakeFine) sleep(d time.Duration) bool {
	f.sleeps.Add(1)
	if int64(d) > f.longest.Load() {
		f.longest.Store(int64(d))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.stop:
	}
	return true
}
func (f *fakeFine) interrupt() { f.once.Do(func() { close(f.stop) }) }
func (f *fakeFine) close()     {}

// TestLowRateFinishesWaitWithFineSleep checks that a wait longer than
// fineSleepMax (here 10 ms between operations at 100/s) still ends in the
// fine sleeper: Go timers wake up to ~1 ms late on Linux, which at low rates
// made about one send in ten more than 1 ms late and the run "saturated".
func TestLowRateFinishesWaitWithFineSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := newFakeFine()
		saved := newFine
		newFine = func() fineWaiter { return ff }
		defer func() { newFine = saved }()
		res := run(t, context.Background(), fixedDelay(100*time.Microsecond),
			Config{Rate: 100, Duration: time.Second})
		if res.Requests.Total != 100 {
			t.Fatalf("requests = %d, want 100", res.Requests.Total)
		}
		// Every operation after the first is preceded by a wait of 10 ms.
		if n := ff.sleeps.Load(); n < 99 {
			t.Errorf("fine sleeps = %d, want >= 99 (one per 10 ms wait)", n)
		}
		// Once a fine sleep has moved the clock, a whole 10 ms wait is one
		// fine sleep (one wake-up), not a Go timer's and then 2 ms of fine.
		if d := time.Duration(ff.longest.Load()); d != 10*time.Millisecond {
			t.Errorf("longest fine sleep = %v, want the whole 10ms wait", d)
		}
		if res.ScheduleLag == nil || res.ScheduleLag.Max != 0 {
			t.Errorf("schedule lag = %+v, want max 0 on the exact clock", res.ScheduleLag)
		}
	})
}

// TestStopInterruptsLongFineSleep: at 1/s the scheduler sleeps a whole
// second in the fine sleeper; a cancel in the middle of that wait ends the
// run then, not at the next operation's start.
func TestStopInterruptsLongFineSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := newFakeFine()
		saved := newFine
		newFine = func() fineWaiter { return ff }
		defer func() { newFine = saved }()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(2500*time.Millisecond, cancel)
		start := time.Now()
		res := run(t, ctx, fixedDelay(100*time.Microsecond), Config{Rate: 1, Duration: time.Hour})
		if el := time.Since(start); el >= 3*time.Second {
			t.Fatalf("run returned after %v; the cancel at 2.5s did not end the 1s fine sleep", el)
		}
		if res.Requests.Total != 3 || ff.longest.Load() != int64(time.Second) {
			t.Fatalf("requests %d, longest fine sleep %v; want 3 and 1s", res.Requests.Total, time.Duration(ff.longest.Load()))
		}
	})
}

// countingConns is a ConnCounter driver with one connection reused by every
// operation after the first, warm-up included, like httpdrv's counters.
type countingConns struct {
	*fakeDriver
	calls atomic.Int64
}

func (c *countingConns) Connections() metrics.Connections {
	n := c.calls.Load()
	return metrics.Connections{Opened: min(n, 1), Reused: max(n-1, 0), PeakOpen: min(n, 1)}
}

// TestWarmupNotInConnectionsReused checks that reuses by warm-up operations
// are not reported: a result with 0 requests said "99 reused".
func TestWarmupNotInConnectionsReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cd := &countingConns{}
		cd.fakeDriver = &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
			cd.calls.Add(1)
			return Outcome{Err: sleep(ctx, time.Millisecond)}
		}}
		res := run(t, t.Context(), cd, Config{Rate: 100, Warmup: time.Second, Duration: time.Second})
		if res.Requests.Total != 100 {
			t.Fatalf("requests = %d, want 100", res.Requests.Total)
		}
		// The snapshot at the warm-up's end may land after the first
		// measured operation (both are due at 1 s): 99 or 100, not 199.
		if c := res.Connections; c.Opened != 1 || c.Reused < 99 || c.Reused > 100 {
			t.Errorf("connections %+v, want 1 opened (in the warm-up) and 99-100 reused (the measured operations)", c)
		}

		// Interrupted inside the warm-up: nothing measured, nothing reused.
		cd.calls.Store(0)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(500*time.Millisecond, cancel)
		res = run(t, ctx, cd, Config{Rate: 100, Warmup: time.Second, Duration: time.Second})
		if res.Requests.Total != 0 || res.Connections.Reused != 0 {
			t.Errorf("interrupted in warm-up: requests %d, connections %+v; want 0 and 0 reused", res.Requests.Total, res.Connections)
		}
	})
}
