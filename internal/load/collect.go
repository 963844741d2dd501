package load

import (
	"fmt"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// collect is the collector goroutine: at every Interval boundary it merges
// the recorder's shards, appends a timeline point and reports progress.
// Boundaries are counted from the start of the measured phase (warm-up gets
// progress only). Once the measured phase has ended, the collector stops
// emitting points: the last point is made by the run after every in-flight
// operation finished, so completions of the drain are counted there.
func (e *engine) collect(quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	iv := e.cfg.Interval
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sleepUntil := func(t time.Duration) bool {
		timer.Reset(t - time.Since(e.base))
		select {
		case <-timer.C:
			return true
		case <-quit:
			timer.Stop()
			return false
		}
	}
	for t := iv; t < e.warm; t += iv {
		if !sleepUntil(t) {
			return
		}
		if e.cfg.Progress != nil {
			e.cfg.Progress(Progress{Elapsed: t, Total: e.warm, Warmup: true})
		}
	}
	if e.warm > 0 {
		if !sleepUntil(e.warm) {
			return
		}
		e.snapWarm()
	}
	e.lastTick = e.warm
	for t := e.warm + iv; ; t += iv {
		if !sleepUntil(t) {
			return
		}
		if e.ended(t) {
			<-quit
			return
		}
		in := e.rec.Collect()
		e.points = append(e.points, e.point(in, e.lastTick, t, t-e.lastTick, false))
		e.lastTick = t
		if e.cfg.Progress != nil {
			tot := e.rec.Totals()
			total := time.Duration(0)
			if e.end >= 0 {
				total = e.end - e.warm
			}
			e.cfg.Progress(Progress{
				Elapsed: t - e.warm, Total: total,
				Done: tot.OK + tot.Errors, Errors: tot.Errors,
				RPS: float64(in.OK) / iv.Seconds(), P99: time.Duration(in.P99) * time.Microsecond,
				MsgRPS: float64(in.MsgReceived) / iv.Seconds(),
			})
		}
	}
}

// ended reports whether the measured phase ended at or before offset t.
func (e *engine) ended(t time.Duration) bool {
	if e.end >= 0 && t >= e.end {
		return true
	}
	s := e.stopAt.Load()
	return s >= 0 && time.Duration(s) <= t
}

// point makes the timeline point for [from, to] (offsets), with rates per
// second over length. The offered rate is the schedule's (open model; capped
// at what was dispatched when final) or the completions (closed model, which
// has no schedule).
func (e *engine) point(in metrics.Interval, from, to, length time.Duration, final bool) metrics.Point {
	secs := length.Seconds()
	p := metrics.Point{
		TS:     (to - e.warm).Seconds(),
		Errors: in.Errors, P50US: in.P50, P99US: in.P99, Hist: in.Hist,
		MsgErrors: in.MsgErrors, MsgP50US: in.MsgP50, MsgP99US: in.MsgP99,
	}
	if secs <= 0 {
		return p
	}
	p.CompletedRPS = float64(in.OK) / secs
	p.MsgSentRPS = float64(in.MsgSent) / secs
	p.MsgReceivedRPS = float64(in.MsgReceived) / secs
	if e.open {
		a, b := e.planned(from), e.planned(to)
		if final {
			n := float64(e.dispatched.Load())
			a, b = min(a, n), min(b, n)
		}
		p.OfferedRPS = max(b-a, 0) / secs
	} else {
		p.OfferedRPS = float64(in.OK+in.Errors) / secs
	}
	return p
}

// cum is the number of operations scheduled by offset t, capped at
// Config.Arrivals when set.
func (e *engine) cum(t time.Duration) float64 {
	n := e.sched.cum(t)
	if a := e.cfg.Arrivals; a > 0 {
		n = min(n, float64(a))
	}
	return n
}

// result builds the run's result once every worker is done; now is the
// offset of the last completion.
func (e *engine) result(now time.Duration) (*metrics.Result, error) {
	var end time.Duration
	switch e.reason {
	case metrics.StopDuration:
		end = e.end
	case metrics.StopCount:
		end = now
	default:
		end = time.Duration(e.stopAt.Load())
	}
	// The last point covers the rest of the measured phase plus the drain.
	in := e.rec.Collect()
	if end > e.warm {
		if length := end - e.lastTick; length > e.cfg.Interval/1000 {
			e.points = append(e.points, e.point(in, e.lastTick, end, length, true))
		} else if n := len(e.points); n > 0 && in.OK+in.Errors > 0 {
			// The stop landed on a boundary that was already emitted.
			last := &e.points[n-1]
			secs := e.cfg.Interval.Seconds()
			last.CompletedRPS += float64(in.OK) / secs
			last.Errors += in.Errors
			last.P50US, last.P99US = max(last.P50US, in.P50), max(last.P99US, in.P99)
			if last.Hist != "" || in.Hist != "" {
				if h, err := metrics.MergeEncoded(last.Hist, in.Hist); err == nil {
					last.Hist = h.Encoded
					last.P50US, last.P99US = h.P50, h.P99
				}
			}
			last.MsgSentRPS += float64(in.MsgSent) / secs
			last.MsgReceivedRPS += float64(in.MsgReceived) / secs
			last.MsgErrors += in.MsgErrors
			last.MsgP50US, last.MsgP99US = max(last.MsgP50US, in.MsgP50), max(last.MsgP99US, in.MsgP99)
		}
	}
	measured := max(end-e.warm, 0)
	res := &metrics.Result{
		Schema:     metrics.Schema,
		StartedAt:  e.base.Add(e.warm).Round(0).UTC(),
		DurationS:  measured.Seconds(),
		Protocol:   e.d.Protocol(),
		Target:     e.d.Target(),
		StopReason: e.reason,
		Timeline:   e.points,
	}
	if res.Timeline == nil {
		res.Timeline = []metrics.Point{}
	}
	if err := e.rec.Fill(res); err != nil {
		return nil, err
	}
	if res.Cache != nil {
		res.Cache.Source = e.cfg.CacheSource
	}
	if wc, ok := e.d.(WireCounter); ok {
		// Bytes on the wire (headers, bodies, handshakes, retries), from the
		// driver's counting connections, measured phase only. A stop inside
		// the warm-up measured nothing.
		b := wc.WireBytes()
		res.Bytes = nil
		if end > e.warm {
			b.Sent, b.Received = max(b.Sent-e.warmBytes.Sent, 0), max(b.Received-e.warmBytes.Received, 0)
			if b.Sent > 0 || b.Received > 0 {
				res.Bytes = &b
			}
		}
	}
	if res.DurationS > 0 {
		res.ThroughputRPS = float64(res.Requests.OK) / res.DurationS
	}
	if cc, ok := e.d.(ConnCounter); ok {
		res.Connections = cc.Connections()
		// Warm-up operations are not recorded, so neither are their
		// reuses (connections opened in the warm-up stay counted: the
		// measured phase uses them). A stop inside the warm-up measured
		// nothing.
		switch {
		case e.warmSeen:
			res.Connections.Reused = max(0, res.Connections.Reused-e.warmReused)
		case e.warm > 0:
			res.Connections.Reused = 0
		}
	}
	if a, ok := e.d.(Annotator); ok {
		a.Annotate(res)
	}
	if e.open {
		res.Model = metrics.Model{Kind: "open", Rate: e.cfg.Rate, MaxInflight: e.cfg.MaxInflight}
		if len(e.cfg.Stages) > 0 {
			res.Model.Rate = peakRate(e.cfg.Stages)
			res.Model.Stages = FormatStages(e.cfg.Stages)
		}
		// This shard's part (on average, when dealt by tick); merged
		// shards add up.
		res.Model.Rate /= float64(max(e.cfg.ShardCount, 1))
		if f := res.LateSends.Fraction; f > lateSaturation {
			res.Generator.Saturated = true
			cap := fmt.Sprintf("the in-flight cap of %d was reached %d times", e.cfg.MaxInflight, e.capHits)
			if e.capHits == 0 {
				cap = fmt.Sprintf("the in-flight cap of %d was never reached, so the generator itself (CPU, scheduler tick %v) or the driver's own queue was too slow", e.cfg.MaxInflight, e.cfg.Tick)
			}
			res.Generator.Note = metrics.LateNote(f, cap)
		}
		if e.reason == metrics.StopDuration {
			if unsent := int64(e.planned(e.end) - float64(e.dispatched.Load())); unsent > 0 {
				res.Generator.Saturated = true
				if res.Generator.Note != "" {
					res.Generator.Note += "; "
				}
				res.Generator.Note += metrics.UnsentNote(unsent)
			}
		}
	} else {
		res.Model = metrics.Model{Kind: "closed", Concurrency: e.cfg.Concurrency, ThinkTimeUS: e.cfg.ThinkTime.Microseconds()}
		res.Generator.Note = ClosedModelNote
	}
	return res, nil
}
