package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// lateSaturation is the fraction of late sends above which the result says
// the generator could not keep the schedule (MEASUREMENT.md: 1 %).
const lateSaturation = metrics.LateSaturation

// ClosedModelNote is Generator.Note of every closed-model result.
const ClosedModelNote = metrics.ClosedModelNote

var (
	errOpTimeout  = errors.New("loadrig: operation timed out")
	errSessionCut = errors.New("loadrig: held session still open a grace period after the run stopped")
)

// Run drives d with cfg and returns the measured result. It returns an
// error only for an invalid cfg or when the driver cannot create a worker;
// a target that fails is a result full of errors. When ctx is canceled,
// scheduling stops, in-flight operations get cfg.Grace to finish (then they
// are canceled and counted as ErrCanceled, not as target errors), and the
// partial result comes back with stop reason "interrupted" and a nil error.
//
// After a "duration" or "count" stop, in-flight operations are measured to
// completion or to their Timeout; only an interrupt or an error-budget stop
// cuts them off after Grace.
//
// Run closes the Workers it creates but not d: whoever made the driver
// closes it after Run returns. ToolVersion, Name and Server are the
// caller's to fill.
func Run(ctx context.Context, d Driver, cfg Config) (*metrics.Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newEngine(d, cfg.withDefaults()).run(ctx)
}

type job struct {
	seq      uint64
	intended time.Duration
	measured bool
}

// engine is the state of one run. Offsets are durations since base, read
// with time.Since (monotonic clock).
type engine struct {
	d     Driver
	cfg   Config
	rec   *metrics.Recorder
	open  bool
	warm  time.Duration
	sched *schedule     // open model
	end   time.Duration // planned end of the measured phase; -1: on a count
	base  time.Time

	hardCtx    context.Context // operations' parent: outlives an interrupt by Grace
	hardCancel context.CancelFunc

	stopCh   chan struct{}
	stopOnce sync.Once
	// closing is Op.Closing: closed at every stop but a count stop, which
	// lets in-flight operations finish (held sessions get Grace first).
	closing     chan struct{}
	closingOnce sync.Once
	reason      string       // set once, before stopCh closes
	stopAt      atomic.Int64 // offset of the stop; -1 before

	errCount   atomic.Int64  // measured target errors, for MaxErrors
	claimed    atomic.Int64  // closed model: measured operations claimed
	seq        atomic.Uint64 // closed model: next sequence number
	dispatched atomic.Uint64 // open model: operations handed to workers
	// byTick is cfg.ShardByTick on a run of several shards; tickCount is
	// planned's running count over this shard's whole ticks.
	byTick    bool
	tickCount struct {
		tick int64   // ticks before this one are counted
		n    float64 // this shard's operations in them
	}
	capHits int64 // open model: dispatches that found every worker busy
	wg      sync.WaitGroup

	failOnce sync.Once
	failErr  error

	points   []metrics.Point
	lastTick time.Duration // end of the last timeline point

	// Held sessions (Op.Hold), cut off Grace after a stop that does not
	// already end in a hard cancel.
	sessMu  sync.Mutex
	held    map[*runner]struct{}
	sessCut bool

	// warmReused is the driver's reused-connection count when the warm-up
	// ended (ConnCounter drivers), so the result's Reused counts measured
	// operations only; warmSeen says it was taken.
	warmReused int64
	warmSeen   bool
	// warmBytes is the driver's wire byte count when the warm-up ended
	// (WireCounter drivers), so Result.Bytes counts the measured phase.
	warmBytes metrics.Bytes
	// warmOnce takes both snapshots once, by whichever comes first: the
	// collector's tick at the warm-up's end, or the open-model scheduler
	// just before it dispatches the first measured operation (both may fall
	// on the same instant; the scheduler's call keeps that operation's bytes
	// out of the warm-up's).
	warmOnce sync.Once
}

