package server

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultGCHeadroom is the heap growth a serve process allows between
// garbage collections when its live heap is small (--gc-headroom).
const DefaultGCHeadroom = 64 << 20

// A server's live heap is mostly its dataset and its libraries' tables (a
// few MiB for `serve rest` on the small dataset), and every request leaves
// a few KiB of garbage (net/http's request, header maps, context; the
// spine's Exchange). At Go's default GOGC=100 the collector then runs
// every few MiB of allocation — every ~1,400 requests — and each cycle
// marks the whole live heap again: measured at ~1.3 µs of CPU per request
// on a cached GET, about 5 % of the request. A bare net/http server with
// an empty heap pays the same number of cycles but marks almost nothing.
//
// GC headroom gives the heap a floor of growth: a cycle starts once the
// heap has grown by about max(live × GOGC/100, headroom) — the
// "min heap" that memory ballasts were used for, and what a Go service in
// production gets by setting GOGC for its memory budget. With a live heap
// above headroom × 100/GOGC (64 MiB at the defaults) nothing changes:
// GOGC's pacing already allows more. The cost is memory: up to headroom
// bytes of garbage more than GOGC=100 would keep (RSS a few tens of MiB
// higher at rest under load), never more.
//
// The percent follows the live heap: after each cycle a cleanup on a
// sentinel object reads the live heap (runtime/metrics) and sets
// debug.SetGCPercent to max(base, headroom × 100 / live), base being the
// GOGC the process started with.

// gcPercentFor is the GOGC that gives a live heap of live bytes at least
// headroom bytes of growth, never below base (the process's own GOGC) and
// at most maxGCPercent.
func gcPercentFor(live, headroom int64, base int) int {
	if live <= 0 || headroom <= 0 {
		return base
	}
	p := int64(maxGCPercent)
	if headroom <= math.MaxInt64/100 {
		p = headroom * 100 / live
	}
	if p > maxGCPercent {
		p = maxGCPercent
	}
	if p < int64(base) {
		return base
	}
	return int(p)
}

// maxGCPercent bounds the percent on an almost empty heap (a test binary,
// a server before it loaded anything).
const maxGCPercent = 100_000

// gcPacer keeps GOGC at gcPercentFor(live heap) after every cycle.
type gcPacer struct {
	headroom int64
	base     int
	percent  int // last set; only the cleanup goroutine and start touch it
	stopped  atomic.Bool
	mu       sync.Mutex // serializes cycle and stop
	live     []metrics.Sample
}

// gcSentinel is the object whose collection marks a finished cycle. It
// holds a pointer so the allocator never packs it with other tiny objects
// (which could keep it alive past a cycle).
type gcSentinel struct{ _ *gcPacer }

// startGCPacer starts pacing with headroom bytes and returns the function
// that stops it and restores the process's GOGC. With GOGC off (negative)
// or headroom <= 0 it does nothing and returns ok false.
func startGCPacer(headroom int64) (stop func(), ok bool) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if headroom <= 0 || base < 0 {
		return func() {}, false
	}
	p := &gcPacer{headroom: headroom, base: base, percent: base,
		live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.cycle()
	return p.stop, true
}

// cycle sets the percent for the live heap the last cycle left and arms
// the sentinel for the next one.
func (p *gcPacer) cycle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped.Load() {
		return
	}
	metrics.Read(p.live)
	if p.live[0].Value.Kind() == metrics.KindUint64 {
		live := p.live[0].Value.Uint64()
		if live > math.MaxInt64 {
			live = math.MaxInt64
		}
		if pct := gcPercentFor(int64(live), p.headroom, p.base); pct != p.percent {
			debug.SetGCPercent(pct)
			p.percent = pct
		}
	}
	runtime.AddCleanup(&gcSentinel{}, func(p *gcPacer) { p.cycle() }, p)
}

func (p *gcPacer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(p.base)
}

var gcPaceOnce struct {
	sync.Once
	on bool
}

// PaceGC gives the process's garbage collector headroom bytes of heap
// growth between cycles at least (see DefaultGCHeadroom; <= 0: Go's own
// pacing). It is process-wide, like GOGC, and applies once: later calls
// do nothing and report whether the first one started pacing. Callers
// leave it off when GOGC or GOMEMLIMIT is set in the environment: an
// operator's own setting wins.
func PaceGC(headroom int64) bool {
	gcPaceOnce.Do(func() {
		_, gcPaceOnce.on = startGCPacer(headroom)
	})
	return gcPaceOnce.on
}
