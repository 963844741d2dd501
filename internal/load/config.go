package load

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config fields left zero.
const (
	DefaultMaxInflight = 1000
	DefaultTimeout     = 30 * time.Second
	DefaultTick        = 750 * time.Microsecond
	DefaultGrace       = 5 * time.Second
	DefaultInterval    = time.Second
)

// Config describes one run. The open model is chosen by Rate or Stages, the
// closed model by Concurrency; Validate rejects mixtures.
type Config struct {
	// Rate is the open model's total rate in operations per second (not per
	// worker). 0 with no Stages selects the closed model.
	Rate float64
	// Stages is an open-model schedule with a varying rate; the run length
	// is the sum of the stage durations, so Duration must be 0 with Stages.
	Stages []Stage
	// MaxInflight caps concurrent operations in the open model; when all
	// are busy the next operation is sent late, never skipped. Workers are
	// started lazily up to this cap. Default DefaultMaxInflight (1000): a
	// 10k/s run against a 10 ms server needs ~100.
	MaxInflight int
	// Concurrency is the closed model's number of workers.
	Concurrency int
	// ThinkTime is the closed model's pause between a worker's operations.
	// Default 0.
	ThinkTime time.Duration
	// Duration is the measured phase's length. 0 with Requests > 0: run
	// until the count is reached.
	Duration time.Duration
	// Requests stops the run after this many measured operations (warm-up
	// not counted). 0: no limit.
	Requests int64
	// Arrivals caps the open model's schedule without ending the run: after
	// this many operations (warm-up included) nothing more is scheduled and
	// the run goes on to its planned end, which tells held sessions to
	// close (Op.Closing). It is how N connections arrive at a rate and are
	// held for the run (load ws --connections N --ramp R). 0: no cap.
	Arrivals int64
	// Warmup runs operations before the measured phase without recording
	// them. In a staged open model it holds the first stage's From rate.
	// Default 0.
	Warmup time.Duration
	// Timeout bounds each operation. Default DefaultTimeout (30s).
	Timeout time.Duration
	// MaxErrors stops the run with stop reason error_budget when measured
	// errors (canceled operations excluded) reach it. 0: off.
	MaxErrors int64
	// Tick is the open-model scheduler's wake-up period: it wakes at the
	// next operation's intended start but at most once per Tick, and sends
	// every operation that is due, so an operation waits up to one Tick.
	// Default DefaultTick (750µs): schedule lag stays under 1 ms (p99 ~0.8
	// ms) at about bombardier's CPU per request; with 1 ms, operations due
	// just after a wake-up wait a full millisecond plus the wake-up latency
	// and count as late (doc.go has the measurements).
	Tick time.Duration
	// Grace is how long in-flight operations may finish after an interrupt
	// (parent context canceled) or an error-budget stop before they are
	// canceled, and how long held sessions (Op.Hold) may take to close
	// after any other stop. Default DefaultGrace (5s).
	Grace time.Duration
	// Interval is the timeline and progress period. Default DefaultInterval
	// (1s).
	Interval time.Duration
	// Progress, if set, is called once per Interval from the collector
	// goroutine (warm-up included); it must return quickly.
	Progress func(Progress)
	// Shards is the number of recorder shards; 0: min(workers,
	// 2×GOMAXPROCS, 16).
	Shards int
	// CacheSource names where cache statuses came from (e.g. "X-Cache") for
	// Result.Cache.Source. Default "".
	CacheSource string
	// ShardIndex and ShardCount make the run shard ShardIndex of ShardCount
	// (ShardCount 0 or 1: not sharded). Rate and Stages stay the whole
	// run's: the open model sends operations ShardIndex, ShardIndex +
	// ShardCount, ... of the whole run's schedule, at their intended starts,
	// so the shards together send exactly the one-process schedule (shard i
	// is shifted by i/Rate). The closed model numbers its operations the
	// same way. Concurrency and Requests are this shard's own share.
	ShardIndex, ShardCount int
	// ShardByTick deals the open model's operations by scheduler tick
	// instead of by sequence number: the ticks [k·Tick, (k+1)·Tick) of the
	// run's offsets are dealt to the shards by a hash of k, and each shard
	// sends the operations intended in its ticks. It wakes only in those,
	// once, at the last of its operations there, so the shards together
	// wake as often as one process and send the same batches; each shard's
	// operations come in bursts, a tick's worth in about one tick of every
	// ShardCount. Requests is then the whole run's count. Open model only.
	ShardByTick bool
	// StartAt, when set, is the run's aligned start: Run waits until then
	// and every intended start counts from it, so shards on several
	// machines keep one schedule. Default: now.
	StartAt time.Time
	// IntervalHists keeps each timeline point's latency histogram
	// (Point.Hist), so timelines of shards merge exactly. Default false.
	IntervalHists bool
}