// snapWarm records the driver's connection and wire counters at the end of
// the warm-up (once; see warmOnce).
func (e *engine) snapWarm() {
	e.warmOnce.Do(func() {
		if cc, ok := e.d.(ConnCounter); ok {
			e.warmReused, e.warmSeen = cc.Connections().Reused, true
		}
		if wc, ok := e.d.(WireCounter); ok {
			e.warmBytes = wc.WireBytes()
		}
	})
}

func newEngine(d Driver, cfg Config) *engine {
	e := &engine{d: d, cfg: cfg, open: cfg.open(), warm: cfg.Warmup, stopCh: make(chan struct{}), closing: make(chan struct{}), held: map[*runner]struct{}{}}
	e.stopAt.Store(-1)
	workers := cfg.Concurrency
	if e.open {
		workers = cfg.MaxInflight
		warmRate := cfg.Rate
		if len(cfg.Stages) > 0 {
			warmRate = cfg.Stages[0].From
		}
		e.sched = newSchedule(cfg.Warmup, warmRate, cfg.Stages, cfg.Rate, cfg.Duration)
		e.end = e.sched.end
		e.byTick = cfg.ShardByTick && cfg.ShardCount > 1 && cfg.Tick > 0
	} else {
		e.end = -1
		if cfg.Duration > 0 {
			e.end = cfg.Warmup + cfg.Duration
		}
	}
	shards := cfg.Shards
	if shards == 0 {
		shards = min(workers, 2*runtime.GOMAXPROCS(0), 16)
	}
	rc := metrics.RecorderConfig{Shards: shards, PhaseNames: metrics.PhaseNames(), IntervalHists: cfg.IntervalHists}
	if on, ok := d.(OperationNamer); ok {
		rc.OperationNames = on.OperationNames()
	}
	e.rec = metrics.NewRecorder(rc)
	return e
}

// stop ends scheduling; the first reason wins.
func (e *engine) stop(reason string) {
	e.stopOnce.Do(func() {
		e.reason = reason
		e.stopAt.Store(int64(time.Since(e.base)))
		close(e.stopCh)
	})
	if reason != metrics.StopCount {
		e.closeSessions()
	}
}

// closeSessions tells in-flight sessions to close (Op.Closing).
func (e *engine) closeSessions() { e.closingOnce.Do(func() { close(e.closing) }) }

func (e *engine) stopped() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}

// fail aborts the run because the driver could not make a worker.
func (e *engine) fail(err error) {
	e.failOnce.Do(func() { e.failErr = err })
	e.stop(stopFailed)
	e.hardCancel()
}

// stopFailed is the internal stop reason of a run aborted by a driver
// error; Run returns the error instead of a result.
const stopFailed = "failed"

// step is the distance between this shard's sequence numbers (1 unsharded
// or dealt by tick).
func (e *engine) step() uint64 {
	if e.byTick {
		return 1
	}
	return uint64(max(e.cfg.ShardCount, 1))
}

// tickShard is the shard, of count, that tick t (the interval [t·Tick,
// (t+1)·Tick) of the run's offsets) is dealt to when operations are dealt
// by tick: a hash of t, so a schedule whose period beats with the tick's
// (500/s on 750 µs ticks) still spreads evenly, where round robin would
// deal it 2:1.
func tickShard(t int64, count int) int {
	x := uint64(t) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return int((x ^ (x >> 31)) % uint64(count))
}

// ownsTick says whether tick t is this shard's (dealt by tick).
func (e *engine) ownsTick(t int64) bool { return tickShard(t, e.cfg.ShardCount) == e.cfg.ShardIndex }

