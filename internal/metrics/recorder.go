package metrics

import (
	"fmt"
	"sync"
	"time"
)

// MaxPhases is how many per-operation phases a Recorder can time.
const MaxPhases = 8

// DefaultLateThreshold is the schedule lag above which a send counts as late
// (MEASUREMENT.md: "more than 1 ms late").
const DefaultLateThreshold = time.Millisecond

// Distributions a Recorder keeps, in shard and total arrays.
const (
	hLatency = iota
	hService
	hLag
	hError
	hMessage
	hPhase0
	numHists = hPhase0 + MaxPhases
)

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Shards is the number of independently locked recording shards. Workers
	// are spread over them by id. Default (<= 0): 1.
	Shards int
	// PhaseNames names the phases a driver may time, indexed by phase number
	// (at most MaxPhases). They become "phase_<name>" histogram keys and the
	// keys of Result.Phases. Default: none (phases are not recorded).
	PhaseNames []string
	// LateThreshold is the schedule lag above which a send is late.
	// Default (0): DefaultLateThreshold.
	LateThreshold time.Duration
	// OperationNames names the operations a driver tells apart (Sample.Op
	// i+1 is OperationNames[i], at most MaxOperations); each gets its own
	// counters and success latency histogram, Result.Operations. Default:
	// none.
	OperationNames []string
	// IntervalHists makes Collect return each interval's latency histogram
	// encoded (Interval.Hist), for timelines that merge exactly. Default
	// false.
	IntervalHists bool
}

// Sample is what one finished operation contributes to the record.
type Sample struct {
	// Latency is completion − intended start (the closed model: service time).
	Latency time.Duration
	// Service is completion − actual send.
	Service time.Duration
	// Lag is actual send − intended start; only used when HasLag.
	Lag time.Duration
	// HasLag is true in the open model, where operations have a schedule.
	HasLag bool
	// Err is the operation's error kind, OK on success.
	Err ErrKind
	// Cache is the client's reading of the response's cache status.
	Cache CacheStatus
	// BytesSent and BytesReceived are payload bytes as the driver saw them.
	BytesSent, BytesReceived int64
	// PhaseMask has bit i set when Phases[i] was reported.
	PhaseMask uint8
	// Phases holds per-phase durations, indexed like RecorderConfig.PhaseNames.
	Phases [MaxPhases]time.Duration
	// Op is 1 + the index of the operation's name in
	// RecorderConfig.OperationNames; 0 (or out of range) records it under
	// no name.
	Op int
}

// kindCount is one error kind's count. Shards keep a short slice of them
// instead of a map: after a kind's first sighting, counting it allocates
// nothing, and the handful of kinds a run sees makes a linear scan cheap.
type kindCount struct {
	kind ErrKind
	n    int64
}

type counters struct {
	ok, errors, late, lagged int64
	kinds                    []kindCount
	cache                    [5]int64 // indexed by CacheStatus
	bytesSent, bytesRecv     int64
	msgSent, msgRecv         int64
	msgErrors                int64
	msgKinds                 []kindCount
}

func (c *counters) addKind(k ErrKind, n int64) { c.kinds = addKindTo(c.kinds, k, n) }

func addKindTo(kinds []kindCount, k ErrKind, n int64) []kindCount {
	for i := range kinds {
		if kinds[i].kind == k {
			kinds[i].n += n
			return kinds
		}
	}
	return append(kinds, kindCount{k, n})
}

// addAndZero adds s into c and zeroes s, keeping s's kind slots so the next
// sighting of a kind does not allocate.
func (c *counters) addAndZero(s *counters) {
	c.ok += s.ok
	c.errors += s.errors
	c.late += s.late
	c.lagged += s.lagged
	for i := range s.kinds {
		if s.kinds[i].n != 0 {
			c.addKind(s.kinds[i].kind, s.kinds[i].n)
			s.kinds[i].n = 0
		}
	}
	for i := range s.cache {
		c.cache[i] += s.cache[i]
		s.cache[i] = 0
	}
	c.bytesSent += s.bytesSent
	c.bytesRecv += s.bytesRecv
	c.msgSent += s.msgSent
	c.msgRecv += s.msgRecv
	c.msgErrors += s.msgErrors
	for i := range s.msgKinds {
		if s.msgKinds[i].n != 0 {
			c.msgKinds = addKindTo(c.msgKinds, s.msgKinds[i].kind, s.msgKinds[i].n)
			s.msgKinds[i].n = 0
		}
	}
	kinds, msgKinds := s.kinds, s.msgKinds
	*s = counters{kinds: kinds, msgKinds: msgKinds}
}