// Progress is a live view of a run, passed to Config.Progress.
type Progress struct {
	// Elapsed is time since the phase began (warm-up or measured); Total
	// is the phase's planned length (0 when the run ends on a count).
	Elapsed, Total time.Duration
	// Warmup is true during the warm-up phase; the counters are then 0.
	Warmup bool
	// Done counts measured operations completed (ok and errors).
	Done int64
	// RPS is the last interval's successful completions per second.
	RPS float64
	// P99 is the last interval's 99th percentile latency.
	P99 time.Duration
	// Errors counts measured errors so far.
	Errors int64
	// MsgRPS is the last interval's stream or socket messages received
	// per second (0 when the run has no messages).
	MsgRPS float64
}

func (c Config) open() bool { return c.Rate > 0 || len(c.Stages) > 0 }

// Validate reports the first problem with c as one line saying what is
// wrong and how to fix it.
func (c Config) Validate() error {
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return errors.New("rate must be a finite number of operations per second")
	case c.Rate < 0:
		return fmt.Errorf("rate must be greater than 0 (got %g)", c.Rate)
	case c.Concurrency < 0:
		return fmt.Errorf("concurrency must be greater than 0 (got %d)", c.Concurrency)
	case c.Rate > 0 && len(c.Stages) > 0:
		return errors.New("both a rate and stages are set: use one (stages already give the rate)")
	case c.open() && c.Concurrency > 0:
		return errors.New("both a rate and a concurrency are set: choose the open model (rate or stages) or the closed model (concurrency)")
	case !c.open() && c.Concurrency == 0:
		return errors.New("no load model: set a rate > 0 (open model) or a concurrency > 0 (closed model)")
	case c.Duration < 0:
		return fmt.Errorf("duration must not be negative (got %v)", c.Duration)
	case c.Requests < 0:
		return fmt.Errorf("requests must not be negative (got %d)", c.Requests)
	case c.Arrivals < 0:
		return fmt.Errorf("arrivals must not be negative (got %d)", c.Arrivals)
	case c.Arrivals > 0 && !c.open():
		return errors.New("an arrivals cap applies to the open model (a rate or stages) only")
	case c.Arrivals > 0 && c.Requests > 0:
		return errors.New("both an arrivals cap and a request count are set: use one")
	case len(c.Stages) > 0 && c.Duration > 0:
		return errors.New("both a duration and stages are set: the stages' durations add up to the run length; drop the duration")
	case len(c.Stages) == 0 && c.Duration == 0 && c.Requests == 0:
		return errors.New("no run length: set a duration or a number of requests")
	case c.Arrivals > 0 && len(c.Stages) == 0 && c.Duration == 0:
		return errors.New("an arrivals cap holds sessions until the run's end: set a duration")
	case c.Warmup < 0:
		return fmt.Errorf("warm-up must not be negative (got %v)", c.Warmup)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must not be negative (got %v)", c.Timeout)
	case c.MaxErrors < 0:
		return fmt.Errorf("max errors must not be negative (got %d)", c.MaxErrors)
	case c.MaxInflight < 0:
		return fmt.Errorf("max in-flight must be greater than 0 (got %d)", c.MaxInflight)
	case c.ThinkTime < 0:
		return fmt.Errorf("think time must not be negative (got %v)", c.ThinkTime)
	case c.ThinkTime > 0 && c.open():
		return errors.New("think time applies to the closed model (concurrency) only; drop it or use a concurrency")
	case c.Tick < 0, c.Grace < 0, c.Interval < 0:
		return errors.New("tick, grace and interval must not be negative")
	case c.Shards < 0:
		return fmt.Errorf("shards must not be negative (got %d)", c.Shards)
	case c.ShardByTick && !c.open():
		return errors.New("dealing shards by tick needs the open model (a rate or stages): the closed model splits its workers")
	case c.ShardCount < 0 || c.ShardIndex < 0 || (c.ShardCount > 0 && c.ShardIndex >= c.ShardCount) || (c.ShardCount == 0 && c.ShardIndex != 0):
		return fmt.Errorf("shard %d of %d: the index must be from 0 to count-1", c.ShardIndex, c.ShardCount)
	}
	for i, s := range c.Stages {
		if s.Duration <= 0 || s.From < 0 || s.To < 0 || math.IsNaN(s.From) || math.IsNaN(s.To) ||
			math.IsInf(s.From, 0) || math.IsInf(s.To, 0) {
			return fmt.Errorf("stage %d %q: duration must be > 0 and rates finite and >= 0", i+1, s.String())
		}
	}
	if len(c.Stages) > 0 && peakRate(c.Stages) == 0 {
		return errors.New("every stage has rate 0: nothing would be sent")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	return c
}