// firstAt is the sequence number of the first operation intended at or
// after offset t (capped at Config.Arrivals), found with the scheduler's own
// offsets so that counts agree with what it sends to the operation.
func (e *engine) firstAt(t time.Duration) uint64 {
	if t <= 0 {
		return 0
	}
	// cum is exact up to float rounding, far less than an operation: two
	// below its ceiling is before t.
	k := uint64(max(math.Ceil(e.sched.cum(t))-2, 0))
	c := cursor{s: e.sched}
	for {
		if d, ok := c.offset(k); !ok || d >= t {
			break
		}
		k++
	}
	if a := e.cfg.Arrivals; a > 0 {
		k = min(k, uint64(a))
	}
	return k
}

// own moves *i to this shard's next operation at or after it and returns
// its offset (dealt by sequence number, *i already is). Dealt by tick, an
// operation in another shard's tick jumps to the first of this shard's
// next tick.
func (e *engine) own(c *cursor, i *uint64) (time.Duration, bool) {
	d, ok := c.offset(*i)
	if !e.byTick {
		return d, ok
	}
	for ok && !e.ownsTick(int64(d/e.cfg.Tick)) {
		t := int64(d/e.cfg.Tick) + 1
		for !e.ownsTick(t) {
			t++
		}
		*i = max(e.firstAt(time.Duration(t)*e.cfg.Tick), *i+1)
		d, ok = c.offset(*i)
	}
	return d, ok
}

// lastInTick is, dealt by tick, the offset of the last operation up to end
// (a sequence number, exclusive) intended in the tick of operation i at
// offset next: the shard wakes once for all of its tick. Otherwise next.
func (e *engine) lastInTick(c cursor, i uint64, next time.Duration, end uint64) time.Duration {
	if !e.byTick {
		return next
	}
	tickEnd := (next/e.cfg.Tick + 1) * e.cfg.Tick
	for j := i + 1; j < end; j++ {
		d, ok := c.offset(j)
		if !ok || d >= tickEnd {
			break
		}
		next = d
	}
	return next
}

// planned is how many of this shard's operations are intended before
// offset t. Dealt by tick it counts tick by tick, carrying the count of
// whole ticks from the last call (calls come with growing t).
func (e *engine) planned(t time.Duration) float64 {
	if !e.byTick {
		return e.share(e.cum(t))
	}
	tick := e.cfg.Tick
	tc := &e.tickCount
	if time.Duration(tc.tick)*tick > t {
		tc.tick, tc.n = 0, 0
	}
	last := int64(t / tick)
	for ; tc.tick < last; tc.tick++ {
		if e.ownsTick(tc.tick) {
			tc.n += float64(e.firstAt(time.Duration(tc.tick+1)*tick) - e.firstAt(time.Duration(tc.tick)*tick))
		}
	}
	if !e.ownsTick(last) {
		return tc.n
	}
	return tc.n + float64(e.firstAt(t)-e.firstAt(time.Duration(last)*tick))
}

// share is how many of the whole run's first n operations (n fractional,
// from the schedule) are this shard's: those with index ≡ ShardIndex.
func (e *engine) share(n float64) float64 {
	if e.cfg.ShardCount <= 1 {
		return n
	}
	return max(math.Ceil((n-float64(e.cfg.ShardIndex))/float64(e.cfg.ShardCount)), 0)
}

// waitStart waits for cfg.StartAt and returns the run's base: the aligned
// start as a monotonic time (now when no StartAt).
func (e *engine) waitStart(ctx context.Context) (time.Time, error) {
	now := time.Now()
	if e.cfg.StartAt.IsZero() {
		return now, nil
	}
	if d := time.Until(e.cfg.StartAt); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return now, ctx.Err()
		}
		now = time.Now()
	}
	// now carries a monotonic reading; moving it to the wall-clock StartAt
	// keeps it, so offsets count from the aligned start exactly.
	return now.Add(e.cfg.StartAt.Sub(now)), nil
}

