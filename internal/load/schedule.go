package load

import (
	"math"
	"time"
)

// segment is one piece of a schedule with a linear rate: from From to To
// operations per second over dur (dur < 0: unbounded, constant From).
type segment struct {
	start    time.Duration
	dur      time.Duration
	from, to float64
	n0       float64 // operations scheduled before this segment
	n        float64 // operations within it (+Inf when unbounded)
}

// schedule maps an operation's sequence number to its intended start offset
// from the run start, exactly: the cumulative number of operations N(t) is
// the integral of a piecewise-linear rate, and operation i starts at the t
// with N(t) = i. Within a ramp N is quadratic, so the offset is a square
// root; within a hold it is i/R; a segment with rate 0 schedules nothing.
type schedule struct {
	segs []segment
	end  time.Duration // offset after which nothing is scheduled; -1: never
}

// newSchedule builds the run's schedule: an optional warm-up at warmRate,
// then either the stages or a constant rate for dur (dur == 0: unbounded).
func newSchedule(warmup time.Duration, warmRate float64, stages []Stage, rate float64, dur time.Duration) *schedule {
	s := &schedule{}
	var at time.Duration
	var n float64
	add := func(d time.Duration, from, to float64) {
		seg := segment{start: at, dur: d, from: from, to: to, n0: n}
		if d < 0 {
			seg.n = math.Inf(1)
			if from == 0 {
				seg.n = 0
			}
		} else {
			seg.n = (from + to) / 2 * d.Seconds()
		}
		s.segs = append(s.segs, seg)
		at += d
		n += seg.n
	}
	if warmup > 0 {
		add(warmup, warmRate, warmRate)
	}
	if len(stages) > 0 {
		for _, st := range stages {
			add(st.Duration, st.From, st.To)
		}
	} else if dur > 0 {
		add(dur, rate, rate)
	} else {
		add(-1, rate, rate)
	}
	s.end = at
	if last := s.segs[len(s.segs)-1]; last.dur < 0 {
		s.end = -1
	}
	return s
}

// cum is N(t), the number of operations scheduled before offset t.
func (s *schedule) cum(t time.Duration) float64 {
	var n float64
	for _, seg := range s.segs {
		if t <= seg.start {
			break
		}
		x := t - seg.start
		if seg.dur >= 0 && x >= seg.dur {
			n = seg.n0 + seg.n
			continue
		}
		xs := x.Seconds()
		slope := 0.0
		if seg.dur > 0 {
			slope = (seg.to - seg.from) / seg.dur.Seconds()
		}
		return seg.n0 + seg.from*xs + slope/2*xs*xs
	}
	return n
}

// cursor walks a schedule in sequence order without searching.
type cursor struct {
	s   *schedule
	seg int
}

// offset returns operation i's intended start offset; ok is false when the
// schedule ends before it. Calls must have non-decreasing i.
func (c *cursor) offset(i uint64) (d time.Duration, ok bool) {
	fi := float64(i)
	for c.seg < len(c.s.segs) {
		seg := &c.s.segs[c.seg]
		if fi < seg.n0+seg.n {
			break
		}
		c.seg++
	}
	if c.seg >= len(c.s.segs) {
		return 0, false
	}
	seg := &c.s.segs[c.seg]
	k := fi - seg.n0
	if k <= 0 {
		return seg.start, true
	}
	// Solve from*x + slope/2*x² = k for x ≥ 0 in the cancellation-free form
	// x = 2k / (from + sqrt(from² + 2·slope·k)); slope 0 gives k/from.
	a := seg.from
	slope := 0.0
	if seg.dur > 0 {
		slope = (seg.to - seg.from) / seg.dur.Seconds()
	}
	disc := a*a + 2*slope*k
	if disc < 0 { // rounding at the very end of a ramp down
		disc = 0
	}
	x := 2 * k / (a + math.Sqrt(disc))
	off := seg.start + time.Duration(math.Round(x*1e9))
	if seg.dur >= 0 && off >= seg.start+seg.dur {
		off = seg.start + seg.dur - 1 // float rounding must not leave the segment
	}
	return off, true
}