// Shard is one recording shard: interval histograms and counters behind an
// uncontended mutex. Several workers may share a shard; each call holds the
// lock only for a few histogram increments.
type Shard struct {
	mu   sync.Mutex
	late time.Duration
	h    [numHists]*Histogram
	c    counters
	ops  []shardOp // one per RecorderConfig.OperationNames
	_    [64]byte  // keep neighbouring shards' locks off one cache line
}

// shardOp is one named operation's interval data in a shard.
type shardOp struct {
	c opCounters
	h *Histogram // success latency, allocated on first use
}

func (s *Shard) hist(i int) *Histogram {
	h := s.h[i]
	if h == nil {
		h = NewHistogram() // once per shard and distribution, on first use
		s.h[i] = h
	}
	return h
}

// RecordOp records one finished operation. Errors never enter the latency,
// service-time or phase histograms: their latency goes to the error
// histogram, except ErrCanceled (an operation the run's stop cut short),
// which is only counted. Schedule lag is recorded for every operation, failed or not,
// because it describes the generator, not the target.
func (s *Shard) RecordOp(smp *Sample) {
	s.mu.Lock()
	if smp.HasLag {
		s.hist(hLag).RecordValue(Micros(smp.Lag))
		s.c.lagged++
		if smp.Lag > s.late {
			s.c.late++
		}
	}
	if smp.Err == OK {
		s.c.ok++
		s.hist(hLatency).RecordValue(Micros(smp.Latency))
		s.hist(hService).RecordValue(Micros(smp.Service))
		if m := smp.PhaseMask; m != 0 {
			for i := 0; i < MaxPhases; i++ {
				if m&(1<<i) != 0 {
					s.hist(hPhase0 + i).RecordValue(Micros(smp.Phases[i]))
				}
			}
		}
	} else {
		s.c.errors++
		if smp.Err != ErrCanceled { // cut short by the run's stop: not a latency of the target
			s.hist(hError).RecordValue(Micros(smp.Latency))
		}
		s.c.addKind(smp.Err, 1)
	}
	if i := smp.Op - 1; i >= 0 && i < len(s.ops) {
		o := &s.ops[i]
		if smp.Err == OK {
			o.c.ok++
			if o.h == nil {
				o.h = NewHistogram() // once per shard and operation
			}
			o.h.RecordValue(Micros(smp.Latency))
		} else {
			o.c.errors++
			found := false
			for j := range o.c.kinds {
				if o.c.kinds[j].kind == smp.Err {
					o.c.kinds[j].n++
					found = true
					break
				}
			}
			if !found {
				o.c.kinds = append(o.c.kinds, kindCount{smp.Err, 1})
			}
		}
	}
	if smp.Cache < CacheStatus(len(s.c.cache)) {
		s.c.cache[smp.Cache]++
	}
	s.c.bytesSent += smp.BytesSent
	s.c.bytesRecv += smp.BytesReceived
	s.mu.Unlock()
}

// MessageSent counts n messages sent by a stream or socket operation.
func (s *Shard) MessageSent(n int) {
	s.mu.Lock()
	s.c.msgSent += int64(n)
	s.mu.Unlock()
}

// MessageReceived records one received message and its latency.
func (s *Shard) MessageReceived(latency time.Duration) {
	s.mu.Lock()
	s.c.msgRecv++
	s.hist(hMessage).RecordValue(Micros(latency))
	s.mu.Unlock()
}