func (e *engine) run(ctx context.Context) (*metrics.Result, error) {
	base, err := e.waitStart(ctx)
	if err != nil {
		return nil, err
	}
	e.base = base
	e.hardCtx, e.hardCancel = context.WithCancel(context.WithoutCancel(ctx))
	defer e.hardCancel()
	unwatch := context.AfterFunc(ctx, func() { e.stop(metrics.StopInterrupted) })
	defer unwatch()

	quit, collected := make(chan struct{}), make(chan struct{})
	go e.collect(quit, collected)
	workersDone := make(chan struct{})
	go func() {
		if e.open {
			e.runOpen()
		} else {
			e.runClosed()
		}
		e.wg.Wait()
		close(workersDone)
	}()

	var graceC, sessGraceC <-chan time.Time
	stopCh, parentDone := e.stopCh, ctx.Done()
	startGrace := func() {
		if graceC == nil {
			graceC = time.After(e.cfg.Grace)
		}
	}
wait:
	for {
		select {
		case <-workersDone:
			break wait
		case <-stopCh:
			stopCh = nil
			if e.reason == metrics.StopInterrupted || e.reason == metrics.StopErrorBudget {
				startGrace()
			} else {
				// A soft stop: sessions were told to close (Op.Closing;
				// after a count stop only once Grace has passed, as
				// in-flight operations may finish); those still held
				// Grace later are cut off.
				sessGraceC = time.After(e.cfg.Grace)
			}
		case <-parentDone:
			parentDone = nil
			// Stop before sessions close (the AfterFunc may not have run
			// yet), so no worker starts another; after a count stop this
			// only tells the sessions to close.
			e.stop(metrics.StopInterrupted)
			startGrace()
		case <-graceC:
			graceC = nil
			e.hardCancel()
		case <-sessGraceC:
			sessGraceC = nil
			select {
			case <-e.closing:
				e.cutSessions()
			default:
				e.closeSessions()
				sessGraceC = time.After(e.cfg.Grace)
			}
		}
	}
	close(quit)
	<-collected
	if e.failErr != nil {
		return nil, e.failErr
	}
	return e.result(time.Since(e.base))
}

