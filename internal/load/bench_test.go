package load

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

func noop() *fakeDriver {
	return &fakeDriver{do: func(context.Context, *Op) Outcome { return Outcome{} }}
}

// BenchmarkOpenEnginePerOp is the open model's whole per-operation cost
// with an instant driver: schedule offset, channel hand-off to a worker,
// clocks, timeout timer, record. The rate is far above what can be kept,
// so the scheduler never sleeps.
func BenchmarkOpenEnginePerOp(b *testing.B) {
	b.ReportAllocs()
	res, err := Run(context.Background(), noop(), Config{Rate: 1e9, Requests: int64(b.N), MaxInflight: 4})
	if err != nil || res.Requests.OK != int64(b.N) {
		b.Fatal(err, res.Requests)
	}
}

// BenchmarkClosedEnginePerOp is the closed model's per-operation cost with
// an instant driver and 2 workers.
func BenchmarkClosedEnginePerOp(b *testing.B) {
	b.ReportAllocs()
	res, err := Run(context.Background(), noop(), Config{Concurrency: 2, Requests: int64(b.N)})
	if err != nil || res.Requests.OK != int64(b.N) {
		b.Fatal(err, res.Requests)
	}
}

// BenchmarkRunnerDo is one worker's per-operation overhead around Do:
// clocks, timeout timer arm/disarm, context checks and the record.
func BenchmarkRunnerDo(b *testing.B) {
	e := newEngine(noop(), Config{Rate: 1, Duration: time.Second}.withDefaults())
	e.base = time.Now()
	e.hardCtx, e.hardCancel = context.WithCancel(context.Background())
	defer e.hardCancel()
	r, err := e.newRunner(0)
	if err != nil {
		b.Fatal(err)
	}
	defer r.close()
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		now := time.Since(e.base)
		r.do(i, now, true, now)
		i++
	}
}

// BenchmarkOpenSchedule5k runs the open model at 5,000/s for 2 s of real
// time with an instant driver and reports how well the schedule was kept:
// the fraction of sends more than 1 ms late and the lag percentiles. It
// measures the machine as much as the code; run it with -benchtime=1x.
func BenchmarkOpenSchedule5k(b *testing.B) {
	for _, tick := range []time.Duration{time.Millisecond, 500 * time.Microsecond} {
		b.Run("tick="+tick.String(), func(b *testing.B) {
			var res *metrics.Result
			for b.Loop() {
				var err error
				res, err = Run(context.Background(), noop(), Config{Rate: 5000, Duration: 2 * time.Second, Tick: tick})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(100*res.LateSends.Fraction, "late-%")
			b.ReportMetric(float64(res.ScheduleLag.P50), "lag-p50-µs")
			b.ReportMetric(float64(res.ScheduleLag.P99), "lag-p99-µs")
		})
	}
}

// tcpEcho starts a loopback echo server and returns a driver whose
// operation writes 16 bytes and reads them back on a per-worker connection:
// real I/O, so the run's goroutines wake the way a real driver's do.
func tcpEcho(b *testing.B) *fakeDriver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	var mu sync.Mutex
	conns := map[*Op]net.Conn{}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		mu.Lock()
		c := conns[op]
		mu.Unlock()
		if c == nil {
			var err error
			if c, err = net.Dial("tcp", ln.Addr().String()); err != nil {
				return Outcome{Err: metrics.ErrRefused}
			}
			mu.Lock()
			conns[op] = c
			mu.Unlock()
		}
		var buf [16]byte
		if _, err := c.Write(buf[:]); err != nil {
			return Outcome{Err: metrics.ErrReset}
		}
		if _, err := io.ReadFull(c, buf[:]); err != nil {
			return Outcome{Err: metrics.ErrReset}
		}
		return Outcome{}
	}}
}

// BenchmarkOpenSchedule5kTCP is BenchmarkOpenSchedule5k with loopback TCP
// operations instead of instant ones. Run it with -benchtime=1x.
func BenchmarkOpenSchedule5kTCP(b *testing.B) {
	for _, tick := range []time.Duration{time.Millisecond, 500 * time.Microsecond} {
		b.Run("tick="+tick.String(), func(b *testing.B) {
			d := tcpEcho(b)
			var res *metrics.Result
			for b.Loop() {
				var err error
				res, err = Run(context.Background(), d, Config{Rate: 5000, Duration: 2 * time.Second, Tick: tick})
				if err != nil || res.Requests.Errors > 0 {
					b.Fatal(err, res.Requests)
				}
			}
			b.ReportMetric(100*res.LateSends.Fraction, "late-%")
			b.ReportMetric(float64(res.ScheduleLag.P50), "lag-p50-µs")
			b.ReportMetric(float64(res.ScheduleLag.P99), "lag-p99-µs")
			b.ReportMetric(float64(res.Latency.P50), "lat-p50-µs")
		})
	}
}

// BenchmarkTimeoutPerOpWithTimeout is what the engine avoids: a
// context.WithTimeout per operation (compare BenchmarkRunnerDo, which holds
// the engine's whole per-operation overhead including its timeout).
func BenchmarkTimeoutPerOpWithTimeout(b *testing.B) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		ctx, c := context.WithTimeout(parent, 30*time.Second)
		_ = ctx.Done()
		c()
	}
}