// MessageError counts one message of a stream or socket operation that
// failed on its own (an error reply, no reply, a malformed frame) while the
// operation itself went on.
func (s *Shard) MessageError(kind ErrKind) {
	s.mu.Lock()
	s.c.msgErrors++
	s.c.msgKinds = addKindTo(s.c.msgKinds, kind, 1)
	s.mu.Unlock()
}

// Interval is what Recorder.Collect gathered since the previous Collect.
type Interval struct {
	OK, Errors int64
	// P50 and P99 are the interval's latency percentiles in microseconds
	// (0 when no operation succeeded in the interval).
	P50, P99 int64
	// MsgSent, MsgReceived and MsgErrors count the interval's stream or
	// socket messages; MsgP50 and MsgP99 are the interval's message latency
	// percentiles in microseconds (0 when none was received).
	MsgSent, MsgReceived, MsgErrors int64
	MsgP50, MsgP99                  int64
	// Late counts late sends in the interval; Lagged counts sends with a
	// schedule.
	Late, Lagged int64
	// Hist is the interval's latency histogram, encoded (EncodeHistogram),
	// when RecorderConfig.IntervalHists is set and the interval has data.
	Hist string
}

// Recorder records a run's operations into a fixed set of shards and merges
// them, once per Collect, into run totals. Its memory is bounded by the number
// of shards and distributions in use, not by run length or worker count.
type Recorder struct {
	cfg    RecorderConfig
	shards []Shard

	mu       sync.Mutex // serializes Collect and Fill
	spare    [numHists]*Histogram
	interval *Histogram // latency of the current interval
	enc      histEncoder
	imsg     *Histogram // message latency of the current interval; nil until a message is seen
	total    [numHists]*Histogram
	tot      counters
	scratch  counters

	// Named operations: spares, totals and counters, indexed like
	// cfg.OperationNames.
	opSpare []*Histogram
	opTotal []*Histogram
	opTot   []opCounters
}

// NewRecorder returns a Recorder with cfg.Shards shards.
func NewRecorder(cfg RecorderConfig) *Recorder {
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	if len(cfg.PhaseNames) > MaxPhases {
		cfg.PhaseNames = cfg.PhaseNames[:MaxPhases]
	}
	if len(cfg.OperationNames) > MaxOperations {
		cfg.OperationNames = cfg.OperationNames[:MaxOperations]
	}
	if cfg.LateThreshold <= 0 {
		cfg.LateThreshold = DefaultLateThreshold
	}
	r := &Recorder{cfg: cfg, shards: make([]Shard, cfg.Shards), interval: NewHistogram()}
	n := len(cfg.OperationNames)
	r.opSpare, r.opTotal, r.opTot = make([]*Histogram, n), make([]*Histogram, n), make([]opCounters, n)
	for i := range r.shards {
		r.shards[i].late = cfg.LateThreshold
		if n > 0 {
			r.shards[i].ops = make([]shardOp, n)
		}
	}
	return r
}

// Shards is the number of shards.
func (r *Recorder) Shards() int { return len(r.shards) }

// Shard returns the shard for worker id; workers with equal id modulo the
// shard count share one.
func (r *Recorder) Shard(workerID int) *Shard {
	if workerID < 0 {
		workerID = -workerID
	}
	return &r.shards[workerID%len(r.shards)]
}

// Collect moves every shard's interval data into the run totals and returns
// the interval's figures. Each shard is locked only long enough to swap its
// histograms for empty spares and take its counters; merging happens outside
// the lock, and the swapped-out histograms are reset and become the next
// shard's spares, so Collect allocates only the first time a distribution
// is seen.
func (r *Recorder) Collect() Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.collectLocked()
}