// runOpen is the open model's scheduler: it wakes at the next operation's
// intended start, but at most once per Tick, and dispatches every operation
// that is due. Dispatch never skips: with every worker busy it waits, and
// the operation goes out late (its schedule lag records how late).
func (e *engine) runOpen() {
	jobs := make(chan job)
	defer close(jobs)
	cur := cursor{s: e.sched}
	i, step := uint64(e.cfg.ShardIndex), e.step()
	// Dealt by tick, sequence numbers are the whole run's and so is
	// Requests: the run ends before number countEnd.
	countEnd := uint64(math.MaxUint64)
	if e.byTick {
		i = 0
		if e.cfg.Requests > 0 {
			countEnd = e.firstAt(e.warm) + uint64(e.cfg.Requests)
		}
	}
	arrivalsEnd := countEnd
	if e.cfg.Arrivals > 0 {
		arrivalsEnd = min(arrivalsEnd, uint64(e.cfg.Arrivals))
	}
	var sent uint64
	var started int
	var measured int64
	next, ok := e.own(&cur, &i)
	if i >= countEnd {
		e.stop(metrics.StopCount)
		return
	}
	if e.cfg.Arrivals > 0 && i >= uint64(e.cfg.Arrivals) {
		ok = false // a shard past the last arrival sends nothing
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// endCh closes at the planned end (plus a tick and the late threshold,
	// so timer jitter on the last operations is not mistaken for a backlog):
	// a scheduler running behind (every worker busy) stops there instead of
	// overrunning the run's duration; what it could not send is reported.
	endCh := make(chan struct{})
	if e.end >= 0 {
		slack := e.cfg.Tick + metrics.DefaultLateThreshold
		t := time.AfterFunc(e.end+slack-time.Since(e.base), func() { close(endCh) })
		defer t.Stop()
	}
	lastWake := -e.cfg.Tick
	// fine is the waiter while it serves; proven says a fine sleep moved
	// the clock (a real clock, not synctest's), after which every wait,
	// however long, is one fine sleep: one wake-up per wait instead of a Go
	// timer's and then the fine sleeper's. A stop interrupts it.
	fine := newFine()
	proven := false
	if fine != nil {
		f, done := fine, make(chan struct{})
		var watch sync.WaitGroup
		watch.Go(func() {
			select {
			case <-e.stopCh:
				f.interrupt()
			case <-done:
			}
		})
		defer func() {
			close(done)
			watch.Wait()
			f.close()
		}()
	}
	// Dealt by tick, even the first tick's operations wait for its last.
	hold := e.byTick
	for ok {
		now := time.Since(e.base)
		for ok && next <= now && !hold {
			if e.stopped() {
				return
			}
			j := job{seq: i, intended: next, measured: next >= e.warm}
			if j.measured && e.warm > 0 && measured == 0 {
				e.snapWarm()
			}
			switch e.dispatch(jobs, j, &started, endCh) {
			case dispatchStopped:
				return
			case dispatchEnded:
				e.stop(metrics.StopDuration)
				return
			}
			i += step
			sent++
			e.dispatched.Store(sent)
			if j.measured {
				measured++
				if !e.byTick && e.cfg.Requests > 0 && measured >= e.cfg.Requests {
					e.stop(metrics.StopCount)
					return
				}
			}
			next, ok = e.own(&cur, &i)
			if i >= countEnd {
				e.stop(metrics.StopCount)
				return
			}
			if e.cfg.Arrivals > 0 && i >= uint64(e.cfg.Arrivals) {
				ok = false
			}
			if ok && next > now {
				now = time.Since(e.base)
			}
		}
		wake := e.end
		if ok {
			wake = max(e.lastInTick(cur, i, next, arrivalsEnd), lastWake+e.cfg.Tick)
		}
		if wait := wake - now; fine != nil && (wait <= fineSleepMax || proven) {
			if wait > 0 {
				if !fine.sleep(wait) || time.Since(e.base) == now {
					// The timer failed, or the clock did not move across a
					// real sleep: testing/synctest's fake clock, which only
					// Go timers advance. Use Go timers from here on.
					fine = nil
					continue
				}
				proven = true
			}
			if e.stopped() {
				return
			}
		} else {
			coarse := fine != nil
			if coarse {
				// Go timers wake up to ~1 ms late on Linux: a low rate (an
				// operation every 2 ms or more) would then send most of its
				// operations up to 1 ms late and be reported as a saturated
				// generator. Wait with the timer until fineSleepMax before
				// the wake-up, then loop to fine-sleep the rest.
				wait -= fineSleepMax
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
				if coarse {
					continue
				}
			case <-e.stopCh:
				timer.Stop()
				return
			}
		}
		// Tick periods are counted from the wake-up aimed at, so timer
		// overshoot does not stretch every period; a wake-up more than a tick
		// late restarts the count.
		lastWake = wake
		if now := time.Since(e.base); now-wake > e.cfg.Tick {
			lastWake = now
		}
		hold = false
	}
	if e.cfg.Arrivals > 0 && e.end >= 0 {
		// Every session arrived (or the schedule ended): they are held
		// until the planned end, which is the soft stop.
		t := time.NewTimer(e.end - time.Since(e.base))
		select {
		case <-t.C:
		case <-e.stopCh:
			t.Stop()
			return
		}
	}
	e.stop(metrics.StopDuration)
}

// fineWaiter is what the open-model scheduler sleeps with for waits
// shorter than fineSleepMax (a *fineSleeper outside tests).
type fineWaiter interface {
	// sleep waits d (> 0); false means the waiter cannot be used.
	sleep(d time.Duration) bool
	// interrupt makes the sleep in progress, and every later one, return
	// at once; safe to call from another goroutine (the stop).
	interrupt()
	close()
}

// newFine returns the scheduler's fine waiter, or nil when there is none
// (no timerfd): the scheduler then uses Go timers only. Tests replace it.
var newFine = func() fineWaiter {
	if s := newFineSleeper(); s != nil {
		return s
	}
	return nil
}

// fineSleepMax is the longest wait the scheduler sleeps with its fineWaiter
// until a fine sleep has shown the clock is real; until then a longer wait
// (low rates) runs on a Go timer, which also watches for a stop, until
// fineSleepMax before the wake-up, and fine-sleeps the rest. Once shown,
// every wait is one fine sleep (a stop interrupts it): the Go timer's extra
// wake-up per operation doubled a low-rate generator's CPU (README design
// notes, "Two shards at R/2").
const fineSleepMax = 2 * time.Millisecond

const (
	dispatched = iota
	dispatchStopped
	dispatchEnded
)

// dispatch hands j to an idle worker, or starts a new one while fewer than
// MaxInflight exist, or else waits for one to become idle.
func (e *engine) dispatch(jobs chan job, j job, started *int, endCh <-chan struct{}) int {
	select {
	case <-endCh:
		return dispatchEnded
	default:
	}
	select {
	case jobs <- j:
		return dispatched
	default:
	}
	if *started > 0 {
		// A worker that just finished may be on its way back to the channel:
		// give it a chance before starting another (and another connection).
		runtime.Gosched()
		select {
		case jobs <- j:
			return dispatched
		default:
		}
	}
	if *started < e.cfg.MaxInflight {
		id := *started
		*started++
		e.wg.Add(1)
		go e.openWorker(id, j, jobs)
		return dispatched
	}
	e.capHits++
	select {
	case jobs <- j:
		return dispatched
	case <-e.stopCh:
		return dispatchStopped
	case <-endCh:
		return dispatchEnded
	}
}

func (e *engine) openWorker(id int, first job, jobs <-chan job) {
	defer e.wg.Done()
	r, err := e.newRunner(id)
	if err != nil {
		e.fail(err)
		return
	}
	defer r.close()
	r.do(first.seq, first.intended, first.measured, time.Since(e.base))
	for j := range jobs {
		r.do(j.seq, j.intended, j.measured, time.Since(e.base))
	}
}

// runClosed starts Concurrency workers, each running its next operation
// when the last completes, and ends the run at the planned end.
func (e *engine) runClosed() {
	for id := range e.cfg.Concurrency {
		e.wg.Add(1)
		go e.closedWorker(id)
	}
	if e.end < 0 {
		return
	}
	t := time.NewTimer(e.end - time.Since(e.base))
	select {
	case <-t.C:
		e.stop(metrics.StopDuration)
	case <-e.stopCh:
		t.Stop()
	}
}

func (e *engine) closedWorker(id int) {
	defer e.wg.Done()
	r, err := e.newRunner(id)
	if err != nil {
		e.fail(err)
		return
	}
	defer r.close()
	var think *time.Timer
	if e.cfg.ThinkTime > 0 {
		think = time.NewTimer(time.Hour)
		think.Stop()
	}
	for !e.stopped() {
		now := time.Since(e.base)
		if e.end >= 0 && now >= e.end {
			e.stop(metrics.StopDuration)
			return
		}
		measured := now >= e.warm
		if measured && e.cfg.Requests > 0 {
			n := e.claimed.Add(1)
			if n > e.cfg.Requests {
				return
			}
			if n == e.cfg.Requests {
				e.stop(metrics.StopCount) // the others stop; this one runs the last
			}
		}
		r.do(uint64(e.cfg.ShardIndex)+(e.seq.Add(1)-1)*e.step(), -1, measured, now)
		if think != nil {
			think.Reset(e.cfg.ThinkTime)
			select {
			case <-think.C:
			case <-e.stopCh:
				think.Stop()
				return
			}
		}
	}
}

// opContext is a worker's operation context. A context.WithTimeout per
// operation costs ~700 ns and 5 allocations; instead each worker keeps one
// cancelable context and one timer (see runner), and makes a new context
// only after one was canceled. It reports the operation's deadline and, once
// timed out, DeadlineExceeded.
type opContext struct {
	context.Context
	cancel   context.CancelCauseFunc
	base     time.Time
	deadline atomic.Int64 // offset from base; 0: none (a held session)
	timedOut atomic.Bool
	cut      atomic.Bool // a held session cut off after the stop's grace
}

// Deadline reports the operation's deadline; a held session (deadline 0)
// has none.
func (c *opContext) Deadline() (time.Time, bool) {
	d := c.deadline.Load()
	if d == 0 {
		return time.Time{}, false
	}
	return c.base.Add(time.Duration(d)), true
}

func (c *opContext) Err() error {
	if err := c.Context.Err(); err != nil {
		if c.timedOut.Load() {
			return context.DeadlineExceeded
		}
		return err
	}
	return nil
}

// opSink is a worker's EventSink: messages go straight to the worker's
// shard (they may come from a driver's reader goroutine), phases are kept
// until the operation is recorded in one locked call.
type opSink struct {
	shard  *metrics.Shard
	mask   uint8
	phases [metrics.MaxPhases]time.Duration
}

func (s *opSink) MessageSent(n int)                     { s.shard.MessageSent(n) }
func (s *opSink) MessageReceived(latency time.Duration) { s.shard.MessageReceived(latency) }
func (s *opSink) MessageError(kind metrics.ErrKind)     { s.shard.MessageError(kind) }
func (s *opSink) Phase(p Phase, d time.Duration) {
	if p < NumPhases && int(p) < metrics.MaxPhases {
		s.phases[p] += d
		s.mask |= 1 << p
	}
}

// runner is one engine worker: a driver Worker, its Op, sink, context and
// timeout timer, used by one goroutine.
//
// The timeout timer is not re-armed per operation (Reset and Stop cost
// ~150 ns with their clock read on this machine). An operation only
// publishes its deadline; the timer, armed by the first operation after an
// idle spell, fires, cancels the operation if its deadline has passed, and
// otherwise re-arms itself for the current operation's deadline — so it
// fires about once per Timeout per busy worker, and disarms when it finds
// the worker idle.
type runner struct {
	e     *engine
	w     Worker
	op    Op
	sink  opSink
	shard *metrics.Shard

	mu       sync.Mutex    // guards the fields below against the timer callback
	deadline time.Duration // current operation's deadline offset; 0: idle or held
	armed    bool
	held     bool // the current operation is a held session (Op.Hold)
	ctx      *opContext
	timer    *time.Timer
}

func (e *engine) newRunner(id int) (*runner, error) {
	w, err := e.d.NewWorker(e.hardCtx, id)
	if err != nil {
		return nil, fmt.Errorf("%s driver: worker %d: %w", e.d.Protocol(), id, err)
	}
	r := &runner{e: e, w: w, shard: e.rec.Shard(id)}
	r.op.base = e.base
	r.op.closing = e.closing
	r.op.r = r
	r.sink.shard = r.shard
	r.renew()
	r.timer = time.AfterFunc(time.Hour, r.onTimer)
	r.timer.Stop()
	return r, nil
}

func (r *runner) renew() {
	inner, cancel := context.WithCancelCause(r.e.hardCtx)
	c := &opContext{Context: inner, cancel: cancel, base: r.e.base}
	r.mu.Lock()
	r.ctx = c
	r.mu.Unlock()
}

// onTimer runs on the timer's goroutine.
func (r *runner) onTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deadline == 0 {
		r.armed = false
		return
	}
	now := time.Since(r.e.base)
	if now < r.deadline {
		r.timer.Reset(r.deadline - now)
		return
	}
	r.armed = false
	r.deadline = 0
	r.ctx.timedOut.Store(true)
	r.ctx.cancel(errOpTimeout)
}

// hold makes the current operation a held session: no deadline, and
// registered so that cutSessions can reach it.
func (r *runner) hold() {
	r.mu.Lock()
	if r.held {
		r.mu.Unlock()
		return
	}
	r.held = true
	r.deadline = 0 // the timer disarms when it next fires
	r.ctx.deadline.Store(0)
	ctx := r.ctx
	r.mu.Unlock()
	e := r.e
	e.sessMu.Lock()
	if e.sessCut {
		ctx.cut.Store(true)
		ctx.cancel(errSessionCut)
	} else {
		e.held[r] = struct{}{}
	}
	e.sessMu.Unlock()
}

// release ends the current operation's held session, if any.
func (r *runner) release() {
	r.mu.Lock()
	held := r.held
	r.held = false
	r.mu.Unlock()
	if held {
		r.e.sessMu.Lock()
		delete(r.e.held, r)
		r.e.sessMu.Unlock()
	}
}

// cutSessions cancels every held session, and any session held from now on:
// the run stopped Grace ago and they did not close.
func (e *engine) cutSessions() {
	e.sessMu.Lock()
	defer e.sessMu.Unlock()
	e.sessCut = true
	for r := range e.held {
		r.mu.Lock()
		r.ctx.cut.Store(true)
		r.ctx.cancel(errSessionCut)
		r.mu.Unlock()
	}
	clear(e.held)
}