func (r *Recorder) collectLocked() Interval {
	var iv Interval
	resetHist(r.interval)
	if r.imsg != nil {
		resetHist(r.imsg)
	}
	for si := range r.shards {
		sh := &r.shards[si]
		var used [numHists]bool
		for i := range sh.ops {
			if r.opSpare[i] == nil {
				r.opSpare[i] = NewHistogram() // before the shard lock; once per operation
			}
		}
		// Spares are allocated outside the shard lock; which are missing is
		// read under it (a recording goroutine may be creating one of the
		// shard's histograms right now), until none is.
		sh.mu.Lock()
		for {
			var need [numHists]bool
			missing := false
			for m := range numHists {
				if r.spare[m] == nil && sh.h[m] != nil {
					need[m], missing = true, true
				}
			}
			if !missing {
				break
			}
			sh.mu.Unlock()
			for m := range numHists {
				if need[m] {
					r.spare[m] = NewHistogram()
				}
			}
			sh.mu.Lock()
		}
		for m := range numHists {
			if sh.h[m] != nil && sh.h[m].TotalCount() > 0 {
				sh.h[m], r.spare[m] = r.spare[m], sh.h[m]
				used[m] = true
			}
		}
		r.scratch.addAndZero(&sh.c)
		var opUsed uint64 // bit i: operation i's histogram was swapped out
		for i := range sh.ops {
			o := &sh.ops[i]
			r.opTot[i].addAndZero(&o.c)
			if o.h != nil && o.h.TotalCount() > 0 {
				o.h, r.opSpare[i] = r.opSpare[i], o.h
				opUsed |= 1 << i
			}
		}
		sh.mu.Unlock()
		for i := range sh.ops {
			if opUsed&(1<<i) == 0 {
				continue
			}
			if r.opTotal[i] == nil {
				r.opTotal[i] = NewHistogram()
			}
			r.opTotal[i].Merge(r.opSpare[i])
			resetHist(r.opSpare[i])
		}
		for m := range numHists {
			if !used[m] {
				continue
			}
			h := r.spare[m]
			switch m {
			case hLatency:
				r.interval.Merge(h)
			case hMessage:
				if r.imsg == nil {
					r.imsg = NewHistogram()
				}
				r.imsg.Merge(h)
			default:
				if r.total[m] == nil {
					r.total[m] = NewHistogram()
				}
				r.total[m].Merge(h)
			}
			resetHist(h)
		}
	}
	iv.OK, iv.Errors = r.scratch.ok, r.scratch.errors
	iv.Late, iv.Lagged = r.scratch.late, r.scratch.lagged
	iv.MsgSent, iv.MsgReceived, iv.MsgErrors = r.scratch.msgSent, r.scratch.msgRecv, r.scratch.msgErrors
	r.tot.addAndZero(&r.scratch)
	if r.imsg != nil && r.imsg.TotalCount() > 0 {
		iv.MsgP50 = r.imsg.ValueAtQuantile(50)
		iv.MsgP99 = r.imsg.ValueAtQuantile(99)
		if r.total[hMessage] == nil {
			r.total[hMessage] = NewHistogram()
		}
		r.total[hMessage].Merge(r.imsg)
	}
	if r.interval.TotalCount() > 0 {
		iv.P50 = r.interval.ValueAtQuantile(50)
		iv.P99 = r.interval.ValueAtQuantile(99)
		if r.cfg.IntervalHists {
			iv.Hist, _ = r.enc.encode(r.interval)
		}
		if r.total[hLatency] == nil {
			r.total[hLatency] = NewHistogram()
		}
		r.total[hLatency].Merge(r.interval)
	}
	return iv
}

// HistogramCount is the number of histograms the Recorder has allocated; it
// depends on shards and distributions in use, never on run length.
func (r *Recorder) HistogramCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 1 // interval latency
	if r.imsg != nil {
		n++
	}
	for m := range numHists {
		if r.spare[m] != nil {
			n++
		}
		if r.total[m] != nil {
			n++
		}
	}
	for si := range r.shards {
		sh := &r.shards[si]
		sh.mu.Lock()
		for m := range numHists {
			if sh.h[m] != nil {
				n++
			}
		}
		for i := range sh.ops {
			if sh.ops[i].h != nil {
				n++
			}
		}
		sh.mu.Unlock()
	}
	for i := range r.opSpare {
		if r.opSpare[i] != nil {
			n++
		}
		if r.opTotal[i] != nil {
			n++
		}
	}
	return n
}