func (r *runner) close() {
	r.mu.Lock()
	r.deadline = 0
	r.timer.Stop()
	r.ctx.cancel(context.Canceled)
	r.mu.Unlock()
	r.w.Close()
}

// do runs one operation that starts now (start, an offset read by the
// caller) and records it when measured. intended < 0 marks the closed model
// (no schedule).
func (r *runner) do(seq uint64, intended time.Duration, measured bool, start time.Duration) {
	e := r.e
	op := &r.op
	op.seq, op.marked, op.sentAt = seq, false, 0
	op.sink = nil
	if measured {
		r.sink.mask = 0
		op.sink = &r.sink
	}
	ctx := r.ctx
	dl := start + e.cfg.Timeout
	ctx.deadline.Store(int64(dl))
	r.mu.Lock()
	r.deadline = dl
	if !r.armed {
		r.armed = true
		r.timer.Reset(e.cfg.Timeout)
	}
	r.mu.Unlock()

	out := r.w.Do(ctx, op)

	end := time.Since(e.base)
	r.release()
	r.mu.Lock()
	r.deadline = 0
	r.mu.Unlock()
	timedOut, cut := ctx.timedOut.Load(), ctx.cut.Load()
	if timedOut || cut || e.hardCtx.Err() != nil {
		r.renew()
	}
	if !measured {
		return
	}
	if out.Err != metrics.OK {
		switch {
		case timedOut:
			out.Err = metrics.ErrTimeout
		case cut || e.hardCtx.Err() != nil:
			out.Err = metrics.ErrCanceled
		}
	}
	sent := start
	if op.marked {
		sent = op.sentAt
	}
	smp := metrics.Sample{
		Err: out.Err, Cache: out.Cache, BytesSent: out.BytesSent, BytesReceived: out.BytesReceived,
		Op: out.Op, Service: end - sent, PhaseMask: r.sink.mask, Phases: r.sink.phases,
	}
	if intended >= 0 {
		smp.Latency, smp.Lag, smp.HasLag = end-intended, sent-intended, true
	} else {
		smp.Latency = smp.Service
	}
	if smp.PhaseMask != 0 {
		r.sink.phases = [metrics.MaxPhases]time.Duration{}
	}
	r.shard.RecordOp(&smp)
	if out.Err != metrics.OK && out.Err != metrics.ErrCanceled && e.cfg.MaxErrors > 0 {
		if e.errCount.Add(1) == e.cfg.MaxErrors {
			e.stop(metrics.StopErrorBudget)
		}
	}
}