// Totals are the run's counters so far (as of the last Collect).
type Totals struct {
	OK, Errors, Late, Lagged int64
}

// Totals returns the counters merged so far.
func (r *Recorder) Totals() Totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Totals{OK: r.tot.ok, Errors: r.tot.errors, Late: r.tot.late, Lagged: r.tot.lagged}
}

// Fill collects what is left in the shards and writes the recorded sections
// of res: requests, latency, service time, schedule lag, error latency, late
// sends, histograms, phases, cache (without Source), messages, message
// latency and bytes. The rest (schema, timing, model, timeline, generator,
// connections) is the caller's.
func (r *Recorder) Fill(res *Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectLocked()
	t := &r.tot
	kinds := make(map[string]int64, len(t.kinds))
	for _, k := range t.kinds {
		if k.n != 0 {
			kinds[string(k.kind)] = k.n
		}
	}
	res.Requests = Requests{Total: t.ok + t.errors, OK: t.ok, Errors: t.errors, ErrorsByKind: kinds}
	lat := r.total[hLatency]
	if lat == nil {
		lat = NewHistogram()
		r.total[hLatency] = lat
	}
	svc := r.total[hService]
	if svc == nil {
		svc = NewHistogram()
		r.total[hService] = svc
	}
	res.Latency = Summarize(lat)
	res.ServiceTime = Summarize(svc)
	res.ScheduleLag = nil
	res.LateSends = LateSends{}
	if t.lagged > 0 {
		res.ScheduleLag = SummaryPtr(r.total[hLag])
		res.LateSends = LateSends{Count: t.late, Fraction: float64(t.late) / float64(t.lagged)}
	}
	res.ErrorLatency = SummaryPtr(r.total[hError])
	res.MessageLatency = SummaryPtr(r.total[hMessage])
	res.Messages = nil
	if t.msgSent > 0 || t.msgRecv > 0 || t.msgErrors > 0 {
		res.Messages = &Messages{Sent: t.msgSent, Received: t.msgRecv, Errors: t.msgErrors}
		for _, k := range t.msgKinds {
			if k.n != 0 {
				if res.Messages.ErrorsByKind == nil {
					res.Messages.ErrorsByKind = make(map[string]int64, len(t.msgKinds))
				}
				res.Messages.ErrorsByKind[string(k.kind)] = k.n
			}
		}
	}
	res.Bytes = nil
	if t.bytesSent > 0 || t.bytesRecv > 0 {
		res.Bytes = &Bytes{Sent: t.bytesSent, Received: t.bytesRecv}
	}
	res.Cache = NewCache(t.cache[CacheHit], t.cache[CacheMiss], t.cache[CacheRevalidated], t.cache[CacheOther], "")

	res.Histograms = make(map[string]string)
	put := func(name string, h *Histogram, always bool) error {
		if h == nil || (!always && h.TotalCount() == 0) {
			return nil
		}
		s, err := EncodeHistogram(h)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Histograms[name] = s
		return nil
	}
	if err := put(HistLatency, lat, true); err != nil {
		return err
	}
	if err := put(HistServiceTime, svc, true); err != nil {
		return err
	}
	if err := put(HistScheduleLag, r.total[hLag], false); err != nil {
		return err
	}
	if err := put(HistError, r.total[hError], false); err != nil {
		return err
	}
	if err := put(HistMessageLatency, r.total[hMessage], false); err != nil {
		return err
	}
	if err := r.fillOperations(res); err != nil {
		return err
	}
	res.Phases = nil
	for i, name := range r.cfg.PhaseNames {
		h := r.total[hPhase0+i]
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if res.Phases == nil {
			res.Phases = make(map[string]Summary)
		}
		res.Phases[name] = Summarize(h)
		if err := put(PhaseHistPrefix+name, h, false); err != nil {
			return err
		}
	}
	return nil
}

// PhaseHistPrefix prefixes a phase's name in Result.Histograms, e.g.
// "phase_ttfb", so merges can recompute Result.Phases exactly.
const PhaseHistPrefix = "phase_"
